"""`harp model init-tiny`: build the embedded tiny Qwen2.5-VL (no network)."""

from __future__ import annotations

from harp.models.load import EMBEDDED_MODEL_DIR


def register(subparsers) -> None:
    model = subparsers.add_parser("model", help="model utilities")
    commands = model.add_subparsers(dest="model_command", metavar="SUBCOMMAND", required=True)
    init = commands.add_parser("init-tiny", help="build the embedded tiny Qwen2.5-VL checkpoint (no network)")
    init.add_argument("--out", default=EMBEDDED_MODEL_DIR, help=f"output directory (default {EMBEDDED_MODEL_DIR})")
    init.add_argument("--seed", type=int, default=0, help="seed of the random weights (same seed, same files)")
    init.set_defaults(func=_init_tiny)


def _init_tiny(args) -> int:
    from harp.models.tiny import build_tiny_model, describe

    out = build_tiny_model(args.out, seed=args.seed)
    print(describe(out))
    return 0
