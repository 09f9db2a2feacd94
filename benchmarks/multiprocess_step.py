"""SFT and GRPO step time of the tiny model on the CPU: one process vs two (`accelerate launch
--multi_gpu --num_processes 2`, gloo), at the same global batch.

    .venv/bin/python benchmarks/multiprocess_step.py [--sft-steps 30] [--grpo-steps 8]

Builds the tiny model and 64 synthetic scenes in a temp folder (no network) and runs
scripts/train_sft.py and scripts/train_grpo.py on the demo configs with a step cap, each once per
process count, one intra-op thread per process. The figure is the Trainer's own `train_runtime`
(training only, no start-up) divided by the steps. On a 2-core machine two processes can at best
halve the step time; gloo's all-reduce of 1.3M parameters and the per-step synchronisation eat into
that. Not a test: timings are only meaningful with nothing else running.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harp.processes import free_port  # noqa: E402 (after the path)


def run(cwd: Path, processes: int, script: str, config: str, overrides: list[str]) -> float:
    """Seconds of training (the Trainer's train_runtime) of one run."""
    command = [sys.executable, str(ROOT / "scripts" / script)]
    if processes > 1:
        port = free_port()
        command = [
            sys.executable,
            "-m",
            "accelerate.commands.launch",
            "--multi_gpu",
            "--num_processes",
            str(processes),
            "--num_machines",
            "1",
            "--mixed_precision",
            "no",
            "--dynamo_backend",
            "no",
            "--main_process_port",
            str(port),
            *command[1:],
        ]
    command += ["--config", str(ROOT / "configs" / "demo" / config)]
    for override in overrides:
        command += ["--set", override]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"multiprocess_step: {script} with {processes} process(es) failed:\n{result.stderr[-2000:]}")
    found = re.findall(r"'train_runtime': '([\d.]+)'", result.stdout)
    if len(found) != 1:
        sys.exit(f"multiprocess_step: expected one train_runtime line from {script}, found {len(found)}")
    return float(found[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sft-steps", type=int, default=30)
    parser.add_argument("--grpo-steps", type=int, default=8)
    parser.add_argument("--sft-batch", type=int, default=8, help="global SFT batch (samples)")
    parser.add_argument("--grpo-prompts", type=int, default=4, help="global GRPO batch (prompts)")
    args = parser.parse_args()

    from harp.data.records import read_records, write_records
    from harp.data.synthetic import build_synthetic
    from harp.models.tiny import build_tiny_model

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build_synthetic(num_scenes=64, seed=0, images_dir=root / "img", output_dir=root, progress=False)
        write_records(root / "train.jsonl", read_records(root / "actions.jsonl"))
        build_tiny_model(root / "tiny")
        common = [
            f"data.train_path={root / 'train.jsonl'}",
            "data.val_path=null",
            "training.report_to=none",
            "training.save_steps=100000",
            "training.logging_steps=100000",
        ]
        rows = []
        for processes in (1, 2):
            sft = run(
                root,
                processes,
                "train_sft.py",
                "sft.yaml",
                common
                + [
                    f"model.name={root / 'tiny'}",
                    f"training.output_dir={root / f'sft{processes}'}",
                    f"training.max_steps={args.sft_steps}",
                    f"training.per_device_train_batch_size={args.sft_batch // processes}",
                ],
            )
            grpo = run(
                root,
                processes,
                "train_grpo.py",
                "grpo.yaml",
                common
                + [
                    f"model.sft_model_path={root / 'sft1' / 'final'}",
                    "data.negative_path=null",
                    f"training.output_dir={root / f'grpo{processes}'}",
                    f"training.max_steps={args.grpo_steps}",
                    f"training.per_device_train_batch_size={args.grpo_prompts // processes}",
                ],
            )
            rows.append((processes, sft / args.sft_steps, grpo / args.grpo_steps))
        print(
            f"global batch: SFT {args.sft_batch} samples, GRPO {args.grpo_prompts} prompts x (4 sampled + 1 negative); "
            f"load average {os.getloadavg()[0]:.2f}"
        )
        print(f"{'processes':>9}  {'SFT s/step':>10}  {'GRPO s/step':>11}")
        for processes, sft, grpo in rows:
            print(f"{processes:>9}  {sft:>10.3f}  {grpo:>11.3f}")
        (_, sft1, grpo1), (_, sft2, grpo2) = rows
        print(f"speed-up with 2 processes: SFT {sft1 / sft2:.2f}x, GRPO {grpo1 / grpo2:.2f}x")


if __name__ == "__main__":
    main()
