"""`python scripts/train_sft.py --config configs/sft_config.yaml`: flags -> config -> train_sft."""

from __future__ import annotations

import argparse
import sys

from harp.errors import HarpError
from harp.train.launch import add_launch_arguments, launch_overrides


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="train_sft.py", description="SFT of a Qwen2.5-VL planner (the guide's SFT训练 step)")
    add_launch_arguments(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        from harp.config import load_sft_config
        from harp.train.sft import train_sft

        config = load_sft_config(args.config, launch_overrides(args))
        train_sft(config)
    except HarpError as error:
        print(f"train_sft.py: error: {error}", file=sys.stderr)
        return 1
    return 0
