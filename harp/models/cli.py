"""`harp model init-tiny | pretrain`: build the embedded tiny Qwen2.5-VL (no network), random or grounded."""

from __future__ import annotations

import sys
from pathlib import Path

from harp.entry import Command, add_group
from harp.models.load import EMBEDDED_MODEL_DIR

OUT_RULE = "a model HARP wrote there is replaced whole; a folder holding anything else is refused"


def add_init_tiny_arguments(parser) -> None:
    parser.add_argument(
        "--out", default=EMBEDDED_MODEL_DIR, help=f"output directory (default {EMBEDDED_MODEL_DIR}); {OUT_RULE}"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights (same seed, same files)")
    parser.add_argument(
        "--grounded",
        nargs="?",
        const=True,
        default=False,
        metavar="DIR",
        help="copy the shipped grounded model instead (built by `harp model pretrain`; "
        "it finds objects in the picture; --seed does not apply), or the one "
        "`harp model pretrain` wrote in DIR",
    )


def run_init_tiny(args) -> int:
    from harp.models.tiny import build_tiny_model, describe

    if args.grounded:
        from harp.models.grounded import copy_grounded

        out = copy_grounded(args.out) if args.grounded is True else copy_grounded(args.out, source=Path(args.grounded))
    else:
        out = build_tiny_model(args.out, seed=args.seed)
    print(describe(out) + (" (grounded: harp model pretrain)" if args.grounded else ""))
    return 0


def add_pretrain_arguments(parser) -> None:
    from harp.recipes.pretrain import NUM_SCENES, PRETRAIN_DATA_SEED

    parser.add_argument(
        "--out",
        default="models/tiny-qwen2.5-vl-grounded",
        help="where the grounded model goes (default %(default)s; the shipped one: "
        f"harp/models/checkpoints/tiny-qwen2.5-vl-grounded); {OUT_RULE}",
    )
    parser.add_argument(
        "--workdir",
        default=".pretrain",
        help="scenes, records and checkpoints (default %(default)s); a killed run resumes from it",
    )
    parser.add_argument(
        "--num-scenes",
        type=int,
        default=NUM_SCENES,
        help=f"scenes of data seed {PRETRAIN_DATA_SEED} to train on (default %(default)s)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        dest="overrides",
        help="override a key of configs/pretrain/grounded_tiny.yaml, e.g. --set training.max_steps=2",
    )
    check = parser.add_argument_group(
        "checking a rebuilt model",
        "its bytes match the shipped model's only on the same CPU kernels, thread "
        "count and versions (harp/models/reproducible.py); elsewhere it must behave the same",
    )
    check.add_argument(
        "--verify",
        action="store_true",
        help="build nothing: compare the model in --out with the shipped one (or --against) on "
        "image-only lookups and a grey-picture control, side by side, and pass or fail "
        "(1 minute; scenes in <workdir>/verify)",
    )
    check.add_argument(
        "--demo",
        action="store_true",
        help="with --verify: also run the demo's SFT -> GRPO from each model (about 10 minutes)",
    )
    check.add_argument(
        "--against", metavar="DIR", help="with --verify: the model to compare with (default: the shipped one)"
    )


def run_pretrain(args) -> int:
    from harp.errors import HarpError
    from harp.models.grounded import GROUNDED_DIR

    if (args.demo or args.against) and not args.verify:
        raise HarpError("--demo and --against go with --verify")
    if args.verify:
        from harp.recipes.verify import verify

        return 0 if verify(args.out, args.against or GROUNDED_DIR, Path(args.workdir) / "verify", demo=args.demo) else 1
    from harp.models.reproducible import PINNED, pinned_numerics
    from harp.recipes.pretrain import check_build_paths, pretrain_grounded

    check_build_paths(args.out, args.workdir)  # a bad path: one line, before any note
    with pinned_numerics() as overridden:  # before torch loads: the settings the bytes depend on
        if overridden:
            print(
                f"note: {', '.join(overridden)} set to the build's "
                f"{', '.join(repr(PINNED[name]) for name in overridden)} (harp/models/reproducible.py)",
                file=sys.stderr,
                flush=True,
            )
        from harp.models.tiny import describe

        out = pretrain_grounded(args.out, args.workdir, num_scenes=args.num_scenes, overrides=args.overrides)
    print(describe(out) + " (grounded)")
    return 0


INIT_TINY = Command(
    "init-tiny", "build the embedded tiny Qwen2.5-VL checkpoint (no network)", add_init_tiny_arguments, run_init_tiny
)
PRETRAIN = Command(
    "pretrain",
    "rebuild the grounded tiny model from scratch (40 to 60 minutes on one core), "
    "or --verify a rebuilt one against the shipped one",
    add_pretrain_arguments,
    run_pretrain,
)


def register(subparsers) -> None:
    add_group(subparsers, "model", "model utilities", [INIT_TINY, PRETRAIN])
