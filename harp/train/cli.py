"""`harp train sft|grpo`, and the guide's `python scripts/train_sft.py` / `scripts/train_grpo.py` (same flags).

Both take the config, `--set` overrides, `--resume`, and the launchers' own flags:
`deepspeed --num_gpus=4 scripts/train_sft.py --config ...` starts one process per GPU with
`--local_rank=N` appended and LOCAL_RANK, RANK, WORLD_SIZE, MASTER_ADDR/PORT in the environment;
`accelerate launch` and `torchrun` set only the environment. The Trainer reads the environment, so
the flag is accepted and otherwise ignored. `--deepspeed FILE` is the Hugging Face scripts'
spelling of `training.deepspeed`.
"""

from __future__ import annotations

import argparse

from harp.config import load_grpo_config, load_sft_config
from harp.entry import Command, add_group
from harp.processes import main_process
from harp.train.grpo import train_grpo
from harp.train.sft import train_sft


def add_launch_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="YAML config (keys documented in harp/config.py)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        dest="overrides",
        help="override a config value, e.g. --set training.num_epochs=1 (repeatable)",
    )
    parser.add_argument(
        "--resume",
        nargs="?",
        const=True,
        default=None,
        metavar="CHECKPOINT",
        help="continue from the last checkpoint in training.output_dir, or from CHECKPOINT",
    )
    parser.add_argument(
        "--local_rank", "--local-rank", type=int, default=None, help="set by the deepspeed launcher; leave it alone"
    )
    parser.add_argument(
        "--deepspeed", default=None, metavar="JSON", help="DeepSpeed config, same as --set training.deepspeed=JSON"
    )


def launch_overrides(args: argparse.Namespace) -> list[str]:
    """Config overrides implied by the flags (appended after --set, so the flags win)."""
    overrides = list(args.overrides)
    if args.deepspeed:
        overrides.append(f"training.deepspeed={args.deepspeed}")
    if args.resume is True:
        overrides.append("training.resume_from_checkpoint=true")
    elif args.resume:
        overrides.append(f"training.resume_from_checkpoint={args.resume}")
    return overrides


def run_sft(args: argparse.Namespace) -> None:

    train_sft(load_sft_config(args.config, launch_overrides(args)))


def run_grpo(args: argparse.Namespace) -> None:

    final = train_grpo(load_grpo_config(args.config, launch_overrides(args)))
    if main_process():  # under a multi-process launch, once
        print(f"final model: {final}")


SFT = Command("sft", "SFT of a Qwen2.5-VL planner (the guide's SFT训练 step)", add_launch_arguments, run_sft)
GRPO = Command("grpo", "GRPO with H-PRM rewards and FTCA (the guide's GRPO训练 step)", add_launch_arguments, run_grpo)


def register(subparsers) -> None:
    add_group(subparsers, "train", "train a planner: SFT, then GRPO", [SFT, GRPO])
