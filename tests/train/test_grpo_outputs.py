"""`train_grpo` end to end on the tiny model: the guide's folders, TensorBoard names, val history, resume."""

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def setup(tmp_path, monkeypatch):
    from harp.data.records import read_records
    from harp.data.synthetic import build_synthetic
    from harp.models.tiny import build_tiny_model

    build_synthetic(num_scenes=6, seed=1, images_dir=tmp_path / "img", output_dir=tmp_path, progress=False)
    records = [r for r in read_records(tmp_path / "actions.jsonl")]
    clean = [{k: v for k, v in r.items() if not k.startswith("_")} for r in records]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in clean[:4]))
    (tmp_path / "val.jsonl").write_text("".join(json.dumps(r) + "\n" for r in clean[4:]))
    build_tiny_model(tmp_path / "sft")  # stands in for an SFT model: only the plumbing is tested here
    monkeypatch.chdir(tmp_path)
    return tmp_path


def config(root, max_steps):
    from harp.config import load_grpo_config

    return load_grpo_config(ROOT / "configs" / "demo" / "grpo.yaml", [
        f"model.sft_model_path={root / 'sft'}", f"data.train_path={root / 'train.jsonl'}",
        f"data.val_path={root / 'val.jsonl'}", "data.negative_path=null", f"training.output_dir={root / 'grpo'}",
        f"training.max_steps={max_steps}", "training.per_device_train_batch_size=1", "training.num_candidates=2",
        "training.negatives_per_group=1", "training.max_new_tokens=8", "training.logging_steps=1",
        "training.save_steps=2", "training.eval_steps=1"])



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
    for tag in ("train/loss", "train/reward", "train/kl_div", "train/lr", "train/reward/format",
                "train/reward/task", "train/negatives/reward", "eval/task_completion", "eval/avg_reward"):
        assert tag in tags, tag
    history = [json.loads(line) for line in (out / "eval_history.jsonl").read_text().splitlines()]
    assert [row["step"] for row in history] == [0, 1, 2]  # the SFT baseline, then every eval_steps
    assert any(row["best"] for row in history)

    # resume from checkpoint-2 and go on to step 3
    train_grpo(config(root, 3), resume=True, progress=False)
    assert (out / "checkpoint-3").is_dir()
    state = json.loads((out / "checkpoint-3" / "trainer_state.json").read_text())
    assert state["global_step"] == 3
    history = [json.loads(line) for line in (out / "eval_history.jsonl").read_text().splitlines()]
    assert [row["step"] for row in history] == [0, 1, 2, 3]  # no second baseline after a resume
