"""The report: markdown tables with the right figures, PNG plots, curves read from TensorBoard files."""

import json

import pytest
from PIL import Image

from harp.errors import HarpError
from harp.eval.metrics import details, summarize
from harp.eval.report import read_training_curves, write_report


def row(error_type, plan_length, total, image, num_objects=1, source_named=False, prediction="Pick(Apple)"):
    """A hand-made per-sample row, as harp.eval.metrics.sample_row writes them."""
    completed = error_type in (None, "inefficient")
    return {
        "id": None,
        "image": image,
        "task": "Put the apple into the basket",
        "reference": ["Pick(Apple)"],
        "prediction": prediction,
        "error_type": error_type,
        "failure": None if error_type is None else f"{error_type}: something",
        "completed": completed,
        "plan_length": plan_length,
        "total": total,
        "exact_match": error_type is None,
        "step_f1": 1.0 if error_type is None else 0.5,
        "num_objects": num_objects,
        "source_named": source_named,
        "baselines": {"uniform": 0.5, "most_loaded": 0.75},
        "hprm": {"total": total},
    }


def make_results(tmp_path):
    image = tmp_path / "scene_0.png"
    Image.new("RGB", (64, 48), "orange").save(image)
    models = []
    for label, types, constrained in [
        ("sft/final", [None, "format", "task", "action"], False),
        ("grpo/final", [None, None, "inefficient", "state_transition"], False),
        ("grpo/final+constrained", [None, None, None, "task"], True),
    ]:
        rows = [row(t, 4, 1.0 if t is None else -0.5, str(image), num_objects=1 + i % 2) for i, t in enumerate(types)]
        path = tmp_path / "predictions" / (label.replace("/", "-") + ".jsonl")
        path.parent.mkdir(exist_ok=True)
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        models.append(
            {
                "label": label,
                "model_path": "outputs/" + label.split("+")[0],
                "constrained": constrained,
                "metrics": summarize(rows),
                **details(rows),
                "predictions": str(path),
            }
        )
    details_path = tmp_path / "evaluation_details.json"
    details_path.write_text(
        json.dumps(
            {
                "test_data": "data/sft_test.jsonl",
                "domain": "navigate_pick_place",
                "primary": "grpo/final+constrained",
                "max_new_tokens": 64,
                "batch_size": 4,
                "models": models,
            }
        )
    )
    return details_path


def write_events(run_dir, tags):
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(run_dir))
    for step in range(1, 6):
        for tag, value in tags.items():
            writer.add_scalar(tag, value(step), step)
    writer.close()


def test_training_curves_are_read_from_event_files(tmp_path):
    write_events(tmp_path / "outputs" / "sft" / "runs", {"train/loss": lambda s: 2.0 / s})
    write_events(
        tmp_path / "outputs" / "grpo" / "runs", {"train/reward": lambda s: 0.1 * s, "train/kl": lambda s: 0.01}
    )
    curves = read_training_curves(str(tmp_path / "outputs" / "*" / "runs"))
    assert set(curves) == {"sft", "grpo"}
    assert [step for step, _ in curves["sft"]["train/loss"]] == [1, 2, 3, 4, 5]
    assert abs(curves["sft"]["train/loss"][3][1] - 0.5) < 1e-6
    assert abs(curves["grpo"]["train/reward"][-1][1] - 0.5) < 1e-6


def test_report_has_the_side_by_side_table_and_plots(tmp_path):
    details_path = make_results(tmp_path)
    write_events(
        tmp_path / "outputs" / "grpo" / "runs", {"train/reward": lambda s: 0.1 * s, "train/kl_div": lambda s: 0.0}
    )
    report = write_report(details_path, runs=str(tmp_path / "outputs" / "*" / "runs"))
    text = report.read_text()
    assert report == tmp_path / "report.md"
    assert "| metric | `sft/final` | `grpo/final` | `grpo/final+constrained` |" in text
    # the constrained run ties on task completion and wins on reward
    assert "Highest task completion: `grpo/final+constrained` (0.7500, mean reward +0.6250)." in text
    assert "`grpo/final` +0.5000 / +0.3750" in text
    # sft: 2 of 4 samples parse (format failed once... and action/task failures parse): 3/4
    assert "| format_accuracy | 0.7500 | 1.0000 | 1.0000 |" in text
    assert "| task_completion | 0.2500 | 0.7500 | 0.7500 |" in text
    assert "| exact_match | 0.2500 | 0.5000 | 0.7500 |" in text
    # the model's own format accuracy beside the enforced one
    assert "| `outputs/grpo/final` | 1.0000 | 1.0000 | 0.7500 | 0.7500 |" in text
    # failures by error type: none, format, action, state_transition, task, inefficient
    assert "| `sft/final` | 1 | 1 | 1 | 0 | 1 | 0 |" in text
    # task completion by kind, one column per model: rows 0 and 2 have one object, rows 1 and 3 two
    # ... with the two shortcut baselines beside them (uniform guess, most-loaded table)
    assert "| task kind | n | `sft/final` | `grpo/final` | `grpo/final+constrained` | uniform | most-loaded |" in text
    assert "| 1 object, source not named | 2 | 0.5000 | 1.0000 | 1.0000 | 0.5000 | 0.7500 |" in text
    assert "| 2 objects, source not named | 2 | 0.0000 | 0.5000 | 0.5000 | 0.5000 | 0.7500 |" in text
    # by the reference plan's length (every reference here is one step); no task types in these records
    assert "## By the reference plan's length" in text and "## By task type" not in text
    assert "| 1-4 steps | 4 | 0.2500 | 0.7500 | 0.7500 | -0.1250 | +0.2500 | +0.6250 |" in text
    for name in ("metrics", "failures", "training_curves", "examples"):
        png = tmp_path / "plots" / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert f"plots/{name}.png" in text


def test_report_without_training_runs_says_so(tmp_path):
    details_path = make_results(tmp_path)
    text = write_report(details_path, runs=str(tmp_path / "nowhere" / "*" / "runs")).read_text()
    assert "No TensorBoard scalars found" in text
    assert not (tmp_path / "plots" / "training_curves.png").exists()


def test_report_without_details_is_a_one_line_error(tmp_path):
    with pytest.raises(HarpError, match=r"evaluation_details.json: not found"):
        write_report(tmp_path / "evaluation_details.json")


def test_control_characters_in_a_plan_draw_without_font_warnings(tmp_path):
    import warnings

    from harp.eval.report import plot_examples

    image = tmp_path / "scene_0.png"
    Image.new("RGB", (64, 48), "orange").save(image)
    rows = [row("format", 1, -0.95, str(image), prediction="Pick(\x00Apple\x19)\x7f")]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib's "Glyph 19 missing" is a UserWarning
        assert plot_examples(rows, tmp_path / "examples.png")
