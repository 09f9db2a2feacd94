"""Training runs that go wrong (issue 11): a loss that turns NaN stops before anything is saved,
and a kill in the middle of a checkpoint save leaves a run that `--resume` continues from the
newest complete checkpoint, for SFT and GRPO alike."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def setup(tmp_path_factory, micro_model_dir):
    """A micro model (stands in for base and SFT model) and 6 synthetic records: 4 train, 2 val."""
    from harp.data.records import read_records, write_records
    from harp.data.synthetic import build_synthetic

    root = tmp_path_factory.mktemp("hardening")
    build_synthetic(num_scenes=6, seed=1, images_dir=root / "img", output_dir=root, progress=False)
    records = read_records(root / "actions.jsonl")
    write_records(root / "train.jsonl", records[:4])
    write_records(root / "val.jsonl", records[4:])
    (root / "model").symlink_to(micro_model_dir)  # the shared micro model, at the path the configs name
    (root / "sft.yaml").write_text(
        json.dumps(
            {
                "model": {"name": str(root / "model"), "use_lora": False, "freeze_vision_encoder": False},
                "data": {"train_path": str(root / "train.jsonl"), "val_path": None},
                "training": {
                    "max_steps": 4,
                    "per_device_train_batch_size": 2,
                    "gradient_accumulation_steps": 1,
                    "learning_rate": 1e-2,
                    "warmup_steps": 0,
                    "logging_steps": 1,
                    "save_steps": 2,
                    "report_to": ["none"],
                    "bf16": False,
                },
            }
        )
    )
    return root


def grpo_overrides(root, out, steps=4):
    return [
        f"model.sft_model_path={root / 'model'}",
        f"data.train_path={root / 'train.jsonl'}",
        f"data.val_path={root / 'val.jsonl'}",
        "data.negative_path=null",
        f"training.output_dir={out}",
        f"training.max_steps={steps}",
        "training.per_device_train_batch_size=1",
        "training.num_candidates=2",
        "training.negatives_per_group=0",
        "training.max_new_tokens=6",
        "training.logging_steps=1",
        "training.save_steps=2",
        "training.eval_steps=100",
        "training.max_eval_samples=1",
        "training.report_to=none",
        "training.bf16=false",
    ]


def all_finite(folder):
    import torch
    from safetensors.torch import load_file

    return all(torch.isfinite(t).all() for t in load_file(str(Path(folder) / "model.safetensors")).values())


def test_sft_whose_loss_turns_nan_stops_and_saves_nothing_from_it(setup, tmp_path):
    from harp.config import load_sft_config
    from harp.errors import HarpError
    from harp.train.sft import train_sft

    out = tmp_path / "sft"
    (out / "final").mkdir(parents=True)
    (out / "final" / "marker").write_text("an earlier good model")
    # 1e30 is finite, so the config takes it; Adam's first step puts weights near 1e30 and the next loss overflows.
    config = load_sft_config(
        setup / "sft.yaml", [f"training.output_dir={out}", "training.learning_rate=1e30", "training.save_steps=1"]
    )
    with pytest.raises(HarpError) as caught:
        train_sft(config)
    message = str(caught.value)
    assert "NaN or infinite" in message and "\n" not in message
    assert [p.name for p in (out / "final").iterdir()] == ["marker"]  # final/ untouched
    for checkpoint in out.glob("checkpoint-*"):  # whatever was saved before the guard fired is finite
        assert all_finite(checkpoint), checkpoint.name


def test_grpo_whose_weights_turn_nan_stops_before_best_and_final(setup, tmp_path):
    from harp.config import load_grpo_config
    from harp.errors import HarpError
    from harp.train.grpo import train_grpo

    out = tmp_path / "grpo"
    config = load_grpo_config(
        ROOT / "configs" / "demo" / "grpo.yaml",
        grpo_overrides(setup, out)
        + ["training.learning_rate=1e38", "training.warmup_steps=0", "training.eval_steps=1", "training.save_steps=1"],
    )
    with pytest.raises(HarpError, match="NaN or infinite"):
        train_grpo(config, progress=False)
    assert not (out / "final").exists()
    for folder in [*out.glob("checkpoint-*"), out / "best"]:
        if folder.is_dir():
            assert all_finite(folder), folder.name


def kill_during_save(kind, config, out, overrides, step=4):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    flags = ["--config", str(config)] + [arg for o in overrides for arg in ("--set", o)]
    result = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "train" / "kill_during_save.py"), kind, str(step), *flags],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == -9, result.stderr[-2000:]
    assert (out / f"checkpoint-{step}" / "model.safetensors").is_file()  # killed mid-save: weights, no optimizer
    assert not (out / f"checkpoint-{step}" / "optimizer.pt").exists()
    assert not (out / "final").exists()


def check_resume_skips_the_broken_checkpoint(capsys, out, train, load):
    from harp.errors import ConfigError

    with pytest.raises(ConfigError, match=r"checkpoint-4 is incomplete \(no optimizer\.pt, no scheduler\.pt"):
        train(
            load([f"training.resume_from_checkpoint={out / 'checkpoint-4'}"])
        )  # by path: refused before the model loads
    capsys.readouterr()
    train(load(["training.resume_from_checkpoint=true"]))
    assert f"resume: skipped {out / 'checkpoint-4'} (incomplete" in capsys.readouterr().err
    state = json.loads((out / "checkpoint-4" / "trainer_state.json").read_text())
    assert state["global_step"] == 4 and (out / "final" / "model.safetensors").is_file()


def test_sft_killed_during_a_save_resumes_from_the_last_complete_checkpoint(setup, tmp_path, capsys):
    from harp.config import load_sft_config
    from harp.train.sft import train_sft

    out = tmp_path / "sft"
    kill_during_save("sft", setup / "sft.yaml", out, [f"training.output_dir={out}"])
    check_resume_skips_the_broken_checkpoint(
        capsys,
        out,
        train_sft,
        lambda extra: load_sft_config(setup / "sft.yaml", [f"training.output_dir={out}", *extra]),
    )


def test_grpo_killed_during_a_save_resumes_from_the_last_complete_checkpoint(setup, tmp_path, capsys):
    from harp.config import load_grpo_config
    from harp.train.grpo import train_grpo

    out = tmp_path / "grpo"
    config = ROOT / "configs" / "demo" / "grpo.yaml"
    kill_during_save("grpo", config, out, grpo_overrides(setup, out))
    check_resume_skips_the_broken_checkpoint(
        capsys,
        out,
        lambda c: train_grpo(c, progress=False),
        lambda extra: load_grpo_config(config, grpo_overrides(setup, out) + list(extra)),
    )
