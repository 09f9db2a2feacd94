"""`python scripts/train_sft.py --config configs/sft_config.yaml`: flags -> config -> train_sft."""

from __future__ import annotations

import argparse

from harp.train.launch import add_launch_arguments, launch_overrides, run_script


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="train_sft.py", description="SFT of a Qwen2.5-VL planner (the guide's SFT训练 step)")
    add_launch_arguments(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return run_script("train_sft.py", parse_args(argv), _train)


def _train(args: argparse.Namespace) -> None:
    from harp.config import load_sft_config
    from harp.train.sft import train_sft

    train_sft(load_sft_config(args.config, launch_overrides(args)))
