"""The guide's `report_to: ["tensorboard", "wandb"]` with W&B installed (`pip install -e ".[gpu]"`) and no
login: the run logs to W&B offline (./wandb, `wandb sync` later) and to TensorBoard, with one warning.
Skipped where wandb is not installed (`make test`'s .venv: wandb is in the gpu extra only)."""

import json

import pytest

pytest.importorskip("wandb")
pytestmark = pytest.mark.slow  # trains the micro model


def test_the_guide_s_loggers_log_to_wandb_offline_without_a_login(micro_model_dir, tmp_path, monkeypatch, capsys):
    from harp.config import load_sft_config
    from harp.data.records import read_records, write_records
    from harp.data.synthetic import build_synthetic
    from harp.train.sft import train_sft

    monkeypatch.chdir(tmp_path)
    for key in ("WANDB_API_KEY", "WANDB_MODE"):
        monkeypatch.setenv(key, "")  # restored after the test (HARP sets WANDB_MODE)
    monkeypatch.delenv("WANDB_API_KEY")
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))  # no `wandb login` on record
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    build_synthetic(num_scenes=2, seed=1, images_dir=tmp_path / "img", output_dir=tmp_path, progress=False)
    write_records(tmp_path / "train.jsonl", read_records(tmp_path / "actions.jsonl"))
    config = tmp_path / "sft.yaml"
    config.write_text(
        json.dumps(
            {
                "model": {"name": str(micro_model_dir), "use_lora": False, "freeze_vision_encoder": False},
                "data": {"train_path": "train.jsonl", "val_path": None},
                "training": {
                    "output_dir": "out",
                    "max_steps": 2,
                    "per_device_train_batch_size": 1,
                    "logging_steps": 1,
                    "save_steps": 2,
                    "bf16": False,
                    "report_to": ["tensorboard", "wandb"],
                    "run_name": "sft_w&b",
                },
            }
        )
    )
    train_sft(load_sft_config(config))
    train_sft(load_sft_config(config, ["training.output_dir=again", "training.max_steps=1"]))

    assert capsys.readouterr().err.count("no W&B login found") == 1  # the second run is offline already
    runs = sorted((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 2  # each stage its own run (the Trainer leaves its run open; HARP ends it)
    for run in runs:
        (log,) = run.glob("run-*.wandb")  # what `wandb sync` uploads: the run's name and its metrics
        assert all(key in log.read_bytes() for key in (b"sft_w&b", b"train/loss", b"train/global_step"))
    assert list((tmp_path / "out" / "runs").rglob("events.out.tfevents.*"))  # TensorBoard as well
