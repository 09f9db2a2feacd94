"""`harp score`: score plans with H-PRM from the command line and print JSON.

One plan against a reference plan (the scene is inferred from it) or a scene file:

    harp score --task "Put the apple into the basket" \\
        --plan "Navigate(Table), Pick(Apple), Navigate(Basket), Place(Basket)" \\
        --reference '["Navigate(Table)", "Pick(Apple)", "Navigate(Basket)", "Place(Basket)"]'
    harp score --task "…" --plan "…" --scene scene.json      # a scene JSON, or a record holding one

A predictions file (jsonl rows with `prediction`, `completion` or `plan`, as `harp predict` /
`scripts/evaluate.py` write them) against the records it predicted (matched by `id`, else
`image`, else line by line):

    harp score --predictions results/predictions/final.jsonl --records data/sft_test.jsonl [--summary]

The five components, the total, the error type and every step with its score and, for a failing
step, the reason are printed. Weights: the guide's defaults, or `--config configs/grpo_config.yaml`'s
`reward` section. Pure Python: no torch import, starts fast.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path

from harp.config import load_grpo_config
from harp.data.records import read_records, text_too_long, warn_duplicates, where
from harp.entry import Command
from harp.errors import DataError, HarpError
from harp.rewards.hprm import HPRM, RewardWeights
from harp.rewards.vocabulary import COMPONENTS

PREDICTION_KEYS = ("prediction", "completion", "plan")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--plan", help="the plan to score: text, or a JSON list of step strings")
    parser.add_argument(
        "--task", default="", help="the task sentence (reported; the goal comes from the reference or scene)"
    )
    parser.add_argument("--reference", help="reference plan (JSON list or text); its scene is inferred from it")
    parser.add_argument("--scene", help="scene JSON file (or inline JSON): a scene, or a record with a 'scene' key")
    parser.add_argument("--predictions", help="jsonl of predictions to score against --records")
    parser.add_argument("--records", help="jsonl records (image, task, plan[, scene]) the predictions are for")
    parser.add_argument("--summary", action="store_true", help="with --predictions: print only the summary")
    parser.add_argument(
        "--domain", default=None, help="domain name or YAML path (default: the config's, else navigate_pick_place)"
    )
    parser.add_argument("--config", help="GRPO config whose reward weights (and model.domain) to use")


def run(args) -> int:
    weights, domain = RewardWeights(), "navigate_pick_place"
    if args.config:
        config = load_grpo_config(args.config, check_files=False)
        weights, domain = RewardWeights.from_config(config.reward), config.model.domain
    hprm = HPRM(args.domain or domain, weights)
    if args.predictions or args.records:
        if not (args.predictions and args.records):
            raise HarpError("--predictions and --records go together")
        if args.plan or args.reference or args.scene:
            raise HarpError("give either --plan (one plan) or --predictions with --records (a file), not both")
        # A record naming its domain (`harp data import-alfworld` writes "alfworld") is scored in it,
        # unless --domain or --config says which.
        named = args.domain is not None or args.config is not None
        result = score_file(hprm, args.predictions, args.records, follow_records=not named)
        print(_dumps(result["summary"] if args.summary else result))
        return 0
    if args.plan is None:
        raise HarpError("give --plan (with --reference or --scene), or --predictions with --records")
    example = {"task": args.task, "plan": _plan_arg(args.reference) if args.reference else []}
    if args.scene:
        example["scene"] = _load_scene(args.scene, hprm.domain)
    elif not args.reference:
        raise HarpError("give --reference (a plan that completes the task) or --scene (a scene JSON file)")

    for flag, task, plan in (
        ("--task", args.task, None),
        ("--plan", None, args.plan),
        ("--reference", None, args.reference),
    ):
        too_long = text_too_long(task, plan)
        if too_long:  # scoring a megabyte-long plan would take minutes
            raise HarpError(f"{flag}: {too_long.split(' ', 1)[1]}")
    breakdown = hprm.score(_plan_arg(args.plan), example)
    print(_dumps({"input": {"task": args.task, "plan": args.plan}, **breakdown.to_dict()}))
    return 0


SCORE = Command("score", "score plans with H-PRM and print JSON", add_arguments, run, description=__doc__)


def register(subparsers) -> None:
    SCORE.register(subparsers)


def score_file(hprm, predictions_path: str, records_path: str, follow_records: bool = False) -> dict:
    """Score every prediction against its record: {"summary": {...}, "samples": [...]}. With
    `follow_records`, a record's `domain` (a name or path) picks the scorer, with `hprm`'s weights."""
    records = read_records(records_path)
    predictions = read_records(predictions_path, required=())
    pairs = _match(predictions, records, predictions_path, records_path)
    scorers = {None: hprm}
    samples = []
    for prediction, record in pairs:
        named = record.get("domain") if follow_records else None
        if named is not None and named not in scorers:
            if not isinstance(named, str):
                raise DataError(f"{where(record)}: domain: expected a domain name or path, got {named!r}")
            try:
                scorers[named] = HPRM(named, hprm.weights)
            except HarpError as error:
                raise DataError(f"{where(record)}: domain: {error}") from None
        scorer = scorers[named]
        text = next((prediction[k] for k in PREDICTION_KEYS if k in prediction), None)
        if not isinstance(text, (str, list)):
            raise DataError(f"{where(prediction)}: expected a '{PREDICTION_KEYS[0]}' string (or 'completion' / 'plan')")
        too_long = text_too_long(None, text)
        if too_long:
            raise DataError(f"{where(prediction)}: {too_long.replace('plan', 'prediction', 1)}")
        try:
            breakdown = scorer.score(text, record)
        except DataError as error:
            raise DataError(f"{where(record)}: {error}") from None
        prediction_text = text if isinstance(text, str) else ", ".join(map(str, text))
        samples.append(
            {"id": record.get("id"), "input": {"task": record["task"], "plan": prediction_text}, **breakdown.to_dict()}
        )
    return {"summary": summarize_scores(samples), "samples": samples}


def summarize_scores(samples: list[dict]) -> dict:
    """Means of the components and total, completion rate and counts of error types."""
    n = len(samples)
    mean = {key: (sum(s[key] for s in samples) / n if n else 0.0) for key in (*COMPONENTS, "total")}
    errors = Counter(s["error_type"] or "none" for s in samples)
    return {
        "count": n,
        "mean": mean,
        "task_completion": (sum(s["completed"] for s in samples) / n if n else 0.0),
        "error_types": dict(sorted(errors.items())),
    }


def _match(predictions: list, records: list, predictions_path: str, records_path: str) -> list[tuple[dict, dict]]:
    """Pair predictions with records by `id`, else by `image`; by line order only when neither file
    has either key. A prediction matching no record, or two records or predictions sharing a key,
    is an error naming them (a silent fallback to line order once turned a typo into 0.0)."""
    warn_duplicates(records, records_path)
    for key in ("id", "image"):
        if not (any(key in p for p in predictions) and any(key in r for r in records)):
            continue
        index = {}
        for record in records:
            if key in record:
                if record[key] in index:
                    raise DataError(
                        f"{where(record)}: {key} {record[key]!r} is also on line {index[record[key]].line}; "
                        f"predictions are matched by {key}, so each must be unique"
                    )
                index[record[key]] = record
        unmatched = [p for p in predictions if p.get(key) not in index]
        if unmatched:
            shown = ", ".join(f"line {p.line} ({p.get(key)!r})" for p in unmatched[:5])
            more = f" and {len(unmatched) - 5} more" if len(unmatched) > 5 else ""
            raise DataError(
                f"{predictions_path}: {len(unmatched)} prediction(s) match no record of {records_path} "
                f"by '{key}': {shown}{more}"
            )
        first = {}
        for prediction in predictions:
            if prediction[key] in first:
                raise DataError(
                    f"{where(prediction)}: a second prediction for {key} {prediction[key]!r} "
                    f"(the first is on line {first[prediction[key]]})"
                )
            first[prediction[key]] = prediction.line
        return [(p, index[p[key]]) for p in predictions]
    if len(predictions) != len(records):
        raise DataError(
            f"{predictions_path}: {len(predictions)} predictions but {records_path} has {len(records)} "
            "records, and they share no 'id' or 'image' to match them by"
        )
    return list(zip(predictions, records))


def _dumps(data) -> str:
    """Indented JSON, floats rounded to 6 places (0.6, not 0.6000000000000001), spans on one line.

    A lone surrogate (from a command-line argument in no encoding, or a \\ud800 escape) cannot be
    printed as UTF-8: it is written as its JSON escape instead of crashing the print."""
    text = json.dumps(_rounded(data), indent=2, ensure_ascii=False)
    text = re.sub(r"[\ud800-\udfff]", lambda m: f"\\u{ord(m.group()):04x}", text)
    return re.sub(r"\[\s+(\d+),\s+(\d+)\s+\]", r"[\1, \2]", text)


def _rounded(data):
    if isinstance(data, float):
        return round(data, 6)
    if isinstance(data, dict):
        return {k: _rounded(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_rounded(v) for v in data]
    return data


def _plan_arg(text: str):
    """A plan given on the command line: a JSON list of step strings, or plain plan text."""
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            value = json.loads(stripped)
        except json.JSONDecodeError:
            return text
        if isinstance(value, list) and all(isinstance(s, str) for s in value):
            return value
    return text


def _load_scene(value: str, domain) -> dict:
    if value.lstrip().startswith("{"):
        source, text = "--scene", value
    else:
        path = Path(value)
        if not path.is_file():
            raise DataError(f"{value}: scene file not found")
        try:
            source, text = value, path.read_text(encoding="utf-8")
        except UnicodeDecodeError as error:
            raise DataError(f"{value}: not UTF-8 text (byte {error.start + 1})") from None
        except OSError as error:
            raise DataError(f"{value}: cannot be read ({error.strerror or error})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise DataError(f"{source}: line {error.lineno}: not valid JSON ({error.msg})") from None
    except RecursionError:
        raise DataError(f"{source}: JSON nested too deeply") from None
    if isinstance(data, dict) and isinstance(data.get("scene"), dict):
        data = data["scene"]  # a whole record
    domain.scene_from_dict(data, where=source)  # validate now, naming the file
    return data
