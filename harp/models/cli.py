"""`harp model init-tiny`: build the embedded tiny Qwen2.5-VL (no network)."""

from __future__ import annotations

from harp.entry import Command, add_group
from harp.models.load import EMBEDDED_MODEL_DIR


def add_init_tiny_arguments(parser) -> None:
    parser.add_argument("--out", default=EMBEDDED_MODEL_DIR, help=f"output directory (default {EMBEDDED_MODEL_DIR})")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights (same seed, same files)")


def run_init_tiny(args) -> int:
    from harp.models.tiny import build_tiny_model, describe

    out = build_tiny_model(args.out, seed=args.seed)
    print(describe(out))
    return 0


INIT_TINY = Command("init-tiny", "build the embedded tiny Qwen2.5-VL checkpoint (no network)",
                    add_init_tiny_arguments, run_init_tiny)


def register(subparsers) -> None:
    add_group(subparsers, "model", "model utilities", [INIT_TINY])
