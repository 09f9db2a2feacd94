"""`harp data build` and `harp data split`, and the guide's `python data_build.py` (same flags).

harp data build --source synthetic --num-scenes 500 --seed 0   # no network, no key
harp data build --source synthetic --world kitchen              # ALFRED's tasks in a kitchen (--domain alfred)
harp data build                                                 # OpenRouter teacher over ./bdv2/
harp data split                                                 # data/sft_{train,val,test}.jsonl
harp data contact-sheet                                         # docs/contact_sheet.png
harp data import-alfred --input ALFRED.jsonl --output data/alfred.jsonl   # records for --domain alfred
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from harp.data.alfred_import import import_alfred
from harp.data.alfworld_import import IMPORT_ALFWORLD
from harp.data.build import TeacherOptions, build_from_teacher
from harp.data.images import KITCHEN_SUBDIR, SYNTHETIC_SIZES, SYNTHETIC_SUBDIR
from harp.data.label_noise import KINDS as NOISE_KINDS
from harp.data.language import LANGUAGES
from harp.data.split import split_records
from harp.entry import Command, add_group
from harp.errors import HarpError
from harp.paths import check_output_dir

WORLDS = ("tabletop", "kitchen")  # `--world`
WORLD_IMAGE_SIZES = {"tabletop": 224, "kitchen": 448}  # `--image-size` when not given
TABLETOP_ONLY = ("label_noise", "infeasible", "three_objects", "phrasings")  # flags the kitchen world does not take


def _number(kind, low: float, inclusive: bool = True, what: str = "", high: float | None = None):
    """An argparse type: a number of `kind` at least (or above) `low` and at most `high`, else argparse's one-line error."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {'an integer' if kind is int else 'a number'}, got {text!r}"
            ) from None
        if not math.isfinite(value) or value < low or (value == low and not inclusive):
            raise argparse.ArgumentTypeError(f"must be {'at least' if inclusive else 'above'} {low}{what}, got {text}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"must be at most {high}{what}, got {text}")
        return value

    return parse


def add_build_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = TeacherOptions()
    parser.add_argument(
        "--source",
        choices=("teacher", "synthetic"),
        default="teacher",
        help="teacher: label ./bdv2 images with a VLM (needs OPENROUTER_API_KEY); "
        "synthetic: render tabletop scenes with ground truth (default: teacher)",
    )
    parser.add_argument(
        "--images-dir",
        default=defaults.images_dir,
        help="scene images (teacher: read *_0.png/jpg/jpeg; synthetic: written to "
        "IMAGES_DIR/synthetic/, which the teacher skips) (default: %(default)s)",
    )
    parser.add_argument(
        "--output-dir",
        default=defaults.output_dir,
        help="where tasks.jsonl, actions.jsonl, rejected.jsonl, processed/ go (default: %(default)s)",
    )
    parser.add_argument("--domain", default=defaults.domain, help="planning domain (default: %(default)s)")
    synthetic = parser.add_argument_group("synthetic source")
    synthetic_only = []  # their Actions: given with the teacher source, these flags would do nothing

    def synthetic_flag(*names, **options):
        synthetic_only.append(synthetic.add_argument(*names, **options))

    synthetic_flag(
        "--world",
        choices=WORLDS,
        default="tabletop",
        help="tabletop: tables, receptacles and pick-and-place tasks (IMAGES_DIR/synthetic/); kitchen: "
        "ALFRED's task types (heat, cool, clean, slice, look at under the lamp, open and close, "
        "compositions) planned in the alfred domain (IMAGES_DIR/kitchen/) (default: %(default)s)",
    )
    synthetic_flag("--num-scenes", type=_number(int, 1), default=500, help="scenes to render (default: %(default)s)")
    synthetic_flag("--seed", type=int, default=0, help="same seed, same bytes (default: %(default)s)")
    synthetic_flag(
        "--image-size",
        type=_number(int, SYNTHETIC_SIZES[0], high=SYNTHETIC_SIZES[1]),
        default=None,
        help=f"image side in pixels, {SYNTHETIC_SIZES[0]} to {SYNTHETIC_SIZES[1]} (default: "
        + ", ".join(f"{size} for the {world}" for world, size in WORLD_IMAGE_SIZES.items())
        + ")",
    )
    synthetic_flag(
        "--label-noise",
        type=float,
        default=0.0,
        metavar="P",
        help="share of plans given a teacher-like mistake the build cannot catch (wrong table, "
        "redundant step, wrong order, wrong receptacle); records keep their true scene "
        "(default: %(default)s)",
    )
    synthetic_flag(
        "--label-noise-kinds",
        nargs="+",
        choices=NOISE_KINDS,
        default=None,
        metavar="KIND",
        help="with --label-noise: only these mistakes, each on a share P of the records "
        "where it can happen: a teacher's blind spot, e.g. wrong_table; never_refuses: a teacher "
        "that plans the tasks that cannot be done (default: all)",
    )
    synthetic_flag(
        "--infeasible",
        type=float,
        default=0.0,
        metavar="P",
        help="share of tasks that cannot be done from their picture (an object or destination missing, "
        "or a thing this world never draws); their plan is the refusal Infeasible(what is missing) "
        "(default: %(default)s)",
    )
    synthetic_flag(
        "--three-objects",
        type=float,
        default=0.0,
        metavar="P",
        help="share of tasks that move three objects (plans of 12 steps; the default world asks for one "
        "or two) (default: %(default)s)",
    )
    synthetic_flag(
        "--language",
        choices=LANGUAGES,
        default="templates",
        help="how tasks are said: templates (the world's few fixed sentences), varied (sentences "
        "composed from many frames, verbs and synonyms), held_out (the same scenes said with frames "
        "varied never uses: a test of phrasing a model was not trained on) (default: %(default)s)",
    )
    synthetic_flag(
        "--phrasings",
        type=_number(int, 1),
        default=1,
        metavar="K",
        help="with --language varied: each scene's task said K ways, a record each with the same image "
        "and plan (harp data split keeps a scene's records together) (default: %(default)s)",
    )
    parser.set_defaults(synthetic_defaults={a.dest: (a.option_strings[0], a.default) for a in synthetic_only})
    teacher = parser.add_argument_group("teacher source")
    teacher.add_argument(
        "--base-url",
        default=defaults.base_url,
        help="OpenAI-compatible API base URL, e.g. http://localhost:8000/v1 for vLLM (default: %(default)s)",
    )
    teacher.add_argument("--model", default=None, help="teacher model for both calls (overrides the two below)")
    teacher.add_argument(
        "--task-model", default=defaults.task_model, help="model proposing tasks (default: %(default)s)"
    )
    teacher.add_argument(
        "--plan-model", default=defaults.plan_model, help="model planning tasks (default: %(default)s)"
    )
    teacher.add_argument(
        "--prompts-dir",
        default=defaults.prompts_dir,
        help="folder with propose_task.txt and plan_task.txt (default: %(default)s)",
    )
    teacher.add_argument(
        "--concurrency",
        type=_number(int, 1),
        default=defaults.concurrency,
        help="images at once (default: %(default)s)",
    )
    teacher.add_argument(
        "--max-retries",
        type=_number(int, 0),
        default=defaults.max_retries,
        help="retries per request on 429/5xx/time-outs (default: %(default)s)",
    )
    teacher.add_argument(
        "--timeout",
        type=_number(float, 0, inclusive=False),
        default=defaults.timeout,
        help="seconds per request (default: %(default)s)",
    )
    teacher.add_argument(
        "--backoff",
        type=_number(float, 0),
        default=defaults.backoff,
        help="first retry delay in seconds, doubled each time (default: %(default)s)",
    )
    teacher.add_argument("--limit", type=_number(int, 0), default=None, help="label at most N new images this run")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _by_kind(what: str, kinds: dict, noun: str, after: str) -> str:
    """`label noise: 12 plans (redundant_step 5, wrong_table 7); records keep ...`"""
    each = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
    return f"{what}: {sum(kinds.values())} {noun} ({each}){after}"


def run_build(args: argparse.Namespace) -> int:
    if args.label_noise_kinds and not args.label_noise:  # it would make no plan noisy, silently
        raise HarpError("--label-noise-kinds: give --label-noise P too (the share of plans given a mistake)")
    given = [flag for dest, (flag, default) in args.synthetic_defaults.items() if getattr(args, dest) != default]
    if args.source != "synthetic" and given:
        raise HarpError(f"{', '.join(given)}: only with --source synthetic (the teacher labels your own images)")
    if args.source == "synthetic" and args.world == "kitchen":
        return _build_kitchen(args)
    if args.source == "synthetic":
        from harp.data.synthetic import build_synthetic  # PIL: deferred so that `harp --help` starts fast

        counts = build_synthetic(
            num_scenes=args.num_scenes,
            seed=args.seed,
            images_dir=check_output_dir(args.images_dir, "--images-dir") / SYNTHETIC_SUBDIR,
            output_dir=args.output_dir,
            image_size=args.image_size or WORLD_IMAGE_SIZES["tabletop"],
            domain=args.domain,
            progress=not args.quiet,
            label_noise=args.label_noise,
            label_noise_kinds=tuple(args.label_noise_kinds or NOISE_KINDS),
            infeasible=args.infeasible,
            language=args.language,
            three_objects=args.three_objects,
            phrasings=args.phrasings,
        )
        n = counts["scenes"]
        said = f"; {counts['records']} records, up to {args.phrasings} sentences a scene" if args.phrasings > 1 else ""
        print(f"scenes: {n} (images in {counts['images_dir']}{said})")
        print(
            f"two-object tasks: {counts['two_object']} ({counts['two_object'] / n:.0%}), "
            + (
                f"three-object: {counts['three_object']} ({counts['three_object'] / n:.0%}), "
                if counts["three_object"]
                else ""
            )
            + f"source not named: {counts['source_unnamed']} ({counts['source_unnamed'] / n:.0%}), "
            f"phrasings used: {counts['phrasings']}, mean plan length: {counts['mean_plan_length']:.2f}"
        )
        if args.infeasible:
            print(_by_kind("cannot be done", counts["infeasible"], "tasks", ", labelled Infeasible(what is missing)"))
        if args.label_noise:
            print(_by_kind("label noise", counts["label_noise"], "plans", "; records keep their true scene"))
        print(f"wrote {Path(args.output_dir) / 'actions.jsonl'}, tasks.jsonl, processed/processed_images.txt")
        return 0

    options = TeacherOptions(
        images_dir=args.images_dir,
        output_dir=args.output_dir,
        base_url=args.base_url,
        task_model=args.model or args.task_model,
        plan_model=args.model or args.plan_model,
        concurrency=args.concurrency,
        max_retries=args.max_retries,
        timeout=args.timeout,
        backoff=args.backoff,
        prompts_dir=args.prompts_dir,
        domain=args.domain,
        limit=args.limit,
    )
    summary = build_from_teacher(options, progress=not args.quiet)
    for line in summary.lines():
        print(line)
    print(f"wrote {Path(args.output_dir) / 'actions.jsonl'} (rejected.jsonl says why an image was rejected)")
    return 0


def _build_kitchen(args: argparse.Namespace) -> int:
    """`--world kitchen`: the kitchen world's records, planned in the alfred domain (harp.data.kitchen)."""
    from harp.data.kitchen import DOMAIN, build_kitchen  # PIL: deferred so that `harp --help` starts fast

    tabletop = [
        flag
        for dest, (flag, default) in args.synthetic_defaults.items()
        if dest in TABLETOP_ONLY and getattr(args, dest) != default
    ]
    if tabletop:
        raise HarpError(f"{', '.join(tabletop)}: only with --world tabletop (the kitchen world has no such tasks)")
    if args.domain not in (TeacherOptions().domain, DOMAIN):
        raise HarpError(f"--domain {args.domain}: the kitchen world plans in the {DOMAIN} domain (leave --domain out)")
    counts = build_kitchen(
        num_scenes=args.num_scenes,
        seed=args.seed,
        images_dir=check_output_dir(args.images_dir, "--images-dir") / KITCHEN_SUBDIR,
        output_dir=args.output_dir,
        image_size=args.image_size or WORLD_IMAGE_SIZES["kitchen"],
        progress=not args.quiet,
        language=args.language,
    )
    low, median, high = counts["plan_lengths"]
    print(f"kitchens: {counts['scenes']} (images in {counts['images_dir']}; domain {DOMAIN})")
    print(
        f"task types: {len(counts['task_types'])}, plan length {low} to {high} (median {median}, "
        f"mean {counts['mean_plan_length']:.2f}), planner's own order: {counts['planner_order']}"
    )
    print(f"wrote {Path(args.output_dir) / 'actions.jsonl'}, tasks.jsonl, processed/processed_images.txt")
    return 0


def run_split(args: argparse.Namespace) -> int:
    counts = split_records(args.input, args.output_dir, args.seed)
    print(f"Train: {counts['train']}, Val: {counts['val']}, Test: {counts['test']}")
    return 0


def run_contact_sheet(args: argparse.Namespace) -> int:
    from harp.data import world  # PIL: deferred so that `harp --help` and `harp score` start fast
    from harp.data.synthetic import contact_sheet

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(world.png_bytes(contact_sheet(args.seed, args.count)))
    print(f"wrote {out} ({args.count} scenes, seed {args.seed})")
    return 0


def add_split_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", default="actions.jsonl", help="records to split (default: %(default)s)")
    parser.add_argument(
        "--output-dir", default="data", help="writes sft_{train,val,test}.jsonl here (default: %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=42, help="shuffle seed (default: %(default)s, the guide's)")


def add_import_alfred_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--input",
        default="tests/plan/data/alfred_high_level_plans.jsonl",
        help="ALFRED rows with high_pddl (default: %(default)s)",
    )
    parser.add_argument("--output", default="data/alfred.jsonl", help="records to write (default: %(default)s)")


def run_import_alfred(args: argparse.Namespace) -> int:
    count = import_alfred(args.input, args.output)
    print(
        f"wrote {args.output} ({count} records; score them with "
        f"harp score --predictions {args.output} --records {args.output} --domain alfred)"
    )
    return 0


def add_contact_sheet_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="docs/contact_sheet.png", help="PNG to write (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="scene seed (default: %(default)s)")
    parser.add_argument("--count", type=int, default=16, help="scenes in the grid (default: %(default)s)")


# `python data_build.py` is BUILD.main("data_build.py"): the flags of `harp data build`.
BUILD = Command(
    "build", "label ./bdv2 images with a teacher VLM, or render synthetic scenes", add_build_arguments, run_build
)
SPLIT = Command("split", "80/10/10 split (seed 42), exactly as the guide's script", add_split_arguments, run_split)
CONTACT_SHEET = Command(
    "contact-sheet",
    "a captioned grid of synthetic scenes (docs/contact_sheet.png)",
    add_contact_sheet_arguments,
    run_contact_sheet,
)
IMPORT_ALFRED = Command(
    "import-alfred",
    "ALFRED expert plans -> records for --domain alfred",
    add_import_alfred_arguments,
    run_import_alfred,
)


def register(subparsers) -> None:
    add_group(
        subparsers,
        "data",
        "build the training data and split it",
        [BUILD, SPLIT, CONTACT_SHEET, IMPORT_ALFRED, IMPORT_ALFWORLD],
    )
