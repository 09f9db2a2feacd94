"""GRPO killed mid-run and resumed ends with exactly the weights of an uninterrupted run (issue 11),
across an epoch boundary and with more negatives per prompt than slots: TRL's sampler replayed the
first epoch's order after a resume, and the negatives' rotation restarted (harp.train.grpo_trainer)."""

from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def setup(tmp_path):
    from harp.data.records import read_records, write_records
    from harp.data.synthetic import build_synthetic
    from harp.models.tiny import MICRO_SIZES, build_tiny_model

    build_synthetic(num_scenes=6, seed=1, images_dir=tmp_path / "img", output_dir=tmp_path, progress=False)
    records = [dict(r) for r in read_records(tmp_path / "actions.jsonl")]
    write_records(tmp_path / "train.jsonl", records[:4])
    write_records(tmp_path / "val.jsonl", records[4:])
    negatives = []
    for r in records[:4]:  # three wrong plans per prompt, one slot per group: the rotation matters
        for wrong in (r["plan"][:-1], r["plan"][::-1], r["plan"][1:]):
            negatives.append({**r, "plan": wrong, "reference": r["plan"], "error_type": "task"})
    write_records(tmp_path / "negatives.jsonl", negatives)
    build_tiny_model(tmp_path / "model", sizes=MICRO_SIZES)
    return tmp_path


def config(root, out, *extra):
    from harp.config import load_grpo_config

    return load_grpo_config(
        ROOT / "configs" / "demo" / "grpo.yaml",
        [
            f"model.sft_model_path={root / 'model'}",
            f"data.train_path={root / 'train.jsonl'}",
            f"data.val_path={root / 'val.jsonl'}",
            f"data.negative_path={root / 'negatives.jsonl'}",
            f"training.output_dir={out}",
            "training.max_steps=4",
            "training.per_device_train_batch_size=1",
            "training.num_candidates=2",
            "training.negatives_per_group=1",
            "training.max_new_tokens=6",
            "training.gradient_accumulation_steps=2",  # 2 prompts per step, 4 prompts: an epoch is 2 steps
            "training.logging_steps=1",
            "training.save_steps=2",
            "training.eval_steps=100",
            "training.max_eval_samples=1",
            "training.report_to=none",
            "training.bf16=false",
            "training.learning_rate=1e-3",
            "training.warmup_steps=0",
            *extra,
        ],
    )


def test_a_killed_grpo_run_resumes_to_the_same_weights_and_a_finished_one_takes_no_step(setup, monkeypatch):
    from safetensors.torch import load_file
    from transformers import TrainerCallback

    from harp.train import grpo

    straight = grpo.train_grpo(config(setup, setup / "straight"), progress=False)

    class Crash(TrainerCallback):  # a kill after step 3: checkpoint-2 (end of epoch 1) is on disk
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 3:
                raise KeyboardInterrupt

    build = grpo.build_trainer

    def crashing(*args, **kwargs):
        trainer = build(*args, **kwargs)
        trainer.add_callback(Crash())
        return trainer

    monkeypatch.setattr(grpo, "build_trainer", crashing)
    with pytest.raises(KeyboardInterrupt):
        grpo.train_grpo(config(setup, setup / "resumed"), progress=False)
    monkeypatch.setattr(grpo, "build_trainer", build)
    resumed = grpo.train_grpo(config(setup, setup / "resumed"), resume=True, progress=False)

    a, b = load_file(str(straight / "model.safetensors")), load_file(str(resumed / "model.safetensors"))
    assert max(float((a[k] - b[k]).abs().max()) for k in a) == 0.0

    # Killed while `final/` was being written, every checkpoint on disk, mid-epoch: resumed, it takes
    # no step more (the Trainer checks max_steps only after a step; harp.train.checkpoint.ResumableMixin).
    ended = grpo.train_grpo(config(setup, setup / "ended", "training.max_steps=3"), progress=False)
    a = load_file(str(ended / "model.safetensors"))
    again = grpo.train_grpo(config(setup, setup / "ended", "training.max_steps=3"), resume=True, progress=False)
    b = load_file(str(again / "model.safetensors"))
    assert max(float((a[k] - b[k]).abs().max()) for k in a) == 0.0
    assert (setup / "ended" / "checkpoint-3").is_dir() and not (setup / "ended" / "checkpoint-4").exists()
