"""`python scripts/train_grpo.py --config configs/grpo_config.yaml`: flags -> config -> train_grpo."""

from __future__ import annotations

import argparse

from harp.train.launch import add_launch_arguments, launch_overrides, run_script


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="train_grpo.py",
                                     description="GRPO with H-PRM rewards and FTCA (the guide's GRPO训练 step)")
    add_launch_arguments(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return run_script("train_grpo.py", parse_args(argv), _train)


def _train(args: argparse.Namespace) -> None:
    from harp.config import load_grpo_config
    from harp.train.grpo import train_grpo

    final = train_grpo(load_grpo_config(args.config, launch_overrides(args)))
    print(f"final model: {final}")
