"""Synthetic data: N rendered tabletop scenes with their tasks, ground-truth scenes and optimal plans.

Scene i is drawn from `random.Random(f"{seed}:{i}")`, so every scene depends only on (seed, i):
the same seed gives the same bytes, and a larger N extends a smaller one. Images go to
`bdv2/synthetic/scene_00000_0.png` (a sub-folder, so they never overwrite a user's
`bdv2/scene_001_0.png`); the records to tasks.jsonl / actions.jsonl / processed/processed_images.txt
in the guide's format, each with its `scene` and the planner's optimal plan (docs/internals.md).

Unlike the teacher build this is not incremental: the output files are rewritten whole
(atomically). It refuses to overwrite an actions.jsonl holding teacher-labelled records.
"""

from __future__ import annotations

import random
import sys
from collections import Counter
from pathlib import Path

from harp.data import world
from harp.data.images import SYNTHETIC_SIZES, record_path
from harp.data.label_noise import KINDS as NOISE_KINDS
from harp.data.label_noise import add_label_noise, check_kinds
from harp.data.language import LANGUAGES, say
from harp.data.ledger import ACTIONS, PROCESSED, TASKS, check_outputs
from harp.data.records import iter_records, write_records
from harp.errors import DataError
from harp.paths import check_output_dir
from harp.plan import GuideDomain, available_domains, load_domain, optimal_length, optimal_plan, simulate
from harp.plan.names import display_name
from harp.plan.refusal import refusal_text


def synthetic_record(
    index: int,
    seed: int,
    domain,
    image: str,
    infeasible: float = 0.0,
    language: str = "templates",
    three_objects: float = 0.0,
    phrasing_draw: int = 0,
) -> tuple[dict, object]:
    """The record of scene `index` (its image path given) and the sampled scene to draw.

    A share `infeasible` of the tasks cannot be done (world.make_infeasible): their plan is the
    refusal naming what is missing. `language` says how the task is said (harp.data.language). A
    share `three_objects` of the tasks moves three objects. Each is drawn apart from the scene, so the
    other scenes are the same at any share and in any language. `phrasing_draw` picks the language's
    random stream: another number says the same task with other words."""
    three = three_objects > 0 and random.Random(f"{seed}:{index}:three").random() < three_objects
    sample = world.sample_scene(random.Random(f"{seed}:{index}"), num_objects=3 if three else None)
    sources = dict(sample.scene["objects"])  # before an infeasible task loses one
    draw = random.Random(f"{seed}:{index}:infeasible")
    if infeasible > 0 and draw.random() < infeasible:
        sample = world.make_infeasible(sample, draw)
    if language != "templates":
        held_out = language == "held_out"
        words = random.Random(f"{seed}:{index}:language" + (f":{phrasing_draw}" if phrasing_draw else ""))
        sample.task, phrasing = say(sample.scene["goal"], sources, sample.meta["source_named"], words, held_out)
        sample.meta = {**sample.meta, "phrasing": phrasing, "language": "held_out" if held_out else "seen"}
    scene = domain.scene_from_dict(sample.scene)
    if scene.missing:
        plan = [refusal_text(scene.missing[0])]
    else:
        plan = mention_order_plan(sample.scene, scene, domain) or optimal_plan(scene, domain)
    record = {
        "image": image,
        "task": sample.task,
        "plan": list(plan),
        "scene": sample.scene,
        "id": f"scene_{index:05d}",
        "meta": sample.meta,
    }
    return record, sample


def mention_order_plan(scene_dict: dict, scene, domain) -> list[str] | None:
    """The optimal plan that moves the task's objects in the order the task names them.

    The planner breaks ties between equally short plans by an order neither the image nor the
    task shows; a model cannot learn such targets. The goal dict keeps the task's mention order.
    Returns None when that order is not optimal (then the planner's plan is used).
    """

    plan = []
    for obj, destination in scene_dict["goal"].items():
        source = scene_dict["objects"][obj]
        plan += [
            f"Navigate({display_name(source)})",
            f"Pick({display_name(obj)})",
            f"Navigate({display_name(destination)})",
            f"Place({display_name(destination)})",
        ]
    trace = simulate(plan, scene, domain)
    return plan if trace.completed and len(plan) == optimal_length(scene, domain) else None


def scene_receptacles(scene: dict) -> list[str]:
    """The scene's receptacles, in its locations' order: the destinations of the lookup tasks."""
    return [name for name in scene["locations"] if name in world.RECEPTACLES]


def one_task_per_object(record: dict, rng: random.Random, domain) -> list[dict]:
    """For each object in the record's scene, a one-object task that does not name its table.

    Only the picture tells where such an object is, so these tasks teach the lookup (harp.recipes.pretrain)."""
    scene = record["scene"]
    receptacles = scene_receptacles(scene)
    image_only = [name for name, (_, named) in world.PHRASINGS_ONE.items() if not named]
    tasks = []
    for obj, table in scene["objects"].items():
        destination, phrasing = rng.choice(receptacles), rng.choice(image_only)
        goal_scene = dict(scene, goal={obj: destination})
        task = world.PHRASINGS_ONE[phrasing][0].format(o=obj, s=table, d=destination, p=world.preposition(destination))
        tasks.append(
            dict(
                record,
                task=task,
                scene=goal_scene,
                plan=mention_order_plan(goal_scene, domain.scene_from_dict(goal_scene), domain),
                meta={"num_objects": 1, "source_named": False, "phrasing": phrasing},
            )
        )
    return tasks


def two_object_task(record: dict, rng: random.Random, domain) -> list[dict]:
    """A two-object task on two of the record's objects that names neither table, or [] under two objects.

    Trained on one-object lookups alone, a model sends the second Navigate back to the first
    object's table (docs/results.md §6); this task needs both looked up. The pair is drawn
    from all pairs, same table or not, so it teaches no new prior about where the second one is."""
    scene = record["scene"]
    objects = sorted(scene["objects"])
    if len(objects) < 2:
        return []
    o1, o2 = rng.sample(objects, 2)
    receptacles = scene_receptacles(scene)
    d1 = rng.choice(receptacles)
    d2 = d1 if rng.random() < 0.5 else rng.choice(receptacles)
    phrasing = rng.choice(world.two_object_phrasings(source_named=False, same_destination=d1 == d2))
    goal_scene = dict(scene, goal={o1: d1, o2: d2})  # in mention order, for mention_order_plan
    plan = mention_order_plan(goal_scene, domain.scene_from_dict(goal_scene), domain)
    if plan is None:
        return []
    task = world.PHRASINGS_TWO[phrasing][0].format(
        o1=o1,
        o2=o2,
        s1=scene["objects"][o1],
        s2=scene["objects"][o2],
        d1=d1,
        d2=d2,
        p1=world.preposition(d1),
        p2=world.preposition(d2),
    )
    return [
        dict(
            record,
            task=task,
            scene=goal_scene,
            plan=plan,
            meta={"num_objects": 2, "source_named": False, "phrasing": phrasing},
        )
    ]


def absent_tasks(
    record: dict, rng: random.Random, outside: tuple[tuple[str, ...], tuple[str, ...]] | None = None
) -> list[dict]:
    """Tasks on the record's picture that ask for a thing the picture lacks, each labelled with the
    refusal naming it: as many absent object kinds as the scene has objects (so half the one-object
    lookups beside `one_task_per_object`'s find nothing), as many receptacles not drawn (each moving
    one of its objects), (every other scene) two objects of which one is not drawn, and with
    `outside` (objects, places) one thing no picture of this world draws. With one absent receptacle
    a scene the stage never learnt to refuse one (0 of 300, docs/results.md §7): the lookups'
    destinations are all drawn, so a plan could copy the sentence's. Pretraining on things outside
    the world as well taught refusals that name a word of its own, not the task's (docs/log.md,
    2026-12-07), so only `--verify` asks for them, with names pretraining never used.

    Without them a model meets absence only in the few infeasible tasks of its SFT data and refuses
    tasks whose sentence names a thing the world never draws, but not those whose object is merely
    not in this picture (docs/results.md §7). Like the lookups they name no table: a first version
    that sometimes named one taught the phrasing ("from the red table") as the sign of a refusal."""
    scene = record["scene"]
    present, receptacles = sorted(scene["objects"]), scene_receptacles(scene)
    absent_objects = [kind for kind in world.OBJECTS if kind not in scene["objects"]]
    absent_places = [kind for kind in world.RECEPTACLES if kind not in scene["locations"]]
    one_object = [name for name, (_, named) in world.PHRASINGS_ONE.items() if not named]

    def refused(goal: dict, missing: str, phrasings: dict, phrasing: str, slots: dict) -> dict:
        goal_scene = dict(scene, goal=goal, missing=[missing])
        task = phrasings[phrasing][0].format(**slots)
        meta = {"num_objects": len(goal), "source_named": False, "phrasing": phrasing}
        return dict(record, task=task, scene=goal_scene, plan=[refusal_text(missing)], meta=meta)

    def one(obj: str, destination: str, missing: str) -> dict:
        slots = {"o": obj, "d": destination, "p": world.preposition(destination)}
        return refused({obj: destination}, missing, world.PHRASINGS_ONE, rng.choice(one_object), slots)

    tasks = []
    if receptacles:
        for obj in rng.sample(absent_objects, min(len(present), len(absent_objects))):
            tasks.append(one(obj, rng.choice(receptacles), missing=obj))
    for destination in rng.sample(absent_places, min(len(present), len(absent_places))):
        tasks.append(one(rng.choice(present), destination, missing=destination))
    if absent_objects and present and receptacles and rng.random() < 0.5:
        pair = [rng.choice(present), rng.choice(absent_objects)]
        rng.shuffle(pair)
        destination = rng.choice(receptacles)
        slots = {"d1": destination, "p1": world.preposition(destination)}
        slots |= {f"o{number}": obj for number, obj in enumerate(pair, 1)}
        missing = next(o for o in pair if o not in scene["objects"])
        phrasing = rng.choice(world.two_object_phrasings(source_named=False, same_destination=True))
        tasks.append(refused(dict.fromkeys(pair, destination), missing, world.PHRASINGS_TWO, phrasing, slots))
    if outside and present and receptacles:
        outside_objects, outside_places = outside
        if rng.random() < 0.5:
            thing = rng.choice(outside_objects)
            tasks.append(one(thing, rng.choice(receptacles), missing=thing))
        else:
            place = rng.choice(outside_places)
            tasks.append(one(rng.choice(present), place, missing=place))
    return tasks


def with_lookup_tasks(
    records: list[dict], rng: random.Random, domain, two_object: bool = False, absent: bool = False
) -> list[dict]:
    """Lookup training data: each record followed by its `one_task_per_object` tasks, with
    `two_object` its `two_object_task` and with `absent` its `absent_tasks`; all shuffled by `rng`."""
    rows = []
    for record in records:
        rows += [record] + one_task_per_object(record, rng, domain)
        if two_object:
            rows += two_object_task(record, rng, domain)
        if absent:
            rows += absent_tasks(record, rng)
    rng.shuffle(rows)
    return rows


def build_synthetic(
    num_scenes: int = 500,
    seed: int = 0,
    images_dir: str | Path = "bdv2/synthetic",
    output_dir: str | Path = ".",
    image_size: int = world.IMAGE_SIZE,
    domain: str = "navigate_pick_place",
    progress: bool = True,
    label_noise: float = 0.0,
    label_noise_kinds: tuple[str, ...] = NOISE_KINDS,
    infeasible: float = 0.0,
    language: str = "templates",
    three_objects: float = 0.0,
    phrasing_draw: int = 0,
    phrasings: int = 1,
) -> dict:
    """Render the scenes and write the records; return counts for the summary.

    `label_noise`: the share of plans given a teacher-like mistake (harp.data.label_noise); each
    record keeps its true scene; `label_noise_kinds` the mistakes it may be (a share of the records
    where one applies). Drawn from `(seed, index)` apart from the scene, so the scenes and
    images are the same at any noise level. `infeasible`: the share of tasks that cannot be done
    from their picture (`synthetic_record`). `language`: how tasks are said (harp.data.language).
    `three_objects`: the share of tasks that move three objects (12-step plans). `phrasing_draw`: which
    draw of the language says the tasks (0: the first; another says the same tasks with other words).
    `phrasings`: each scene's task said that many ways (draws `phrasing_draw` onwards; a draw that
    repeats a sentence is left out), one record each with the same image, plan and scene: more
    language a scene (docs/results.md §8: four ways lift seen and held-out phrasing by about 0.1).
    """
    from tqdm import tqdm

    check_scene_options(num_scenes, image_size)
    if not 0.0 <= label_noise <= 1.0:
        raise DataError(f"--label-noise must be a share between 0 and 1, got {label_noise}")
    if not 0.0 <= infeasible <= 1.0:
        raise DataError(f"--infeasible must be a share between 0 and 1, got {infeasible}")
    if not 0.0 <= three_objects <= 1.0:
        raise DataError(f"--three-objects must be a share between 0 and 1, got {three_objects}")
    if language not in LANGUAGES:
        raise DataError(f"--language must be one of {', '.join(LANGUAGES)}, got {language!r}")
    if phrasings < 1:
        raise DataError(f"--phrasings must be at least 1, got {phrasings}")
    if phrasings > 1 and language == "templates":
        raise DataError("--phrasings: give --language varied too (the templates say a task one way)")
    try:
        label_noise_kinds = check_kinds(label_noise_kinds)
    except ValueError as error:
        raise DataError(f"--label-noise-kinds: {error}") from None
    domain_spec = load_domain(domain)
    if not renders(domain_spec):
        supported = ", ".join(name for name in available_domains() if renders(load_domain(name)))
        raise DataError(
            f"--domain {domain}: the synthetic source renders tabletop scenes for {supported} only "
            "(for ALFRED plans: harp data import-alfred)"
        )
    output_dir, images_dir = prepare_outputs(output_dir, images_dir)

    records, scenes = [], []  # every record; each scene's first
    for index in tqdm(range(num_scenes), desc="rendering", unit="scene", disable=not progress, file=sys.stderr):
        path = images_dir / f"scene_{index:05d}_0.png"
        said = set()
        for draw in range(phrasing_draw, phrasing_draw + phrasings):
            record, sample = synthetic_record(
                index, seed, domain_spec, record_path(path), infeasible, language, three_objects, draw
            )
            if record["task"] in said:
                continue
            first = not said
            if first:
                path.write_bytes(world.png_bytes(world.render(sample, image_size)))
            else:
                record["id"] += f"_p{draw}"
            said.add(record["task"])
            noise = random.Random(f"{seed}:{index}:noise")  # the same mistake in every sentence of a scene
            records.append(add_label_noise(record, label_noise, noise, domain_spec, label_noise_kinds))
            if first:
                scenes.append(records[-1])

    write_outputs(records, output_dir)

    return {
        "scenes": len(scenes),
        "records": len(records),
        "two_object": sum(r["meta"]["num_objects"] == 2 for r in scenes),
        "three_object": sum(r["meta"]["num_objects"] == 3 for r in scenes),
        "source_unnamed": sum(not r["meta"]["source_named"] for r in scenes),
        "phrasings": len(Counter(r["meta"]["phrasing"] for r in records)),
        "mean_plan_length": sum(len(r["plan"]) for r in scenes) / len(scenes),
        "label_noise": dict(Counter(r["meta"]["label_noise"] for r in scenes if "label_noise" in r["meta"])),
        "infeasible": dict(Counter(r["meta"]["infeasible"] for r in scenes if "infeasible" in r["meta"])),
        "images_dir": str(images_dir),
    }


def check_scene_options(num_scenes: int, image_size: int) -> None:
    """The options every rendered world shares: a DataError naming the flag when one is out of range."""
    if num_scenes < 1:
        raise DataError(f"--num-scenes must be at least 1, got {num_scenes}")
    if not SYNTHETIC_SIZES[0] <= image_size <= SYNTHETIC_SIZES[1]:
        raise DataError(f"--image-size must be between {SYNTHETIC_SIZES[0]} and {SYNTHETIC_SIZES[1]}, got {image_size}")


def prepare_outputs(output_dir: str | Path, images_dir: str | Path) -> tuple[Path, Path]:
    """(output folder, images folder), checked before anything is rendered; the images folder made.
    Refuses to overwrite teacher-labelled records."""
    output_dir, images_dir = check_outputs(output_dir), check_output_dir(images_dir, "--images-dir")
    _refuse_teacher_records(output_dir / ACTIONS)
    images_dir.mkdir(parents=True, exist_ok=True)
    return output_dir, images_dir


def write_outputs(records: list[dict], output_dir: Path) -> None:
    """tasks.jsonl, actions.jsonl and processed/processed_images.txt of a rendered world, each rewritten whole."""
    write_records(output_dir / TASKS, ({"image": r["image"], "task": r["task"], "id": r["id"]} for r in records))
    write_records(output_dir / ACTIONS, records)
    processed = output_dir / PROCESSED
    processed.parent.mkdir(parents=True, exist_ok=True)
    processed.write_text(
        "".join(image + "\n" for image in dict.fromkeys(r["image"] for r in records)), encoding="utf-8"
    )


def renders(domain) -> bool:
    """Whether the synthetic world's scenes and plans are the domain's: the world writes the guide
    engine's scene JSON (tables, objects, receptacles; harp.plan.scene), moved with Navigate, Pick and Place."""
    return isinstance(domain, GuideDomain) and all(domain.canonical_action(a) for a in ("Navigate", "Pick", "Place"))


def _refuse_teacher_records(actions: Path) -> None:
    """Teacher labels cost money: never overwrite them with synthetic ones."""
    if not actions.is_file():
        return
    for number, record in iter_records(actions, required=()):
        if "scene" not in record:
            raise DataError(
                f"{actions}:{number}: holds teacher-labelled records; move it away or pass "
                "--output-dir to write the synthetic data elsewhere"
            )


def contact_sheet(seed: int = 0, count: int = 16, columns: int = 4):
    """A grid of the first `count` scenes of `seed`, each captioned with its task (for the README)."""
    import textwrap

    from PIL import Image, ImageDraw, ImageFont

    size, caption, pad = world.IMAGE_SIZE, 44, 6
    rows = -(-count // columns)
    sheet = Image.new("RGB", (columns * (size + pad) + pad, rows * (size + caption + pad) + pad), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=12)
    for index in range(count):
        sample = world.sample_scene(random.Random(f"{seed}:{index}"))
        x = pad + (index % columns) * (size + pad)
        y = pad + (index // columns) * (size + caption + pad)
        sheet.paste(world.render(sample), (x, y))
        text = "\n".join(textwrap.wrap(sample.task, 36)[:3])
        draw.multiline_text((x + 2, y + size + 2), text, fill=(0, 0, 0), font=font, spacing=1)
    return sheet
