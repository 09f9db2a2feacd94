"""`harp predict`, `harp evaluate` and `harp report` (heavy imports stay inside the handlers)."""

from __future__ import annotations

import argparse
import json
import logging

from harp.config import load_grpo_config, read_run_config
from harp.data.images import open_image
from harp.entry import Command
from harp.errors import DataError
from harp.eval.evaluate import evaluate, format_table
from harp.eval.predict import Planner, check_task, format_result
from harp.eval.report import write_report
from harp.processes import main_process
from harp.rewards.hprm import RewardWeights

logger = logging.getLogger(__name__)


def add_evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    """The guide's flags (shared by `harp evaluate` and scripts/evaluate.py) plus a few of ours."""
    parser.add_argument(
        "--model_path",
        nargs="+",
        required=True,
        help="model directory or hub id; several evaluate side by side (e.g. base, SFT, GRPO)",
    )
    parser.add_argument("--test_data", required=True, help="test records (jsonl), e.g. data/sft_test.jsonl")
    parser.add_argument(
        "--output_path",
        default="results/evaluation.json",
        help="metrics JSON (the guide's keys, last model); other files go beside it",
    )
    parser.add_argument("--batch_size", type=int, default=4, help="samples per generation batch")
    parser.add_argument(
        "--constrained",
        action="store_true",
        help="also evaluate each model with the plan grammar enforced (shown side by side)",
    )
    parser.add_argument("--max_new_tokens", type=int, default=128, help="completion length cap")
    parser.add_argument("--domain", default="navigate_pick_place", help="planning domain name or YAML path")
    parser.add_argument(
        "--reward_config",
        default=None,
        help="GRPO config whose reward weights score avg_reward (default: the weights recorded with "
        "the last GRPO-trained model, as its validation used them; else the guide's)",
    )
    parser.add_argument("--limit", type=int, default=None, help="evaluate only the first N records")
    parser.add_argument("--runs", default="outputs/*/runs", help="TensorBoard run folders for the report's curves")
    parser.add_argument("--no_report", action="store_true", help="skip report.md and the plots")
    parser.add_argument(
        "--blank_images",
        action="store_true",
        help="replace every image by a uniform grey one (a control: image-only tasks should fall "
        "to chance if the answers come from the picture)",
    )


def note_grammar_training(model_paths: list[str], constrained: bool) -> None:
    """A model GRPO trained through the plan grammar learnt its choices under the grammar's mask (and
    only there: measured, its refusals were worse decoded freely, docs/results.md §7): say so when it
    is decoded without the grammar."""
    if constrained:
        return
    for path in model_paths:
        training = (read_run_config(path) or {}).get("training")
        if isinstance(training, dict) and training.get("constrained_sampling") is True:
            logger.warning(f"{path} was trained sampling through the plan grammar: decode it with --constrained")


def run_evaluate(args) -> int:
    note_grammar_training(args.model_path, args.constrained)
    weights = None
    if args.reward_config:
        weights = RewardWeights.from_config(load_grpo_config(args.reward_config, check_files=False).reward)
    results = evaluate(
        args.model_path,
        args.test_data,
        args.output_path,
        args.batch_size,
        constrained=args.constrained,
        max_new_tokens=args.max_new_tokens,
        domain=args.domain,
        weights=weights,
        limit=args.limit,
        report=not args.no_report,
        runs=args.runs,
        blank_images=args.blank_images,
    )

    if main_process():  # under a multi-process launch, once
        print(format_table(results))
        print(f"wrote {args.output_path}")
    return 0


def run_predict(args) -> int:

    check_task(args.task)  # a bad task or image fails before the model loads
    image = open_image(args.image)
    scene = None
    if args.scene:
        try:
            with open(args.scene, encoding="utf-8") as handle:
                scene = json.load(handle)
        except (OSError, json.JSONDecodeError) as error:
            raise DataError(f"{args.scene}: cannot read the scene JSON: {error}") from None
        scene = scene.get("scene", scene)  # a whole record works too
    reference = [s.strip() for s in args.reference.split(",")] if args.reference else None
    note_grammar_training([args.model_path], args.constrained)
    planner = Planner.from_pretrained(
        args.model_path, args.domain, constrained=args.constrained, max_new_tokens=args.max_new_tokens
    )
    result = planner.plan(image, args.task, scene=scene, reference=reference)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        print(format_result(result))
    return 0


def run_report(args) -> int:
    print(write_report(args.details, runs=args.runs))
    return 0


def add_predict_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model_path", required=True, help="model directory or hub id")
    parser.add_argument("--image", required=True, help="scene image")
    parser.add_argument("--task", required=True, help='task sentence, e.g. "Put the apple into the basket"')
    parser.add_argument("--scene", help="scene JSON (or a record) to check the plan against")
    parser.add_argument(
        "--reference", help='reference plan to infer the scene from: "Navigate(Table), Pick(Apple), ..."'
    )
    parser.add_argument("--constrained", action="store_true", help="enforce the plan grammar while decoding")
    parser.add_argument("--max_new_tokens", type=int, default=128, help="completion length cap")
    parser.add_argument("--domain", default="navigate_pick_place", help="planning domain name or YAML path")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--details", default="results/evaluation_details.json", help="written by evaluate")
    parser.add_argument("--runs", default="outputs/*/runs", help="TensorBoard run folders for the curves")


# `python scripts/evaluate.py` is EVALUATE.main("evaluate.py").
EVALUATE = Command(
    "evaluate",
    "evaluate models on test records: metrics, predictions, report (the guide's 模型评估 step)",
    add_evaluate_arguments,
    run_evaluate,
)
PREDICT = Command("predict", "plan one task for one image and score the plan", add_predict_arguments, run_predict)
REPORT = Command("report", "rewrite report.md and plots from evaluation_details.json", add_report_arguments, run_report)


def register(subparsers) -> None:
    for command in (EVALUATE, PREDICT, REPORT):
        command.register(subparsers)
