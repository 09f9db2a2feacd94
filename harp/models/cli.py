"""`harp model init-tiny | pretrain`: build the embedded tiny Qwen2.5-VL (no network), random or grounded."""

from __future__ import annotations

from harp.entry import Command, add_group
from harp.models.load import EMBEDDED_MODEL_DIR

OUT_RULE = "a model HARP wrote there is replaced whole; a folder holding anything else is refused"


def add_init_tiny_arguments(parser) -> None:
    parser.add_argument("--out", default=EMBEDDED_MODEL_DIR,
                        help=f"output directory (default {EMBEDDED_MODEL_DIR}); {OUT_RULE}")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights (same seed, same files)")
    parser.add_argument("--grounded", action="store_true",
                        help="copy the shipped grounded model instead (built by `harp model pretrain`; "
                             "it finds objects in the picture; --seed does not apply)")


def run_init_tiny(args) -> int:
    from harp.models.tiny import build_tiny_model, describe

    if args.grounded:
        from harp.models.pretrain import copy_grounded

        out = copy_grounded(args.out)
    else:
        out = build_tiny_model(args.out, seed=args.seed)
    print(describe(out) + (" (grounded: harp model pretrain)" if args.grounded else ""))
    return 0


def add_pretrain_arguments(parser) -> None:
    from harp.models.pretrain import NUM_SCENES, PRETRAIN_DATA_SEED

    parser.add_argument("--out", default="models/tiny-qwen2.5-vl-grounded",
                        help="where the grounded model goes (default %(default)s; the shipped one: "
                             f"harp/models/checkpoints/tiny-qwen2.5-vl-grounded); {OUT_RULE}")
    parser.add_argument("--workdir", default=".pretrain",
                        help="scenes, records and checkpoints (default %(default)s); a killed run resumes from it")
    parser.add_argument("--num-scenes", type=int, default=NUM_SCENES,
                        help=f"scenes of data seed {PRETRAIN_DATA_SEED} to train on (default %(default)s)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", dest="overrides",
                        help="override a key of configs/pretrain/grounded_tiny.yaml, e.g. --set training.max_steps=2")


def run_pretrain(args) -> int:
    from harp.models.pretrain import pretrain_grounded
    from harp.models.tiny import describe

    out = pretrain_grounded(args.out, args.workdir, num_scenes=args.num_scenes, overrides=args.overrides)
    print(describe(out) + " (grounded)")
    return 0


INIT_TINY = Command("init-tiny", "build the embedded tiny Qwen2.5-VL checkpoint (no network)",
                    add_init_tiny_arguments, run_init_tiny)
PRETRAIN = Command("pretrain", "rebuild the grounded tiny model from scratch (42 minutes on one core)",
                   add_pretrain_arguments, run_pretrain)


def register(subparsers) -> None:
    add_group(subparsers, "model", "model utilities", [INIT_TINY, PRETRAIN])
