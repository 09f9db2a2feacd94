"""`harp model pretrain --verify`: is a rebuilt grounded model the shipped one?

Two builds have the same bytes only under the same CPU kernels, thread count and versions
(harp.models.reproducible). Otherwise "the same model" means the same behaviour on a fixed
evaluation: every rate below within TOLERANCE of the reference model's. Both models are evaluated
here, one after the other, so the comparison sees the models, not the machines.

  image-only lookups   greedy plans for the tasks of EVAL_SCENES scenes of the demo's seed (never
                       seen in pretraining) that only the picture answers, with one object and
                       with two: the skill the pretraining exists for
  blank-image control  the same tasks on a grey picture, where a model that looks cannot succeed
  absence              one-object tasks asking for an object or a receptacle the picture lacks, or
                       for a thing no picture draws whose name pretraining never used: refused,
                       naming it (the third stage's skill)
  the demo (--demo)    the demo's SFT -> GRPO from each model: its task completion table, what the
                       model ships for; about 5 minutes a model, so it is an option

With `--world kitchen` (a model from `harp model pretrain --world kitchen`): the lookups of
KITCHEN_EVAL_SCENES kitchens of the demo's seed ("Pick up the mug": harp.data.kitchen.lookup_tasks),
those an open place answers and those behind a closed door apart, with the picture and on a grey one.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
from pathlib import Path

from harp.data import world
from harp.data.records import read_records, write_records
from harp.data.synthetic import absent_tasks, build_synthetic
from harp.errors import HarpError
from harp.eval.evaluate import generate_for_records, load_test_records, score_predictions
from harp.models.folder import MANIFEST, WEIGHTS
from harp.models.grounded import sha256
from harp.models.load import load_model_and_processor
from harp.models.reproducible import PINNED
from harp.paths import check_output_dir
from harp.plan import load_domain
from harp.recipes.demo import run_demo
from harp.rewards.hprm import HPRM

# Two builds that differ only in rounding train to different weights, as two seeds would; the
# tolerance sits between the evaluation's own noise and a model without the skill. Noise: a gap
# between two rates has a standard error of 0.02-0.03 at the rates of the model shipped before the
# absence stage (1.00, 0.22, 0.99, 0.03) and 0.055 at worst (two rates of 0.5 on the 166 two-object tasks). Skill: stage one alone (the model shipped before the
# two-object stage) scores 0.59 on two objects against the shipped 0.96, a gap of 0.37. Not yet
# calibrated on two independent full builds: the first pair of them should confirm it.
TOLERANCE = 0.10
EVAL_SEED = 0  # the demo's scenes (harp.recipes.demo.SEED); pretraining draws from PRETRAIN_DATA_SEED
EVAL_SCENES = 1000  # 315 one-object and 166 two-object tasks; 20 s a model
KITCHEN_EVAL_SCENES = 200  # ~1,000 lookups; the kitchens take 80 s to plan, once


def completion_rate(model, processor, records: list, domain, blank: bool = False) -> tuple[int, float]:
    """(how many, the share completed) of greedy plans for `records`, with their pictures or grey ones."""
    plans = generate_for_records(
        model, processor, records, domain, batch_size=16, max_new_tokens=48, blank_images=blank
    )
    rows = score_predictions(records, plans, domain, HPRM(domain))
    return len(rows), sum(row["completed"] for row in rows) / len(rows)


def lookup_rates(model_dir: str | Path, scenes_dir: Path, num_scenes: int = EVAL_SCENES) -> dict[str, float]:
    """Task completion of greedy plans on the image-only tasks of `num_scenes` demo-seed scenes
    (rendered once into `scenes_dir`), with the picture and on a grey one; then on one-object tasks
    asking for an object or a receptacle those pictures lack, where the refusal naming it completes."""
    import torch

    actions = scenes_dir / "actions.jsonl"
    if not actions.is_file():
        build_synthetic(
            num_scenes, seed=EVAL_SEED, images_dir=scenes_dir / "bdv2", output_dir=scenes_dir, progress=False
        )
    domain = load_domain("navigate_pick_place")
    model, processor = load_model_and_processor(model_dir, dtype=torch.float32, device="cpu")
    rates = {}

    def completion(records: list, blank: bool = False) -> tuple[int, float]:
        return completion_rate(model, processor, records, domain, blank)

    for objects in (1, 2):
        path = scenes_dir / f"image_only_{objects}.jsonl"
        if not path.is_file():
            write_records(
                path,
                [
                    row
                    for row in read_records(actions)
                    if row["meta"]["num_objects"] == objects and not row["meta"]["source_named"]
                ],
            )
        records = load_test_records(path, domain)
        for blank in (False, True):
            count, rate = completion(records, blank)
            name = f"image-only, {objects} object{'s' * (objects > 1)}, {'grey picture' if blank else 'picture'}"
            rates[f"{name} (n = {count})"] = rate
    # The things no picture draws are those of the SFT data's infeasible tasks (world.OUTSIDE_*),
    # which pretraining never asks for: whether a refusal of what the picture lacks reaches a new name.
    held_out = (world.OUTSIDE_OBJECTS, world.OUTSIDE_PLACES)
    absent = {
        "object not in the picture": ("object", world.OBJECTS),
        "receptacle not in the picture": ("receptacle", world.RECEPTACLES),
        "a thing this world never draws": ("outside", held_out[0] + held_out[1]),
    }
    paths = {label: scenes_dir / f"absent_{name}.jsonl" for label, (name, _) in absent.items()}
    if not all(path.is_file() for path in paths.values()):
        rng = random.Random(f"{EVAL_SEED}:absent")
        tasks = [task for row in read_records(actions) for task in absent_tasks(dict(row), rng, outside=held_out)]
        for label, (_, what) in absent.items():
            asked = [t for t in tasks if t["meta"]["num_objects"] == 1 and t["scene"]["missing"][0] in what]
            write_records(paths[label], asked[: num_scenes * 3 // 10])  # as many as the one-object lookups
    for label, path in paths.items():
        count, rate = completion(load_test_records(path, domain))
        rates[f"refused, {label} (n = {count})"] = rate
    return rates


def kitchen_lookup_rates(model_dir: str | Path, scenes_dir: Path, num_scenes: int = KITCHEN_EVAL_SCENES) -> dict:
    """Task completion of greedy plans on the lookups of `num_scenes` kitchens of the demo's seed
    (rendered once into `scenes_dir`): where the item stands in the open, and where it is behind a
    closed door (open, pick, close), with the picture and on a grey one."""
    import torch

    from harp.data.kitchen import DOMAIN, build_kitchen, lookup_tasks

    domain = load_domain(DOMAIN)
    paths = {where: scenes_dir / f"kitchen_lookups_{where}.jsonl" for where in ("in the open", "behind a closed door")}
    if not all(path.is_file() for path in paths.values()):
        if not (scenes_dir / "actions.jsonl").is_file():
            build_kitchen(
                num_scenes, seed=EVAL_SEED, images_dir=scenes_dir / "bdv2", output_dir=scenes_dir, progress=False
            )
        rng = random.Random(f"{EVAL_SEED}:kitchen lookups")
        rows = [
            row
            for record in read_records(scenes_dir / "actions.jsonl")
            for row in lookup_tasks(dict(record), rng, domain)
        ]
        write_records(paths["in the open"], [row for row in rows if len(row["plan"]) == 2])
        write_records(paths["behind a closed door"], [row for row in rows if len(row["plan"]) > 2])
    model, processor = load_model_and_processor(model_dir, dtype=torch.float32, device="cpu")
    rates = {}
    for where, path in paths.items():
        records = load_test_records(path, domain) if path.stat().st_size else []
        for blank in (False, True) if records else ():  # a few kitchens may have nothing behind a door
            count, rate = completion_rate(model, processor, records, domain, blank)
            rates[f"kitchen lookup, {where}, {'grey picture' if blank else 'picture'} (n = {count})"] = rate
    return rates


def demo_rates(model_dir: str | Path, workdir: Path) -> dict[str, float]:
    """Task completion of each column of the demo's table, the demo run from `model_dir` in `workdir`."""
    lines = workdir.with_suffix(".txt")
    lines.parent.mkdir(parents=True, exist_ok=True)
    print(f"the demo from {model_dir} in {workdir} (about 5 minutes; its lines: {lines})", flush=True)
    # force: the demo skips a stage whose command is unchanged, and the model at this path may be new
    with lines.open("w", encoding="utf-8") as log, contextlib.redirect_stdout(log):
        code = run_demo(force=True, workdir=workdir, grounded=Path(model_dir).resolve())
    if code != 0:
        raise HarpError(f"the demo from {model_dir} failed: see {lines} and {workdir / 'logs'}")
    table = json.loads((workdir / "results" / "evaluation_side_by_side.json").read_text(encoding="utf-8"))
    return {f"demo, {label}: task completion": metrics["task_completion"] for label, metrics in table.items()}


def describe_build(model_dir: Path) -> dict[str, str]:
    """What a model's bytes depend on, from its manifest's last run ("not recorded" where it is silent)."""
    try:
        manifest = json.loads((model_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        manifest = {}
    runs = manifest.get("invocations") or []
    environment = (runs[-1].get("environment") if runs else None) or {}
    settings = environment.get("settings")
    seconds = manifest.get("seconds")
    unknown = "not recorded"
    return {
        "weights sha256": sha256(model_dir / WEIGHTS)[:12],
        "runs of the build": str(len(runs)) if runs else unknown,
        "build time": f"{seconds // 60} min {seconds % 60} s" if isinstance(seconds, int) else unknown,
        **{key: str(environment.get(key, unknown))[:16] for key in ("torch", "transformers", "harp", "cpu")},
        "torch CPU kernels": str(environment.get("torch_cpu_capability", unknown)),
        "torch threads": str(environment.get("threads", unknown)),
        "device": str(environment.get("device", unknown)),
        "pinned settings": unknown if settings is None else "all" if settings == PINNED else "not all",
    }


def weight_distance(model: Path, reference: Path) -> str:
    """‖a − b‖ / ‖b‖ over all weights, or why there is none (for the reader: not a pass/fail row)."""
    from safetensors.numpy import load_file

    a, b = load_file(model / WEIGHTS), load_file(reference / WEIGHTS)
    if a.keys() != b.keys() or any(a[name].shape != b[name].shape for name in a):
        return "other shapes"
    difference = math.sqrt(sum(float(((a[name].astype("float64") - b[name]) ** 2).sum()) for name in a))
    norm = math.sqrt(sum(float((b[name].astype("float64") ** 2).sum()) for name in b))
    return f"{difference / norm:.4f}"


def verify(
    model: str | Path,
    reference: str | Path,
    workdir: str | Path,
    demo: bool = False,
    num_scenes: int | None = None,
    world: str = "tabletop",
) -> bool:
    """Print `model` and `reference` side by side (their builds, then every rate of the evaluation with
    its gap) and a verdict; True when every gap is within TOLERANCE. `world`: kitchen rates the
    kitchen's lookups instead (kitchen_lookup_rates)."""
    for path, key in ((model, "--out"), (reference, "--against")):
        if not (Path(path) / WEIGHTS).is_file():
            raise HarpError(
                f"{key}: no model in {path} to compare (no {WEIGHTS}); build one with "
                f"`harp model pretrain --out {path}`"
            )
    model, reference, workdir = Path(model), Path(reference), check_output_dir(workdir, "--workdir")
    builds = [describe_build(model), describe_build(reference)]
    if world == "kitchen":
        scenes = num_scenes or KITCHEN_EVAL_SCENES
        rates = [kitchen_lookup_rates(path, workdir / "kitchens", scenes) for path in (model, reference)]
    else:
        rates = [lookup_rates(path, workdir / "scenes", num_scenes or EVAL_SCENES) for path in (model, reference)]
    if demo:
        for index, path in enumerate((model, reference)):
            rates[index].update(demo_rates(path, workdir / ("demo_model", "demo_reference")[index]))

    print(f"model:     {model}\nreference: {reference}\n")
    width = max(len(key) for key in [*builds[0], *rates[0]]) + 2
    print(f"{'the build':<{width}}{'model':>16}  {'reference':>16}")
    for key, value in builds[0].items():
        print(f"{key:<{width}}{value:>16}  {builds[1][key]:>16}{'' if value == builds[1][key] else '   differs'}")
    print(f"{'weights: relative distance':<{width}}{weight_distance(model, reference):>16}")
    print(f"\n{'behaviour: task completion':<{width}}{'model':>16}  {'reference':>16}     gap")
    failed = 0
    for key, value in rates[0].items():
        gap = abs(value - rates[1][key])
        ok = gap <= TOLERANCE + 1e-9  # 0.9 - 0.8 is 0.10000000000000009
        failed += not ok
        print(f"{key:<{width}}{value:>16.3f}  {rates[1][key]:>16.3f}  {gap:6.3f}  {'ok' if ok else 'FAIL'}")
    if failed:
        print(f"\nFAIL: {failed} of {len(rates[0])} rates differ by more than {TOLERANCE}: not the same model")
    elif builds[0]["weights sha256"] == builds[1]["weights sha256"]:
        print("\nPASS: the same weights, byte for byte")
    else:
        print(
            f"\nPASS: other bytes (rows marked differs: harp/models/reproducible.py), every rate within "
            f"{TOLERANCE}: the same model" + ("" if demo else "; --demo adds the demo's SFT -> GRPO (about 10 min)")
        )
    return not failed
