"""`python scripts/train_grpo.py --config configs/grpo_config.yaml`: flags -> config -> train_grpo."""

from __future__ import annotations

import argparse
import sys

from harp.errors import HarpError
from harp.train.launch import add_launch_arguments, launch_overrides


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="train_grpo.py",
                                     description="GRPO with H-PRM rewards and FTCA (the guide's GRPO训练 step)")
    add_launch_arguments(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        from harp.config import load_grpo_config
        from harp.train.grpo import train_grpo

        config = load_grpo_config(args.config, launch_overrides(args))
        final = train_grpo(config)
    except HarpError as error:
        print(f"train_grpo.py: error: {error}", file=sys.stderr)
        return 1
    print(f"final model: {final}")
    return 0
