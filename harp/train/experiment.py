"""The learning benchmark: SFT, then GRPO variants, over seeds and data regimes, with 95% CIs.

`python benchmarks/learning.py --config configs/experiments/learning.yaml` runs, for every regime
and seed: synthetic data (the regime's label noise), the 80/10/10 split, the tiny model, SFT
(on all training records, or the first `sft_records` of them: few labels), then each GRPO variant
from that SFT model on *all* training prompts (H-PRM needs the scene, not the plan), and evaluates
SFT and every variant on test+val. It prints, per regime, mean ± 95% CI (Student t over seeds) of
task completion and avg reward for SFT and each variant, and each variant's paired gain over SFT.

Variants: `full` (FTCA + negatives), `ftca_off`, `negatives_off`, `both_off` (plain TRL GRPO).
Negatives are verified rule-based perturbations of each prompt's plan (GRPO's top-up), so no
negative-mining stage runs. Everything lands in `workdir/`; each finished (regime, seed, model)
appends one line to `results.jsonl`, and a rerun skips what is there (kill it and start it again).

The experiment file (YAML) has the keys of `ExperimentConfig`; `regimes` is a list of
`{name, label_noise, label_noise_kinds, sft_records}`; `sft_overrides` / `grpo_overrides` are `--set`-style
`key=value` strings applied to `sft_config` / `grpo_config`.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from harp.config import load_grpo_config, load_sft_config
from harp.data.label_noise import KINDS as NOISE_KINDS, check_kinds
from harp.data.split import split_records
from harp.data.synthetic import build_synthetic
from harp.errors import ConfigError
from harp.eval.evaluate import evaluate
from harp.eval.metrics import SHORTCUT_WRONG, kind_label
from harp.models.pretrain import copy_grounded
from harp.models.tiny import build_tiny_model
from harp.train.grpo import train_grpo
from harp.train.sft import train_sft

VARIANTS = {  # name -> (reward.use_ftca, training.negatives_per_group or None for the config's)
    "full": (True, None),
    "ftca_off": (False, None),
    "negatives_off": (True, 0),
    "both_off": (False, 0),
}
BASE_MODELS = ("random", "grounded")
# Two-sided 95% Student t quantiles by degrees of freedom (no scipy in the environment).
REPOSITORY = Path(__file__).resolve().parents[2]
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228}


@dataclass
class Regime:
    name: str
    label_noise: float = 0.0  # share of noisy training plans (harp.data.label_noise)
    label_noise_kinds: list[str] = field(default_factory=lambda: list(NOISE_KINDS))  # the mistakes it may be
    sft_records: int | None = None  # SFT on the first N training records only (few labels); None = all


@dataclass
class ExperimentConfig:
    workdir: str = ".experiments/learning"
    num_scenes: int = 500
    data_seed: int = 0
    seeds: list[int] = field(default_factory=lambda: [1, 2, 3])
    regimes: list[Regime] = field(default_factory=lambda: [Regime("clean")])
    variants: list[str] = field(default_factory=lambda: list(VARIANTS))
    sft_config: str = "configs/demo/sft.yaml"
    grpo_config: str = "configs/demo/grpo.yaml"
    sft_overrides: list[str] = field(default_factory=list)
    grpo_overrides: list[str] = field(default_factory=list)
    eval_batch_size: int = 16
    base_model: str = "random"  # SFT starts from: "random" (init-tiny) or "grounded" (init-tiny --grounded)
    blank_images: bool = False  # also evaluate every model with uniform images (the grounding control)


def load_experiment(path: str | Path, regimes: list[str] | None = None) -> ExperimentConfig:
    """Read and check an experiment YAML; a bad key is a one-line ConfigError naming the file and key.
    `regimes` keeps only the regimes of those names (all when None)."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: cannot read the experiment file: {error}") from None
    known = set(ExperimentConfig.__dataclass_fields__)
    for key in data:
        if key not in known:
            raise ConfigError(f"{path}: unknown key '{key}' (expected one of {', '.join(sorted(known))})")
    selected, regimes = regimes, []
    for i, item in enumerate(data.pop("regimes", None) or [{"name": "clean"}]):
        extra = set(item) - set(Regime.__dataclass_fields__)
        if extra or "name" not in item:
            raise ConfigError(f"{path}: regimes[{i}] needs 'name' and only label_noise, label_noise_kinds, "
                              f"sft_records (got {', '.join(sorted(item))})")
        regime = Regime(**item)
        try:
            regime.label_noise_kinds = list(check_kinds(regime.label_noise_kinds))
        except ValueError as error:
            raise ConfigError(f"{path}: regimes[{i}].label_noise_kinds: {error}") from None
        regimes.append(regime)
    if selected:
        unknown = sorted(set(selected) - {regime.name for regime in regimes})
        if unknown:
            raise ConfigError(f"{path}: no regime named {', '.join(unknown)} "
                              f"(the file has {', '.join(regime.name for regime in regimes)})")
        regimes = [regime for regime in regimes if regime.name in selected]
    config = ExperimentConfig(**data, regimes=regimes)
    for name in config.variants:
        if name not in VARIANTS:
            raise ConfigError(f"{path}: variants: unknown '{name}' (expected {', '.join(VARIANTS)})")
    if not config.seeds:
        raise ConfigError(f"{path}: seeds: at least one seed")
    if config.base_model not in BASE_MODELS:
        raise ConfigError(f"{path}: base_model: expected one of {', '.join(BASE_MODELS)}, got {config.base_model!r}")
    for key in ("sft_config", "grpo_config"):  # as given, else relative to the repository (run from anywhere)
        given = Path(getattr(config, key))
        if not given.is_file() and (REPOSITORY / given).is_file():
            setattr(config, key, str(REPOSITORY / given))
    return config


# ------------------------------------------------------------------------------------ statistics


def mean_ci(values: list[float]) -> tuple[float, float]:
    """Mean and the half-width of its two-sided 95% Student t interval (0 for one value)."""
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, 0.0
    t = T95.get(len(values) - 1, 1.96)
    return mean, t * statistics.stdev(values) / math.sqrt(len(values))


def format_ci(values: list[float]) -> str:
    mean, half = mean_ci(values)
    return f"{mean:.3f} ± {half:.3f}" if len(values) > 1 else f"{mean:.3f}"


def summary_table(rows: list[dict], variants: list[str]) -> str:
    """Per regime: SFT and each variant (mean ± 95% CI over seeds), and each variant's paired gain."""
    lines = []
    for regime in dict.fromkeys(row["regime"] for row in rows):
        mine = [row for row in rows if row["regime"] == regime]
        by = {(row["model"], row["seed"]): row for row in mine}
        seeds = sorted({row["seed"] for row in mine if row["model"] == "sft"})
        lines += [f"regime {regime} (seeds {', '.join(map(str, seeds))}; test+val, {mine[0]['num_samples']} scenes)",
                  f"  {'model':<16}{'task completion':>20}{'avg reward':>20}{'gain in completion':>24}"
                  f"{'gain in reward':>20}"]
        for model in ["sft", *variants]:
            paired = [s for s in seeds if (model, s) in by]
            if not paired:
                continue
            completion = [by[model, s]["task_completion"] for s in paired]
            reward = [by[model, s]["avg_reward"] for s in paired]
            gains = ""
            if model != "sft":
                dc = [by[model, s]["task_completion"] - by["sft", s]["task_completion"] for s in paired]
                dr = [by[model, s]["avg_reward"] - by["sft", s]["avg_reward"] for s in paired]
                gains = f"{format_ci(dc):>24}{format_ci(dr):>20}"
            lines.append(f"  {model:<16}{format_ci(completion):>20}{format_ci(reward):>20}{gains}")
        lines.append("")
        lines += grounding_table(mine, seeds, ["sft", *variants])
    return "\n".join(lines)


GROUNDING_COLUMNS = [("all tasks", "task_completion"), ("image-only, all", "image_only_completion"),
                     ("image-only, 1 object", "one_object_image_only"), ("shortcut wrong", "shortcut_wrong")]


def grounding_table(rows: list[dict], seeds: list[int], models: list[str]) -> list[str]:
    """Completion where only the picture tells (mean ± 95% CI over seeds), beside the baselines of
    one-object image-only tasks, and with blank images when they were evaluated."""
    by = {(row["model"], row["seed"]): row for row in rows}
    if not any("one_object_image_only" in row for row in rows):
        return []  # results from before these figures were recorded
    baselines = next(row["baselines_one_object_image_only"] for row in rows if "baselines_one_object_image_only" in row)
    lines = [f"  grounding (one-object image-only baselines: uniform guess {baselines['uniform']}, "
             f"most-loaded table {baselines['most_loaded']})",
             f"  {'model':<28}" + "".join(f"{title:>22}" for title, _ in GROUNDING_COLUMNS)]
    for model in models:
        for blank in (False, True):
            found = [by[model, s].get("blank") if blank else by[model, s] for s in seeds if (model, s) in by]
            found = [row for row in found if row]
            if not found:
                continue
            cells = []
            for _, key in GROUNDING_COLUMNS:
                values = [row[key] for row in found if row.get(key) is not None]
                cells.append(format_ci(values) if values else "-")
            lines.append(f"  {model + (' blank images' if blank else ''):<28}" + "".join(f"{c:>22}" for c in cells))
    return lines + [""]


# ---------------------------------------------------------------------------------------- running


def read_results(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def prepare_data(config: ExperimentConfig, regime: Regime, root: Path) -> Path:
    """The regime's data folder: actions.jsonl, data/sft_{train,val,test}.jsonl, eval.jsonl (test+val)."""

    data = root / "data"
    if (root / "eval.jsonl").is_file():
        return root
    build_synthetic(config.num_scenes, seed=config.data_seed, images_dir=root / "bdv2" / "synthetic",
                    output_dir=root, progress=False, label_noise=regime.label_noise,
                    label_noise_kinds=tuple(regime.label_noise_kinds))
    split_records(root / "actions.jsonl", data)
    lines = [line for name in ("sft_test.jsonl", "sft_val.jsonl")
             for line in (data / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    train = (data / "sft_train.jsonl").read_text(encoding="utf-8").splitlines()
    if regime.sft_records is not None and not 0 < regime.sft_records <= len(train):
        raise ConfigError(f"regime {regime.name}: sft_records must be 1..{len(train)}, got {regime.sft_records}")
    (root / "eval.jsonl").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return root


def run_sft(config: ExperimentConfig, regime: Regime, root: Path, seed: int, model_dir: Path) -> Path:

    out = root / f"seed{seed}" / "sft"
    if (out / "final" / "config.json").is_file():
        return out / "final"
    overrides = [f"model.name={model_dir}", f"data.train_path={root / 'data' / 'sft_train.jsonl'}",
                 f"data.max_train_records={'null' if regime.sft_records is None else regime.sft_records}",
                 f"data.val_path={root / 'data' / 'sft_val.jsonl'}", f"training.output_dir={out}",
                 f"training.seed={seed}", "training.report_to=[none]", *config.sft_overrides]
    return train_sft(load_sft_config(config.sft_config, overrides))


def run_grpo(config: ExperimentConfig, root: Path, seed: int, variant: str, sft: Path) -> Path:

    out = root / f"seed{seed}" / f"grpo_{variant}"
    if (out / "final" / "config.json").is_file():
        return out / "final"
    use_ftca, negatives = VARIANTS[variant]
    overrides = [f"model.sft_model_path={sft}", f"data.train_path={root / 'data' / 'sft_train.jsonl'}",
                 "data.negative_path=null", f"data.val_path={root / 'data' / 'sft_val.jsonl'}",
                 f"training.output_dir={out}", f"training.seed={seed}", "training.report_to=[none]",
                 f"reward.use_ftca={str(use_ftca).lower()}", *config.grpo_overrides]
    if negatives is not None:
        overrides.append(f"training.negatives_per_group={negatives}")
    return train_grpo(load_grpo_config(config.grpo_config, overrides), progress=False)


def evaluate_models(config: ExperimentConfig, root: Path, seed: int, models: dict[str, Path]) -> dict[str, dict]:
    """Task completion and avg reward of each model on test+val, completion on the image-only task
    kinds, and with `blank_images` the same again with every image uniform (`blank` in each row)."""
    results = {name: {} for name in models}
    for blank in (False, True) if config.blank_images else (False,):
        out = root / f"seed{seed}" / ("eval_blank" if blank else "eval") / "evaluation.json"
        evaluate([str(path) for path in models.values()], root / "eval.jsonl", out, config.eval_batch_size,
                 max_new_tokens=48, report=False, quiet=True, blank_images=blank)
        details = json.loads((out.parent / "evaluation_details.json").read_text(encoding="utf-8"))
        for name, run in zip(models, details["models"]):
            scores = grounding_scores(run)
            if blank:
                results[name]["blank"] = scores
            else:
                results[name].update(scores, num_samples=run["num_samples"])
    return results


def grounding_scores(run: dict) -> dict:
    """One model's figures from evaluation_details.json: the two headline metrics, completion on
    image-only tasks (all, one-object, and where the most-loaded-table shortcut fails) and the
    baselines of one-object image-only tasks."""
    kinds = run["by_task_kind"]

    def completion(labels):
        groups = [kinds[label] for label in labels if label in kinds]
        n = sum(group["num_samples"] for group in groups)
        return (sum(group["task_completion"] * group["num_samples"] for group in groups) / n) if n else None

    one = kinds.get(kind_label(1, False), {})
    return {
        "task_completion": run["metrics"]["task_completion"], "avg_reward": run["metrics"]["avg_reward"],
        "image_only_completion": completion([label for label in kinds if label.endswith("source not named")]),
        "one_object_image_only": completion([kind_label(1, False)]),
        "shortcut_wrong": completion([SHORTCUT_WRONG]),
        "baselines_one_object_image_only": {"uniform": one.get("baseline_uniform"),
                                            "most_loaded": one.get("baseline_most_loaded")},
    }


def run_experiment(config: ExperimentConfig, log=print) -> list[dict]:
    """Run what `results.jsonl` lacks; return every result row."""
    workdir = Path(config.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    results_path = workdir / "results.jsonl"
    done = {(r["regime"], r["seed"], r["model"]) for r in read_results(results_path)}
    model_dir = workdir / ("tiny-qwen2.5-vl" if config.base_model == "random" else "tiny-qwen2.5-vl-grounded")
    if not (model_dir / "config.json").is_file():
        if config.base_model == "random":
            build_tiny_model(model_dir)
        else:
            copy_grounded(model_dir)
    for regime in config.regimes:
        root = prepare_data(config, regime, workdir / regime.name)
        for seed in config.seeds:
            wanted = ["sft", *config.variants]
            if all((regime.name, seed, m) in done for m in wanted):
                continue
            started = time.time()
            models = {"sft": run_sft(config, regime, root, seed, model_dir)}
            log(f"[{regime.name} seed {seed}] SFT done ({time.time() - started:.0f}s)")
            for variant in config.variants:
                begun = time.time()
                models[variant] = run_grpo(config, root, seed, variant, models["sft"])
                log(f"[{regime.name} seed {seed}] GRPO {variant} done ({time.time() - begun:.0f}s)")
            scores = evaluate_models(config, root, seed, models)
            with results_path.open("a", encoding="utf-8") as handle:
                for model, score in scores.items():
                    if (regime.name, seed, model) not in done:
                        row = {"regime": regime.name, "seed": seed, "model": model, **score}
                        handle.write(json.dumps(row) + "\n")
            log(f"[{regime.name} seed {seed}] " + ", ".join(
                f"{m} {s['task_completion']:.2f}/{s['avg_reward']:+.3f}" for m, s in scores.items())
                + f" ({time.time() - started:.0f}s)")
    return read_results(results_path)
