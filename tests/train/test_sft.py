"""SFT on the micro Qwen2.5-VL: a short run lowers the loss and writes the guide's folders; LoRA is merged
into final/; the frozen vision tower stays put; an interrupted run resumes to the same end; the script
takes the launchers' flags; config mistakes are one line."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harp.config import load_sft_config
from harp.errors import ConfigError
from harp.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def setup(tmp_path_factory, micro_model_dir):
    """A micro model and 16 synthetic records split 12/2/2, with absolute image paths."""
    from harp.data.split import split_records
    from harp.data.synthetic import build_synthetic

    root = tmp_path_factory.mktemp("sft")
    model = micro_model_dir
    build_synthetic(num_scenes=16, seed=5, images_dir=root / "bdv2", output_dir=root, progress=False)
    split_records(root / "actions.jsonl", root / "data")
    return root, model


def write_config(root, model, out, **training):
    config = {
        "model": {"name": str(model), "use_lora": True, "freeze_vision_encoder": True},
        "lora": {"rank": 4, "alpha": 8, "dropout": 0.0, "target_modules": ["q_proj", "v_proj", "down_proj"]},
        "data": {
            "train_path": str(root / "data" / "sft_train.jsonl"),
            "val_path": str(root / "data" / "sft_val.jsonl"),
        },
        "training": {
            "output_dir": str(out),
            "max_steps": 6,
            "per_device_train_batch_size": 2,
            "gradient_accumulation_steps": 1,
            "learning_rate": 3e-2,
            "warmup_steps": 0,
            "logging_steps": 1,
            "save_steps": 3,
            "eval_steps": 3,
            "report_to": ["tensorboard"],
            "bf16": False,
            **training,
        },
    }
    path = out.parent / f"{out.name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def weights(model_dir):
    from safetensors.torch import load_file

    return load_file(str(Path(model_dir) / "model.safetensors"))


def mean_plan_loss(model_dir, data_file):
    """Mean loss on the plan tokens of a records file, as the collator masks them."""
    import torch

    from harp.models.load import load_model_and_processor
    from harp.plan import load_domain
    from harp.train.sft_data import PlanCollator, load_examples

    model, processor = load_model_and_processor(model_dir, device="cpu")
    collator = PlanCollator(processor, load_domain("navigate_pick_place"))
    with torch.no_grad():
        return float(model(**collator(load_examples(data_file))).loss)


def test_lora_run_lowers_the_loss_and_writes_the_guides_folders(setup, tmp_path):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from harp.train.sft import train_sft

    root, model = setup
    out = tmp_path / "sft"
    final = train_sft(load_sft_config(write_config(root, model, out)))

    assert final == out / "final"
    assert {p.name for p in out.glob("checkpoint-*")} == {"checkpoint-3", "checkpoint-6"}
    assert list((out / "runs").rglob("events.out.tfevents.*"))  # TensorBoard
    assert not (out / "final-adapter").exists() and not (final / "adapter_config.json").exists()
    state = json.loads((out / "checkpoint-6" / "trainer_state.json").read_text())
    assert state["global_step"] == 6 and any("eval_loss" in row for row in state["log_history"])

    AutoModelForImageTextToText.from_pretrained(final)  # loads like any checkpoint, with its processor
    assert type(AutoProcessor.from_pretrained(final)).__name__ == "Qwen2_5_VLProcessor"
    base, tuned = weights(model), weights(final)
    assert base.keys() == tuned.keys()  # merged: no lora_A / lora_B left
    changed = {k for k in base if not (base[k] == tuned[k]).all()}
    assert changed and all(k.endswith(("q_proj.weight", "v_proj.weight", "down_proj.weight")) for k in changed)
    # the vision blocks have down_proj layers too, but the frozen tower gets no adapters
    assert not any("visual" in k for k in changed)

    # adapters alone move a random micro model's near-uniform output only a little, but they move it down
    train_file = root / "data" / "sft_train.jsonl"
    assert mean_plan_loss(final, train_file) < mean_plan_loss(model, train_file) - 0.02


def test_interrupted_full_fine_tuning_resumes_to_the_same_end(setup, tmp_path, monkeypatch):
    from transformers import TrainerCallback

    from harp.train import sft

    root, model = setup
    settings = {"max_steps": 4, "save_steps": 2, "eval_steps": 2, "learning_rate": 1e-2}

    def config(out):
        path = write_config(root, model, out, **settings)
        return load_sft_config(path, ["model.use_lora=false", "model.freeze_vision_encoder=false"])

    straight = sft.train_sft(config(tmp_path / "straight"))

    class Crash(TrainerCallback):  # a kill after step 3: checkpoint-2 is on disk, step 3 is lost
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 3:
                raise KeyboardInterrupt

    build = sft.build_trainer
    monkeypatch.setattr(sft, "build_trainer", lambda *a, **k: _with_callback(build(*a, **k), Crash()))
    out = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        sft.train_sft(config(out))
    assert not (out / "final").exists() and (out / "checkpoint-2").is_dir()

    monkeypatch.setattr(sft, "build_trainer", build)
    resumed = sft.train_sft(
        load_sft_config(
            write_config(root, model, out, **settings),
            ["model.use_lora=false", "model.freeze_vision_encoder=false", "training.resume_from_checkpoint=true"],
        )
    )
    state = json.loads((out / "checkpoint-4" / "trainer_state.json").read_text())
    assert state["global_step"] == 4 and state["max_steps"] == 4
    a, b = weights(straight), weights(resumed)
    diffs = {k: float((a[k] - b[k]).abs().max()) for k in a}
    assert max(diffs.values()) < 1e-5  # same data order and optimizer state
    base = weights(model)
    assert any(not (base[k] == b[k]).all() for k in b if "visual" in k)  # full fine-tuning moved the vision tower
    train_file = root / "data" / "sft_train.jsonl"
    assert mean_plan_loss(resumed, train_file) < mean_plan_loss(model, train_file) - 0.5  # 4 steps at lr 1e-2


def test_few_labels_train_on_the_first_records_only(setup, tmp_path):
    from harp.train.sft import train_sft

    root, model = setup
    out = tmp_path / "few"
    path = write_config(root, model, out, max_steps=-1, num_epochs=1, save_steps=2, eval_steps=100)
    train_sft(load_sft_config(path, ["data.max_train_records=4"]))
    # one epoch of 4 records at 2 per step; all 12 would take 6 steps (checkpoint-4, checkpoint-6)
    assert {p.name for p in out.glob("checkpoint-*")} == {"checkpoint-2"}


def _with_callback(trainer, callback):
    trainer.add_callback(callback)
    return trainer


def test_script_takes_the_launcher_flags(setup, tmp_path, monkeypatch):
    import argparse

    from harp.train.cli import SFT, add_launch_arguments, launch_overrides

    def parse_args(argv):
        parser = argparse.ArgumentParser()
        add_launch_arguments(parser)
        return parser.parse_args(argv)

    def main(argv):
        return SFT.main("train_sft.py", argv)

    args = parse_args(
        [
            "--local_rank=3",
            "--config",
            "c.yaml",
            "--deepspeed",
            "configs/ds_config_zero3.json",
            "--set",
            "training.num_epochs=1",
            "--resume",
        ]
    )
    assert args.local_rank == 3
    assert launch_overrides(args) == [
        "training.num_epochs=1",
        "training.deepspeed=configs/ds_config_zero3.json",
        "training.resume_from_checkpoint=true",
    ]
    assert (
        launch_overrides(parse_args(["--config", "c.yaml", "--resume", "out/checkpoint-2"]))[-1]
        == "training.resume_from_checkpoint=out/checkpoint-2"
    )

    root, model = setup
    out = tmp_path / "flags"
    path = write_config(root, model, out)
    assert (
        main(
            ["--local-rank", "0", "--config", str(path), "--set", "training.max_steps=1", "--set", "data.val_path=null"]
        )
        == 0
    )
    assert (out / "final" / "model.safetensors").is_file()
    for folder in (out, out / "final"):  # the run records its resolved config, overrides included
        recorded = load_sft_config(folder / "harp_config.yaml", check_files=False)
        assert recorded.training.max_steps == 1 and recorded.data.val_path is None, folder


@pytest.mark.parametrize("launcher", ["accelerate", "deepspeed-style"])
def test_launchers_start_the_script(setup, tmp_path, launcher):
    """`accelerate launch` and the environment + `--local_rank` that the deepspeed launcher gives each rank."""
    root, model = setup
    out = tmp_path / launcher
    path = write_config(root, model, out, max_steps=1)
    script = [str(ROOT / "scripts" / "train_sft.py"), "--config", str(path), "--set", "data.val_path=null"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if launcher == "accelerate":
        command = [
            sys.executable,
            "-m",
            "accelerate.commands.launch",
            "--cpu",
            "--num_processes",
            "1",
            "--num_machines",
            "1",
            "--mixed_precision",
            "no",
            "--dynamo_backend",
            "no",
            *script,
        ]
    else:
        command = [sys.executable, script[0], "--local_rank=0", *script[1:]]
        env.update(LOCAL_RANK="0", RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()))
    run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert (out / "final" / "model.safetensors").is_file()


def test_config_mistakes_are_one_line(setup, tmp_path, capsys, monkeypatch):
    from harp.train.cli import SFT
    from harp.train.run_setup import check_deepspeed, load_domain

    def main(argv):
        return SFT.main("train_sft.py", argv)

    root, model = setup
    path = write_config(root, model, tmp_path / "bad")
    assert main(["--config", str(path), "--set", "training.learning_rat=1"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "training.learning_rat: unknown key (did you mean 'training.learning_rate'?)" in err

    assert main(["--config", str(tmp_path / "missing.yaml")]) == 1
    assert "config file not found" in capsys.readouterr().err

    with pytest.raises(ConfigError, match=r"x.yaml: model.domain: domain 'kitchen': no such domain"):
        load_domain("kitchen", "x.yaml")

    ds = tmp_path / "ds.json"
    ds.write_text("{}")
    config = load_sft_config(path, [f"training.deepspeed={ds}"])
    import importlib.util

    import torch

    # On any machine (with or without a GPU or deepspeed): no package is one line; no GPU is DeepSpeed's
    # CPU accelerator, said once, and no launcher is a launch of one process.
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "deepspeed" else real_find_spec(name, *a)
    )
    with pytest.raises(ConfigError, match="training.deepspeed: the deepspeed package is not installed"):
        check_deepspeed(config)
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: object() if name == "deepspeed" else real_find_spec(name, *a)
    )
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    launch = ("DS_ACCELERATOR", "RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
    monkeypatch.setattr(os, "environ", {k: v for k, v in os.environ.items() if k not in launch})  # restored after
    capsys.readouterr()
    check_deepspeed(config)
    assert capsys.readouterr().err == (
        "harp: warning: training.deepspeed: no GPU visible; DeepSpeed runs on its CPU accelerator (gloo)\n"
    )
    assert os.environ["DS_ACCELERATOR"] == "cpu" and os.environ["WORLD_SIZE"] == "1" and os.environ["MASTER_PORT"]
