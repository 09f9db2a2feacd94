"""The evaluation report a person reads: `results/report.md` with PNG plots beside it.

`write_report(details_path)` reads `evaluation_details.json` (written by harp.eval.evaluate), the
per-sample predictions it points to, and the training runs' TensorBoard event files
(`outputs/*/runs` by default), and writes:

- `report.md`: the side-by-side table (the guide's six metrics, exact match, step F1), the model's
  own format accuracy beside the enforced one when constrained runs exist, failures by error type,
  metrics by task kind, the plots, and a few example scenes with their predicted plans;
- `plots/metrics.png` (metric bars per model), `plots/failures.png` (error types per model),
  `plots/training_curves.png` (loss, reward, KL, val task completion per run), `plots/examples.png` (scenes + plans).

Plots use matplotlib's Agg backend, so no display is needed.
"""

from __future__ import annotations

import glob
import json
import textwrap
from pathlib import Path

from harp.data.images import open_image
from harp.errors import DataError, HarpError
from harp.eval.metrics import GUIDE_KEYS, REFUSAL_KEYS, SHORTCUT_WRONG
from harp.rewards.vocabulary import ALL_ERROR_TYPES, ERROR_TYPES

METRIC_SENTENCES = {
    "format_accuracy": "share of samples whose generated plan parses with no format error",
    "action_accuracy": "share whose plan also uses only domain actions on entities of the right kind in the scene",
    "transition_accuracy": "share whose plan also respects every step's preconditions in simulation",
    "task_completion": "share whose plan also ends in a state that satisfies the goal",
    "avg_steps": "mean number of steps in the generated plans",
    "avg_reward": "mean H-PRM total reward, in [-1, 1]",
    "exact_match": "share of plans equal to the reference after normalising names",
    "step_f1": "mean F1 of predicted steps against reference steps (order ignored)",
}
EXTRA_KEYS = ("exact_match", "step_f1")

# Tags tried in order for each training curve; the guide's names first, then TRL's / Trainer's.
CURVE_TAGS = {
    "loss": ("train/loss", "loss"),
    "reward": ("train/reward", "reward"),
    "KL": ("train/kl_div", "train/kl", "kl"),
    "val task completion": ("eval/task_completion",),  # GRPO's periodic val evaluation (harp.train.grpo_eval)
}
EVAL_LOSS_TAGS = ("eval/loss", "eval_loss")
PIPELINE_ORDER = {"sft": 0, "grpo": 1}


def write_report(details_path: str | Path, runs: str = "outputs/*/runs", num_examples: int = 6) -> Path:
    """Write report.md and plots/ beside `details_path`; return the report's path."""
    import matplotlib

    matplotlib.use("Agg")
    details_path = Path(details_path)
    if not details_path.is_file():
        raise HarpError(f"{details_path}: not found (scripts/evaluate.py writes it beside evaluation.json)")
    try:
        data = json.loads(details_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise HarpError(f"{details_path}: not valid JSON ({error.msg})") from None
    out_dir = details_path.parent
    plots = out_dir / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    models = data["models"]

    curves = read_training_curves(runs)
    plot_metrics(models, plots / "metrics.png")
    plot_failures(models, plots / "failures.png")
    has_curves = plot_training_curves(curves, plots / "training_curves.png")
    primary = next((m for m in models if m["label"] == data.get("primary")), models[-1])
    examples = _example_rows(primary, num_examples)
    has_examples = plot_examples(examples, plots / "examples.png")

    lines = [
        "# HARP evaluation report",
        "",
        f"Test data: `{data['test_data']}` ({models[0]['num_samples']} samples), domain `{data['domain']}`, "
        f"greedy decoding, at most {data['max_new_tokens']} new tokens. Primary model: `{data.get('primary')}` "
        "(its figures are in `evaluation.json`).",
        "",
        *(
            [
                "H-PRM weights: "
                + ", ".join(f"{k}={v:g}" for k, v in data["reward_weights"].items())
                + (f" (from {data['reward_weights_from']})" if data.get("reward_weights_from") else "")
                + ".",
                "",
            ]
            if data.get("reward_weights")
            else []
        ),
        *_training_lines(models),
        "## Metrics side by side",
        "",
        _summary(models),
        "",
        *_metrics_table(models),
        "",
        *[f"- **{key}**: {sentence}." for key, sentence in METRIC_SENTENCES.items()],
        "",
        "The four accuracies are nested: a sample counts at a level only when every level below it holds.",
        "",
        "![metrics per model](plots/metrics.png)",
        "",
    ]
    lines += _constrained_section(models)
    lines += _refusal_section(models)
    lines += [
        "## Failures by error type",
        "",
        "The first H-PRM level each plan failed (`none`: complete and optimal).",
        "",
        *_failure_table(models),
        "",
        "![failure breakdown](plots/failures.png)",
        "",
        "## By task kind",
        "",
        "One or two objects to move; whether the task names where they are (else the image must tell). "
        "Every metric per kind is in `evaluation_details.json`. Beside task completion, two baselines "
        "that know everything but where the objects lie: `uniform` guesses the table, `most-loaded` "
        "goes to the table with the most objects; image-only accuracy at these levels is not grounding. "
        f"`{SHORTCUT_WRONG}`: the image-only tasks the most-loaded shortcut fails.",
        "",
        *_kind_tables(models),
        *_group_tables(models),
        "## Training curves",
        "",
    ]
    if has_curves:
        lines += [
            f"Read from TensorBoard event files under `{runs}`: " + ", ".join(f"`{run}`" for run in curves) + ".",
            "",
            "![training curves](plots/training_curves.png)",
            "",
        ]
    else:
        lines += [f"No TensorBoard scalars found under `{runs}`.", ""]
    lines += [f"## Example scenes ({primary['label']})", ""]
    if has_examples:
        lines += ["![example scenes](plots/examples.png)", ""]
    for row in examples:
        verdict = "complete" if row["completed"] else f"✗ {row['failure']}"
        lines += [
            f"- `{row['image']}` — *{row['task']}*  ",
            f"  predicted: `{row['prediction']}` ({verdict})  ",
            f"  reference: `{', '.join(row['reference'])}`",
        ]
    report_path = out_dir / "report.md"
    report_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return report_path


# ------------------------------------------------------------------------------------- tables


def _row(cells) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def _summary(models: list[dict]) -> str:
    """One sentence: which run completes most tasks, and how each run differs from the first."""
    best = max(models, key=lambda m: (m["metrics"]["task_completion"], m["metrics"]["avg_reward"]))
    text = (
        f"Highest task completion: `{best['label']}` ({best['metrics']['task_completion']:.4f}, "
        f"mean reward {best['metrics']['avg_reward']:+.4f})."
    )
    first = models[0]
    deltas = [
        f"`{m['label']}` {m['metrics']['task_completion'] - first['metrics']['task_completion']:+.4f} / "
        f"{m['metrics']['avg_reward'] - first['metrics']['avg_reward']:+.4f}"
        for m in models[1:]
    ]
    if deltas:
        text += f" Task completion / mean reward against `{first['label']}`: " + ", ".join(deltas) + "."
    return text


def _metrics_table(models: list[dict]) -> list[str]:
    lines = [_row(["metric", *[f"`{m['label']}`" for m in models]]), _row(["---"] * (len(models) + 1))]
    for key in GUIDE_KEYS:
        lines.append(_row([key, *[f"{m['metrics'][key]:.4f}" for m in models]]))
    for key in EXTRA_KEYS:
        lines.append(_row([key, *[f"{m[key]:.4f}" for m in models]]))
    return lines


def _refusal_section(models: list[dict]) -> list[str]:
    """Refusal precision, recall and F1 beside task completion on the tasks that can be done."""
    shown = [m for m in models if "refusal_f1" in m["metrics"]]
    if not shown:
        return []
    lines = [
        "## Refusals",
        "",
        f"{shown[0]['metrics']['infeasible_tasks']} test tasks cannot be done from their scene (something the task "
        "asks for is not there); the right answer is `Infeasible(what is missing)`. Precision: the share of a "
        "model's refusals whose task cannot be done; recall: the share of those tasks it refused.",
        "",
        _row(["model", *[f"`{m['label']}`" for m in shown]]),
        _row(["---"] * (len(shown) + 1)),
    ]
    for key in REFUSAL_KEYS[:-1]:
        lines.append(_row([key, *[f"{m['metrics'][key]:.4f}" for m in shown]]))
    return lines + [""]


def _constrained_section(models: list[dict]) -> list[str]:
    pairs = []
    for model in models:
        if not model.get("constrained"):
            continue
        free = next((m for m in models if m["model_path"] == model["model_path"] and not m.get("constrained")), None)
        pairs.append((free, model))
    if not pairs:
        return []
    lines = [
        "## Constrained decoding",
        "",
        "The model's own format accuracy beside the one enforced by the plan grammar "
        "(`--constrained`); the higher levels still measure the model.",
        "",
        _row(
            [
                "model",
                "own format_accuracy",
                "enforced format_accuracy",
                "own task_completion",
                "enforced task_completion",
            ]
        ),
        _row(["---"] * 5),
    ]
    for free, enforced in pairs:
        own = free["metrics"] if free else {}
        lines.append(
            _row(
                [
                    f"`{enforced['model_path']}`",
                    f"{own['format_accuracy']:.4f}" if own else "—",
                    f"{enforced['metrics']['format_accuracy']:.4f}",
                    f"{own['task_completion']:.4f}" if own else "—",
                    f"{enforced['metrics']['task_completion']:.4f}",
                ]
            )
        )
    return lines + [""]


def _failure_table(models: list[dict]) -> list[str]:
    kinds = ["none", *ALL_ERROR_TYPES]
    # The refined kinds (a refusal, a hallucination) only where a model made them.
    kinds = [k for k in kinds if k == "none" or k in ERROR_TYPES or any(m["by_error_type"].get(k) for m in models)]
    lines = [_row(["model", *kinds]), _row(["---"] * (len(kinds) + 1))]
    for model in models:
        counts = model["by_error_type"]
        lines.append(_row([f"`{model['label']}`", *[counts.get(kind, {}).get("count", 0) for kind in kinds]]))
    return lines


def _kind_tables(models: list[dict]) -> list[str]:
    """Task completion and mean reward per task kind, one column per model (the rest: details JSON)."""
    kinds = list(dict.fromkeys(kind for model in models for kind in model["by_task_kind"]))
    lines = []
    for key in ("task_completion", "avg_reward"):
        baselines = key == "task_completion"
        header = ["task kind", "n", *[f"`{m['label']}`" for m in models]] + (
            ["uniform", "most-loaded"] if baselines else []
        )
        lines += [f"`{key}` by task kind (n = samples of that kind):", "", _row(header), _row(["---"] * len(header))]
        for kind in kinds:
            groups = [m["by_task_kind"].get(kind) for m in models]
            first = next(g for g in groups if g)
            cells = [kind, first["num_samples"], *[f"{g[key]:.4f}" if g else "—" for g in groups]]
            if baselines:
                cells += [_figure(first.get("baseline_uniform")), _figure(first.get("baseline_most_loaded"))]
            lines.append(_row(cells))
        lines.append("")
    return lines


GROUPINGS = (  # evaluation_details.json key -> its section's title and what it says
    ("by_plan_length", "By the reference plan's length", "Long plans are where a process reward should matter."),
    ("by_task_type", "By task type", "ALFRED's task types, where the records name them (`meta.task_type`)."),
)


def _group_tables(models: list[dict]) -> list[str]:
    """Task completion and mean reward per plan length and per task type, one row per group and a
    column per model; a section only where some model's details have such groups."""
    lines = []
    for key, title, sentence in GROUPINGS:
        labels = list(dict.fromkeys(label for model in models for label in model.get(key, {})))
        if not labels:
            continue
        header = [
            "group",
            "n",
            *[f"`{m['label']}` completion" for m in models],
            *[f"`{m['label']}` reward" for m in models],
        ]
        lines += [f"## {title}", "", sentence, "", _row(header), _row(["---"] * len(header))]
        for label in labels:
            groups = [m.get(key, {}).get(label) for m in models]
            first = next(g for g in groups if g)
            cells = [label, first["num_samples"]]
            cells += [_figure(g["task_completion"]) if g else "—" for g in groups]
            cells += [f"{g['avg_reward']:+.4f}" if g else "—" for g in groups]
            lines.append(_row(cells))
        lines.append("")
    return lines


def _figure(value) -> str:
    return "—" if value is None else f"{value:.4f}"


def _example_rows(model: dict, count: int) -> list[dict]:
    """A few rows of the model's predictions: failures and successes both, in file order."""
    path = Path(model["predictions"])
    if not path.is_file():
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    good = [r for r in rows if r["completed"]]
    bad = [r for r in rows if not r["completed"]]
    half = count // 2
    picked = good[:half] + bad[: count - half]
    if len(picked) < count:  # fill from whichever side has more
        rest = [r for r in rows if r not in picked]
        picked += rest[: count - len(picked)]
    return picked


# -------------------------------------------------------------------------------------- plots


def plot_metrics(models: list[dict], path: Path) -> None:
    """Grouped bars: one group per rate metric, one bar per model."""
    import matplotlib.pyplot as plt

    keys = [k for k in GUIDE_KEYS if k != "avg_steps"] + list(EXTRA_KEYS)
    width = 0.8 / len(models)
    fig, ax = plt.subplots(figsize=(max(8, 1.3 * len(keys)), 4.5))
    for index, model in enumerate(models):
        values = [model["metrics"][k] if k in model["metrics"] else model[k] for k in keys]
        ax.bar([i + index * width for i in range(len(keys))], values, width, label=model["label"])
    ax.set_xticks([i + width * (len(models) - 1) / 2 for i in range(len(keys))])
    ax.set_xticklabels([k.replace("_", "\n") for k in keys], fontsize=8)
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_ylim(min(-0.05, min(min(m["metrics"]["avg_reward"] for m in models) - 0.05, 0)), 1.05)
    ax.set_title("Metrics per model (avg_reward is in [-1, 1])")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_failures(models: list[dict], path: Path) -> None:
    """Stacked horizontal bars: the share of samples per first-failed H-PRM level, per model."""
    import matplotlib.pyplot as plt

    kinds = ["none", *ALL_ERROR_TYPES]
    colours = ["#2ca02c", "#d62728", "#ff7f0e", "#e377c2", "#9467bd", "#8c564b", "#1f77b4", "#bcbd22"]
    fig, ax = plt.subplots(figsize=(8, 0.6 * len(models) + 1.6))
    for row, model in enumerate(models):
        left = 0.0
        for kind, colour in zip(kinds, colours):
            share = model["by_error_type"].get(kind, {}).get("share", 0.0)
            ax.barh(row, share, left=left, color=colour, label=kind if row == 0 else None)
            left += share
    ax.set_yticks(range(len(models)))
    ax.set_yticklabels([m["label"] for m in models], fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of test samples")
    ax.set_title("First failed H-PRM level")
    ax.legend(fontsize=7, ncol=len(kinds), loc="upper center", bbox_to_anchor=(0.5, -0.35))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def read_training_curves(runs: str = "outputs/*/runs") -> dict[str, dict[str, list[tuple[int, float]]]]:
    """{run name: {tag: [(step, value), ...]}} from the TensorBoard event files under a glob."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    curves: dict[str, dict[str, list[tuple[int, float]]]] = {}
    for runs_dir in sorted(glob.glob(runs)):
        runs_dir = Path(runs_dir)
        name = runs_dir.parent.name if runs_dir.name == "runs" else runs_dir.name
        scalars: dict[str, dict[int, float]] = {}
        folders = sorted({p.parent for p in runs_dir.rglob("events.out.tfevents.*")})
        for folder in folders:
            accumulator = EventAccumulator(str(folder), size_guidance={"scalars": 0})
            accumulator.Reload()
            for tag in accumulator.Tags().get("scalars", []):
                for event in accumulator.Scalars(tag):
                    scalars.setdefault(tag, {})[event.step] = event.value
        if scalars:
            curves[name] = {tag: sorted(points.items()) for tag, points in scalars.items()}
    return curves


def plot_training_curves(curves: dict, path: Path) -> bool:
    """One row per run (SFT, GRPO, ...): its loss, reward, KL and val panels; False when nothing to plot.

    Runs get their own rows because their scales differ (SFT's cross-entropy vs GRPO's loss).
    """
    import matplotlib.pyplot as plt

    rows = []
    # pipeline order first (SFT above GRPO), then any other run (ablations) by name
    for name, run in sorted(
        curves.items(), key=lambda item: (PIPELINE_ORDER.get(item[0], len(PIPELINE_ORDER)), item[0])
    ):
        panels = [(title, _first_tag(run, tags)) for title, tags in CURVE_TAGS.items() if _first_tag(run, tags)]
        if panels:
            rows.append((name, run, panels))
    if not rows:
        return False
    columns = max(len(panels) for _, _, panels in rows)
    fig, axes = plt.subplots(len(rows), columns, figsize=(4.2 * columns, 3.0 * len(rows)), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for (name, run, panels), row_axes in zip(rows, axes):
        for ax, (title, tag) in zip(row_axes, panels):
            ax.axis("on")
            steps, values = zip(*run[tag])
            ax.plot(steps, values, marker="." if len(steps) < 20 else None, label=tag)
            eval_tag = _first_tag(run, EVAL_LOSS_TAGS) if title == "loss" else None
            if eval_tag:
                steps, values = zip(*run[eval_tag])
                ax.plot(steps, values, linestyle="--", marker=".", label=eval_tag)
            ax.set_title(f"{name}: {title}", fontsize=9)
            ax.set_xlabel("step", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def _first_tag(run: dict, tags) -> str | None:
    return next((tag for tag in tags if tag in run), None)


def _printable(text: str) -> str:
    """An untrained model's plan with its control characters shown as "?" (the font has no glyph)."""
    return "".join(c if c.isprintable() or c.isspace() else "?" for c in text)


def _training_lines(models: list[dict]) -> list[str]:
    """What trained each model, from the harp_config.yaml recorded with it (nothing for a model HARP did not train)."""
    lines = []
    for model in models:
        config = model.get("run_config")
        if not config or model.get("constrained"):
            continue
        if isinstance(config.get("reward"), dict):
            reward, training = config["reward"], config.get("training", {})
            what = (
                f"GRPO, FTCA {'on' if reward.get('use_ftca') else 'off'}, "
                f"{training.get('negatives_per_group', 0)} negatives per group"
            )
        else:
            what = f"SFT, {'LoRA' if config.get('model', {}).get('use_lora') else 'full fine-tuning'}"
        lines.append(f"- `{model['label']}`: {what} (its harp_config.yaml)")
    return ["Training runs:", "", *lines, ""] if lines else []


def plot_examples(rows: list[dict], path: Path) -> bool:
    """A grid of scenes, each captioned below with its task, predicted plan and verdict."""
    import matplotlib.pyplot as plt

    if not rows:
        return False
    columns = min(3, len(rows))
    grid_rows = (len(rows) + columns - 1) // columns
    fig, axes = plt.subplots(grid_rows, columns, figsize=(4.2 * columns, 5.6 * grid_rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, row in zip(axes.flat, rows):
        try:
            ax.imshow(open_image(row["image"]))
        except DataError:
            ax.text(0.5, 0.5, "image not found", ha="center", va="center", transform=ax.transAxes)
        verdict = "✓ complete" if row["completed"] else f"✗ {row['failure']}"
        caption = "\n".join(
            [
                *textwrap.wrap(f"task: {row['task']}", 52)[:2],
                *textwrap.wrap(f"plan: {_printable(row['prediction'])}", 52)[:4],
                *textwrap.wrap(verdict, 52)[:2],
            ]
        )
        ax.text(
            0.0,
            -0.03,
            caption,
            transform=ax.transAxes,
            va="top",
            ha="left",
            fontsize=7,
            color="green" if row["completed"] else "darkred",
        )
    fig.subplots_adjust(left=0.02, right=0.98, top=0.98, bottom=0.12, wspace=0.08, hspace=0.45)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True
