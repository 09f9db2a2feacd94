"""Evaluate one or more models on a test file: generate plans, score them with H-PRM, write results.

`evaluate(model_paths, test_data, output_path)` is what `python scripts/evaluate.py` and
`harp evaluate` run (under `torchrun`/`accelerate launch` too: the processes share the samples and
the main process writes). Generation is batched and greedy (deterministic), so two runs of the same model
give the same figures. Files written beside `output_path` (default `results/evaluation.json`):

- `evaluation.json`: the guide's six keys, for the last model given (the primary one; with
  `--constrained`, its constrained run), so the guide's single-model command reads as documented;
  after them the refusal figures (harp.eval.metrics.REFUSAL_KEYS) when the test set holds tasks
  that cannot be done or the model refused one.
- `evaluation_side_by_side.json`: `{label: {the six keys}}` for every model, in the order given.
- `evaluation_details.json`: per model: the six keys, exact match, step F1, breakdowns by error
  type and by task kind, the model path and the settings used.
- `predictions/<label>.jsonl`: one row per test sample (task, reference, prediction, H-PRM
  breakdown, failure reason).
- `report.md` and `plots/*.png` (see harp.eval.report) unless `report=False`.

A model's label is its path's last two parts for checkpoint folders (`sft/final`, `grpo/best`),
else its folder name; `+constrained` marks a constrained run, `+blank` a run with `blank_images`
(every image replaced by a uniform grey one of the same size: what the model does without the picture).
"""

from __future__ import annotations

import dataclasses
import gc
import json
import logging
import re
import types
from pathlib import Path

from harp import processes
from harp.config import read_run_config
from harp.data.records import Record, as_record, load_image, read_records, resolve_scene, warn_duplicates
from harp.errors import DataError, HarpError
from harp.eval.constrained import plan_logits_processor
from harp.eval.metrics import GUIDE_KEYS, REFUSAL_KEYS, details, refusal_summary, sample_row, summarize
from harp.eval.report import write_report
from harp.models import generate as generation  # a module: tests stand in for generation.generate_plans
from harp.models.load import load_model_and_processor, resolve_model_path
from harp.paths import check_output_dir, check_output_file
from harp.plan.loader import load_domain
from harp.rewards.hprm import HPRM, RewardWeights

logger = logging.getLogger(__name__)

CHECKPOINT_DIR = re.compile(r"^(final|best|checkpoint-\d+)$")
BLANK_GREY = (128, 128, 128)


def blank_like(image):
    """A uniform grey image of the same size: the picture's content removed, the prompt's shape kept."""
    from PIL import Image

    return Image.new("RGB", image.size, BLANK_GREY)


def model_label(path: str | Path) -> str:
    """A short, readable name for a model path: `sft/final`, `grpo/checkpoint-40`, `tiny-qwen2.5-vl`."""
    path = Path(str(path).rstrip("/"))
    if CHECKPOINT_DIR.match(path.name) and path.parent.name:
        return f"{path.parent.name}/{path.name}"
    return path.name or str(path)


def file_label(label: str) -> str:
    """A label made safe for a file name."""
    return re.sub(r"[^A-Za-z0-9._+-]+", "-", label).strip("-") or "model"


def load_test_records(test_data: str | Path, domain, limit: int | None = None) -> list[Record]:
    """Test records with their scenes resolved (`record.resolved_scene`), images checked before any model loads."""
    records = read_records(test_data)
    warn_duplicates(records, test_data)
    if limit is not None:
        records = records[:limit]
    if not records:
        raise DataError(f"{test_data}: no records to evaluate")
    for record in records:
        resolve_scene(record, domain)
        load_image(record)  # a missing or corrupt image fails now, naming its line, not mid-run
    return records


def generate_for_records(
    model,
    processor,
    records: list[dict],
    domain,
    *,
    batch_size: int,
    max_new_tokens: int,
    logits_processor=None,
    desc: str = "evaluate",
    blank_images: bool = False,
) -> list[str]:
    """Greedy plans for records, in order, batch by batch (images are loaded per batch; `blank_images`
    replaces each by a uniform grey one). Under a multi-process launch each process generates its
    share and every process gets all the plans back (harp.processes)."""
    from tqdm import tqdm

    everything, records = records, processes.shard(records)
    predictions: list[str] = []
    with tqdm(total=len(records), desc=desc, unit="sample", leave=False, disable=not processes.main_process()) as bar:
        for start in range(0, len(records), batch_size):
            batch = records[start : start + batch_size]
            images = [load_image(record) for record in batch]
            if blank_images:
                images = [blank_like(image) for image in images]
            outputs = generation.generate_plans(
                model,
                processor,
                images,
                [record["task"] for record in batch],
                domain,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                temperature=1.0,
                top_p=1.0,
                num_return_sequences=1,
                logits_processor=logits_processor,
                batch_size=batch_size,
            )
            predictions.extend(candidates[0] for candidates in outputs)
            bar.update(len(batch))
    return processes.gather_in_order(predictions, len(everything))


def score_predictions(records: list[dict], predictions: list[str], domain, hprm) -> list[dict]:
    """Per-sample rows (harp.eval.metrics.sample_row) for predictions aligned with records.

    Each record's scene is resolved once (`resolve_scene`); H-PRM scores against that same Scene."""
    rows = []
    for record, prediction in zip(map(as_record, records), predictions):
        scene = resolve_scene(record, domain)
        rows.append(sample_row(record, prediction, hprm.score(prediction, record), domain, scene))
    return rows


def evaluate(
    model_paths: list[str] | str,
    test_data: str | Path,
    output_path: str | Path = "results/evaluation.json",
    batch_size: int = 4,
    *,
    constrained: bool = False,
    max_new_tokens: int = 128,
    domain: str = "navigate_pick_place",
    weights=None,
    limit: int | None = None,
    report: bool = True,
    runs: str = "outputs/*/runs",
    quiet: bool = False,
    blank_images: bool = False,
) -> dict[str, dict]:
    """Evaluate each model on `test_data`; write the files listed in the module docstring.

    Returns `{label: {the guide's six keys}}` in the order evaluated. With `constrained`, each model
    is evaluated twice, free and with the plan grammar enforced, so the report shows both.
    """

    if isinstance(model_paths, (str, Path)):
        model_paths = [model_paths]
    if batch_size < 1:
        raise HarpError(f"--batch_size must be at least 1, got {batch_size}")
    check_outputs(output_path, report)
    domain_spec = load_domain(domain)
    run_configs = {str(path): read_run_config(path) for path in model_paths}
    weights_from = "--reward_config" if weights else None
    if weights is None:
        weights, weights_from = default_weights(run_configs)
    hprm = HPRM(domain_spec, weights)
    records = load_test_records(test_data, domain_spec, limit)
    for path in model_paths:  # a typo in the last path fails now, not after the first model's run
        resolve_model_path(path)
    output_path = Path(output_path)
    out_dir = output_path.parent
    device = processes.start()  # several processes share the generation; the main one writes
    writer = processes.main_process()
    quiet = quiet or not writer
    if writer:
        (out_dir / "predictions").mkdir(parents=True, exist_ok=True)

    results: dict[str, dict] = {}
    runs_detail: list[dict] = []
    used: set[str] = set()
    for path in model_paths:
        model, processor = load_model_and_processor(path, device=device)
        base = model_label(path) + ("+blank" if blank_images else "")
        variants = [(False, base)]
        if constrained:
            variants.append((True, base + "+constrained"))
        for enforce, label in variants:
            label = _unique(label, used)
            logits_processor = None
            if enforce:
                logits_processor = plan_logits_processor(processor, domain_spec, max_new_tokens)
            predictions = generate_for_records(
                model,
                processor,
                records,
                domain_spec,
                batch_size=batch_size,
                max_new_tokens=max_new_tokens,
                logits_processor=logits_processor,
                desc=label,
                blank_images=blank_images,
            )
            rows = score_predictions(records, predictions, domain_spec, hprm)
            predictions_path = out_dir / "predictions" / f"{file_label(label)}.jsonl"
            if writer:
                _write_jsonl(predictions_path, rows)
            metrics = {**summarize(rows), **refusal_summary(rows)}  # refusal figures where they apply
            results[label] = metrics
            runs_detail.append(
                {
                    "label": label,
                    "model_path": str(path),
                    "constrained": enforce,
                    "blank_images": blank_images,
                    "metrics": metrics,
                    "run_config": run_configs[str(path)],
                    **details(rows),
                    "predictions": str(predictions_path),
                }
            )
            if not quiet:
                logger.info(f"{label}: " + ", ".join(f"{k}={metrics[k]}" for k in GUIDE_KEYS))
        del model, processor
        gc.collect()

    if not writer:
        return results
    primary = list(results)[-1]
    _write_json(output_path, results[primary])
    _write_json(out_dir / f"{output_path.stem}_side_by_side.json", results)
    _write_json(
        out_dir / f"{output_path.stem}_details.json",
        {
            "test_data": str(test_data),
            "domain": domain,
            "primary": primary,
            "max_new_tokens": max_new_tokens,
            "batch_size": batch_size,
            "reward_weights": dataclasses.asdict(weights),
            "reward_weights_from": weights_from,
            "models": runs_detail,
        },
    )
    if report:
        report_path = write_report(out_dir / f"{output_path.stem}_details.json", runs=runs)
        if not quiet:
            logger.info(f"report: {report_path}")
    return results


def check_outputs(output_path: str | Path, report: bool) -> None:
    """Every path `evaluate` writes (module docstring) can be written: checked before any model
    loads, so a folder named `evaluation.json`, `.` or a path below a file fails in a second."""
    output_path = check_output_file(output_path, "--output_path")
    beside = [f"{output_path.stem}_side_by_side.json", f"{output_path.stem}_details.json"]
    for name in beside + (["report.md"] if report else []):
        check_output_file(output_path.parent / name, "--output_path")
    for name in ["predictions"] + (["plots"] if report else []):
        check_output_dir(output_path.parent / name, "--output_path")


def default_weights(run_configs: dict[str, dict | None]):
    """H-PRM weights when no --reward_config is given: those the last GRPO-trained model was trained with
    (its recorded harp_config.yaml), so avg_reward means what GRPO's validation logged; else the guide's.

    Returns (RewardWeights, where they came from: the model path, or "defaults")."""
    for path, config in reversed(list(run_configs.items())):
        if config and isinstance(config.get("reward"), dict):
            return RewardWeights.from_config(types.SimpleNamespace(**config["reward"])), path
    return RewardWeights(), "defaults"


def format_table(results: dict[str, dict]) -> str:
    """The side-by-side metrics as an aligned plain-text table (one column per model); the refusal
    figures below the guide's six where every model has them."""
    labels = list(results)
    keys = list(GUIDE_KEYS)
    keys += [k for k in REFUSAL_KEYS[:-1] if all(k in results[label] for label in labels)]
    width = max(len(key) for key in keys)
    columns = [max(len(label), 8) for label in labels]
    lines = [" " * width + "  " + "  ".join(label.rjust(w) for label, w in zip(labels, columns))]
    for key in keys:
        cells = [f"{results[label][key]:.4f}".rjust(w) for label, w in zip(labels, columns)]
        lines.append(key.ljust(width) + "  " + "  ".join(cells))
    return "\n".join(lines)


def _unique(label: str, used: set[str]) -> str:
    candidate, n = label, 2
    while candidate in used:
        candidate, n = f"{label}#{n}", n + 1
    used.add(candidate)
    return candidate


def _write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
