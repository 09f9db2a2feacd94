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


KITCHEN_OUT = "models/tiny-qwen2.5-vl-kitchen"  # `--world kitchen`'s --out when not given


def add_pretrain_arguments(parser) -> None:
    from harp.recipes.pretrain import KITCHEN_SCENES, NUM_SCENES, PRETRAIN_DATA_SEED

    parser.add_argument(
        "--out",
        help="where the grounded model goes (default models/tiny-qwen2.5-vl-grounded, with --world kitchen "
        f"{KITCHEN_OUT}; the shipped one: harp/models/checkpoints/tiny-qwen2.5-vl-grounded); {OUT_RULE}",
    )
    parser.add_argument(
        "--world",
        choices=("tabletop", "kitchen"),
        default="tabletop",
        help="tabletop: the shipped model's three stages from random weights; kitchen: from the shipped "
        "model, one stage on kitchens and a lookup of each item in them "
        "(configs/pretrain/grounded_tiny_kitchen.yaml) (default %(default)s)",
    )
    parser.add_argument(
        "--workdir",
        default=".pretrain",
        help="scenes, records and checkpoints (default %(default)s); a killed run resumes from it",
    )
    parser.add_argument(
        "--num-scenes",
        type=int,
        help=f"scenes of data seed {PRETRAIN_DATA_SEED} to train on (default {NUM_SCENES}; kitchens: {KITCHEN_SCENES})",
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
    kitchen = args.world == "kitchen"
    if kitchen and args.demo:
        raise HarpError("--demo runs the tabletop's demo: leave out --world kitchen")
    if args.out is None:  # given empty, it is refused as such
        args.out = KITCHEN_OUT if kitchen else "models/tiny-qwen2.5-vl-grounded"
    if args.verify:
        from harp.models.grounded import KITCHEN_DIR
        from harp.recipes.verify import verify

        # the kitchen model is compared with the shipped one, or before it ships with the model it started from
        shipped = KITCHEN_DIR if kitchen and (KITCHEN_DIR / "config.json").is_file() else GROUNDED_DIR
        folder = Path(args.workdir) / "verify"
        same = verify(args.out, args.against or shipped, folder, demo=args.demo, world=args.world)
        return 0 if same else 1
    from harp.models.reproducible import PINNED, pinned_numerics
    from harp.recipes.pretrain import KITCHEN_SCENES, NUM_SCENES, check_build_paths, pretrain_grounded, pretrain_kitchen

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

        if kitchen:
            scenes = KITCHEN_SCENES if args.num_scenes is None else args.num_scenes
            out = pretrain_kitchen(args.out, args.workdir, num_scenes=scenes, overrides=args.overrides)
        else:
            scenes = NUM_SCENES if args.num_scenes is None else args.num_scenes
            out = pretrain_grounded(args.out, args.workdir, num_scenes=scenes, overrides=args.overrides)
    print(describe(out) + (" (grounded in the kitchen)" if kitchen else " (grounded)"))
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
