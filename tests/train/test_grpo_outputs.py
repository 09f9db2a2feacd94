"""`train_grpo` end to end on the tiny model: the guide's folders, TensorBoard names, val history, resume."""

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def setup(tmp_path, monkeypatch, tiny_model_dir):
    from harp.data.records import read_records, write_records
    from harp.data.synthetic import build_synthetic

    build_synthetic(num_scenes=6, seed=1, images_dir=tmp_path / "img", output_dir=tmp_path, progress=False)
    records = read_records(tmp_path / "actions.jsonl")
    write_records(tmp_path / "train.jsonl", records[:4])
    write_records(tmp_path / "val.jsonl", records[4:])
    (tmp_path / "sft").symlink_to(tiny_model_dir)  # stands in for an SFT model: only the plumbing is tested here
    monkeypatch.chdir(tmp_path)
    return tmp_path


def config(root, max_steps):
    from harp.config import load_grpo_config

    return load_grpo_config(
        ROOT / "configs" / "demo" / "grpo.yaml",
        [
            f"model.sft_model_path={root / 'sft'}",
            f"data.train_path={root / 'train.jsonl'}",
            f"data.val_path={root / 'val.jsonl'}",
            "data.negative_path=null",
            f"training.output_dir={root / 'grpo'}",
            f"training.max_steps={max_steps}",
            "training.per_device_train_batch_size=1",
            "training.num_candidates=2",
            "training.negatives_per_group=1",
            "training.max_new_tokens=8",
            "training.logging_steps=1",
            "training.save_steps=2",
            "training.eval_steps=1",
            "reward.w_task=0.6",
            "reward.use_ftca=false",
        ],
    )


def scalars(run_dir: Path) -> set[str]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags = set()
    for events in run_dir.rglob("events.out.tfevents.*"):
        accumulator = EventAccumulator(str(events))
        accumulator.Reload()
        tags |= set(accumulator.Tags()["scalars"])
    return tags


def test_outputs_metric_names_and_resume(setup):
    from harp.train.grpo import train_grpo

    root = setup
    final = train_grpo(config(root, 2), progress=False)
    out = root / "grpo"
    assert final == out / "final"
    for folder in ("checkpoint-2", "best", "final"):
        assert (out / folder / "config.json").is_file(), folder
    assert (out / "final" / "tokenizer.json").is_file()  # loadable on its own, processor included
    tags = scalars(out / "runs")
    for tag in (
        "train/loss",
        "train/reward",
        "train/kl_div",
        "train/lr",
        "train/reward/format",
        "train/reward/task",
        "train/negatives/reward",
        "eval/task_completion",
        "eval/avg_reward",
    ):
        assert tag in tags, tag
    history = [json.loads(line) for line in (out / "eval_history.jsonl").read_text().splitlines()]
    assert [row["step"] for row in history] == [0, 1, 2]  # the SFT baseline, then every eval_steps
    assert any(row["best"] for row in history)

    # Each output folder records the resolved config; evaluation reads it and scores avg_reward with the
    # training weights (w_task=0.6, not the guide's 0.25), so it equals the last validation's avg_reward.
    from harp.config import RUN_CONFIG_FILE, load_grpo_config
    from harp.eval.evaluate import evaluate

    for folder in (out, out / "checkpoint-2", out / "best", out / "final"):
        recorded = load_grpo_config(folder / RUN_CONFIG_FILE, check_files=False)
        assert recorded.reward.w_task == 0.6 and recorded.reward.use_ftca is False, folder
    results = evaluate(
        [str(final)],
        root / "val.jsonl",
        root / "results" / "evaluation.json",
        batch_size=4,
        max_new_tokens=8,
        report=False,
        quiet=True,
    )
    (metrics,) = results.values()
    assert metrics["avg_reward"] == pytest.approx(history[-1]["avg_reward"], abs=1e-4)
    details = json.loads((root / "results" / "evaluation_details.json").read_text())
    assert details["reward_weights"]["w_task"] == 0.6 and details["reward_weights_from"] == str(final)
    assert details["models"][0]["run_config"]["reward"]["use_ftca"] is False

    # resume from checkpoint-2 and go on to step 3
    train_grpo(config(root, 3), resume=True, progress=False)
    assert (out / "checkpoint-3").is_dir()
    state = json.loads((out / "checkpoint-3" / "trainer_state.json").read_text())
    assert state["global_step"] == 3
    history = [json.loads(line) for line in (out / "eval_history.jsonl").read_text().splitlines()]
    assert [row["step"] for row in history] == [0, 1, 2, 3]  # no second baseline after a resume
