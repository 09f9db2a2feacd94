"""Launching HARP in two processes on the CPU, for the multi-process tests (test_multiprocess.py,
test_deepspeed.py): the launchers, the small world they train in, and checks on what a launch wrote.
The folder is on sys.path (conftest.py), so a test imports these with `from launching import ...`."""

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from harp.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).with_name("multiprocess_probe.py")


def launch(
    cwd: Path, script: Path, *args: str, env: dict | None = None, launcher: str = "accelerate", timeout: int = 300
) -> subprocess.CompletedProcess:
    """Two processes of `script`: `accelerate launch --multi_gpu --num_processes 2`, or the guide's
    `deepspeed --num_gpus 2` (a free port each: other runs may hold the launchers' default)."""
    port = str(free_port())
    if launcher == "deepspeed":
        command = [str(Path(sys.executable).with_name("deepspeed")), "--num_gpus", "2", "--master_port", port]
    else:
        command = [
            sys.executable,
            "-m",
            "accelerate.commands.launch",
            "--multi_gpu",
            "--num_processes",
            "2",
            "--num_machines",
            "1",
            "--mixed_precision",
            "no",
            "--dynamo_backend",
            "no",
            "--main_process_port",
            port,
        ]
    environment = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OMP_NUM_THREADS": "1",
        "CUDA_VISIBLE_DEVICES": "",
        **(env or {}),
    }
    return subprocess.run(
        [*command, str(script), *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout
    )


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def state(folder: Path) -> dict:
    return json.loads((folder / "trainer_state.json").read_text())


def event_writers(run_dir: Path) -> set[str]:
    """The processes that wrote TensorBoard events (file names end in .<pid>.<n>; one process may
    write two files: the Trainer reopens its writer for the evaluation after training)."""
    return {path.name.rsplit(".", 2)[1] for path in run_dir.rglob("events.out.tfevents.*")}


def warnings_once(stderr: str) -> list[str]:
    lines = [line for line in stderr.splitlines() if line.startswith("harp: warning:")]
    assert lines and len(lines) == len(set(lines)), lines
    return lines


def build_world(root: Path) -> Path:
    """12 synthetic scenes (8 train, 4 val), the tiny model, and a briefly fine-tuned one (it writes plans)."""
    from harp.config import load_sft_config
    from harp.data.records import read_records, write_records
    from harp.data.synthetic import build_synthetic
    from harp.models.tiny import build_tiny_model
    from harp.train.sft import train_sft

    build_synthetic(num_scenes=12, seed=5, images_dir=root / "img", output_dir=root, progress=False)
    rows = read_records(root / "actions.jsonl")
    write_records(root / "train.jsonl", rows[:8])
    write_records(root / "val.jsonl", rows[8:])
    build_tiny_model(root / "tiny")
    train_sft(
        load_sft_config(
            ROOT / "configs" / "demo" / "sft.yaml",
            sft_overrides(root, "sft_ref")
            + [
                "training.max_steps=40",
                "training.per_device_train_batch_size=4",
                "training.learning_rate=3e-3",
                "training.warmup_steps=2",
                "training.bf16=false",
                "data.val_path=null",
            ],
        )
    )
    return root


def sft_overrides(root: Path, out: str) -> list[str]:
    return [
        f"model.name={root / 'tiny'}",
        f"data.train_path={root / 'train.jsonl'}",
        f"data.val_path={root / 'val.jsonl'}",
        f"training.output_dir={root / out}",
        "training.report_to=tensorboard",
        "training.num_epochs=2",
        "training.save_steps=2",
        "training.eval_steps=2",
        "training.logging_steps=1",
    ]


def grpo_overrides(root: Path, out: str, prompts_per_device: int) -> list[str]:
    return [
        f"model.sft_model_path={root / 'sft_ref' / 'final'}",
        f"data.train_path={root / 'train.jsonl'}",
        f"data.val_path={root / 'val.jsonl'}",
        "data.negative_path=null",
        f"training.output_dir={root / out}",
        "training.max_steps=-1",
        "training.num_epochs=1",
        f"training.per_device_train_batch_size={prompts_per_device}",
        "training.num_candidates=2",
        "training.negatives_per_group=1",
        "training.max_new_tokens=16",
        "training.logging_steps=1",
        "training.save_steps=2",
        "training.eval_steps=2",
        "training.warmup_steps=0",
    ]


def as_flags(overrides: list[str]) -> list[str]:
    return [flag for override in overrides for flag in ("--set", override)]


def read_probe(folder: Path) -> dict[int, list[list[dict]]]:
    """What multiprocess_probe recorded: step -> one list of rows per rank."""
    steps: dict[int, list[list[dict]]] = {}
    for rank in (0, 1):
        for line in (folder / f"rank{rank}.jsonl").read_text().splitlines():
            entry = json.loads(line)
            steps.setdefault(entry["step"], [[], []])[rank] = entry["rows"]
    return steps


def assert_same_weights(a: Path, b: Path, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    from safetensors.torch import load_file

    left, right = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    assert left.keys() == right.keys()
    for name in left:
        torch.testing.assert_close(left[name], right[name], rtol=rtol, atol=atol, msg=name)
