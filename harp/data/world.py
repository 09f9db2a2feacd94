"""The synthetic tabletop world: what can be in a scene, how a scene and its task are sampled, and
how the scene is drawn.

A scene is seen from above on a grey floor split into a 2x2 grid of cells. Two or three cells hold
a large coloured table (two tables of different colours are the common case); the other cells hold
receptacles (basket, box, bin, bowl, shelf). Objects (apple, banana, cup, ...) lie on the tables;
some are the task's objects, the rest are distractors. Each object kind appears at most once per
scene, so "the apple" is never ambiguous, and each has its own colour *and* silhouette (a circle
with a leaf, a crescent, a mug with a handle, ...), drawn with a dark outline so it stays visible
on a table of the same colour.

What the task needs from the image is made obvious on purpose: which table an object lies on is
decided by large flat regions of distinct colours, because a tiny vision model has to learn it.

Everything is pure Python + Pillow and driven by one `random.Random`, so the same seed gives the
same scene, task and PNG bytes. Names are canonical (lower case, as in the record's `scene`);
`display(name)` gives the title-case form that plans use ("White Table").
"""

from __future__ import annotations

import io
import random
import re
from dataclasses import dataclass

from PIL import Image, ImageDraw

from harp.plan.refusal import refusal_text

IMAGE_SIZE = 224  # pixels per side; 8x8 merged 28-pixel patches for Qwen2.5-VL

FLOOR = (168, 168, 168)
OUTLINE = (30, 30, 30)

# Table colours: large, saturated and far apart, so "which table" is easy to see.
TABLE_COLOURS = {
    "white": (245, 245, 245),
    "red": (214, 48, 49),
    "blue": (45, 98, 214),
    "green": (56, 168, 72),
    "yellow": (242, 208, 36),
}

# Receptacle -> the preposition a task uses with it ("into the basket", "on the shelf").
RECEPTACLES = {"basket": "into", "box": "into", "bin": "into", "bowl": "into", "shelf": "onto"}
TABLE_PREPOSITION = "onto"

OBJECTS = ("apple", "banana", "cup", "bottle", "book", "carrot", "ball", "sponge", "spoon")
# Things a task may ask for that this world never draws (infeasible tasks, `make_infeasible`).
OUTSIDE_OBJECTS = ("laptop", "phone", "plate", "keys")
OUTSIDE_PLACES = ("fridge", "sink", "drawer", "oven")
# Things neither this world draws nor any data HARP builds names: the learning benchmark's
# `held_out_words` renames the test's never-drawn things to these (`with_held_out_word`), to measure
# whether a refusal learnt on OUTSIDE_* carries to words training never saw.
HELD_OUT_OBJECTS = ("hammer", "candle", "towel", "scissors")
HELD_OUT_PLACES = ("desk", "sofa", "bed", "cupboard")
# How a task is made impossible: what it asks for is not in the picture.
INFEASIBLE_KINDS = ("missing_object", "missing_destination", "unknown_object", "unknown_destination")

# Task phrasings. One-object templates take {o} object, {s} source, {d} destination, {p} the
# destination's preposition; two-object ones number them. `source_named` says whether the task
# tells where the object is (if not, only the image does).
PHRASINGS_ONE = {
    "put_into": ("Put the {o} {p} the {d}", False),
    "pick_and_put": ("Pick up the {o} and put it {p} the {d}", False),
    "could_you": ("Could you place the {o} {p} the {d}?", False),
    "bring": ("Bring the {o} to the {d}", False),
    "put_from": ("Put the {o} on the {s} {p} the {d}", True),
    "move_from_to": ("Move the {o} from the {s} to the {d}", True),
    "take_from": ("Take the {o} from the {s} and place it {p} the {d}", True),
}
PHRASINGS_TWO = {
    "two_into": ("Put the {o1} and the {o2} {p1} the {d1}", False),
    "two_each": ("Put the {o1} {p1} the {d1} and the {o2} {p2} the {d2}", False),
    "two_from": ("Put the {o1} from the {s1} and the {o2} from the {s2} {p1} the {d1}", True),
    "two_move_from": ("Move the {o1} on the {s1} to the {d1} and the {o2} on the {s2} to the {d2}", True),
}
# Three-object tasks (`harp data build --three-objects P`, plans of 12 steps), asked for apart from the
# demo's world.
PHRASINGS_THREE = {
    "three_into": ("Put the {o1}, the {o2} and the {o3} {p1} the {d1}", False),
    "three_each": ("Put the {o1} {p1} the {d1}, the {o2} {p2} the {d2} and the {o3} {p3} the {d3}", False),
    "three_from": ("Put the {o1} from the {s1}, the {o2} from the {s2} and the {o3} from the {s3} {p1} the {d1}", True),
    "three_move_from": (
        "Move the {o1} on the {s1} to the {d1}, the {o2} on the {s2} to the {d2} and the {o3} on the {s3} to the {d3}",
        True,
    ),
}

CELL = IMAGE_SIZE // 2
SLOT_OBJECT = 38  # object size in pixels; a table holds 2x2 objects


@dataclass
class Placed:
    """An entity drawn in the image: canonical name and its box (x0, y0, x1, y1)."""

    name: str
    box: tuple[int, int, int, int]


@dataclass
class SyntheticScene:
    """One sampled scene with its task; `scene` is the record's scene dict (docs/internals.md)."""

    scene: dict
    task: str
    meta: dict  # num_objects, source_named, phrasing
    tables: list[Placed]
    receptacles: list[Placed]
    objects: list[Placed]


def display(name: str) -> str:
    """Title-case display form of a canonical name: "white table" -> "White Table"."""
    return " ".join(word.capitalize() for word in name.split())


ONE_DESTINATION = ("two_into", "two_from", "three_into", "three_from")  # phrasings naming one destination


def two_object_phrasings(source_named: bool, same_destination: bool, phrasings: dict | None = None) -> list[str]:
    """The names of the many-object phrasings that fit (of PHRASINGS_TWO unless `phrasings` is given):
    those in ONE_DESTINATION name one destination for all."""
    return [
        name
        for name, (_, named) in (PHRASINGS_TWO if phrasings is None else phrasings).items()
        if named == source_named and (name in ONE_DESTINATION) == same_destination
    ]


def table_name(colour: str) -> str:
    return f"{colour} table"


def preposition(location: str) -> str:
    return RECEPTACLES.get(location, TABLE_PREPOSITION)


# ----------------------------------------------------------------------------------- sampling


def sample_scene(rng: random.Random, num_objects: int | None = None) -> SyntheticScene:
    """Sample a layout, a one- or two-object task (or `num_objects`: 1, 2 or 3) and its phrasing."""
    cells = [(0, 0), (CELL, 0), (0, CELL), (CELL, CELL)]
    rng.shuffle(cells)
    num_tables = rng.choice((2, 2, 3))
    colours = rng.sample(sorted(TABLE_COLOURS), num_tables)
    num_receptacles = rng.randint(1, 4 - num_tables)
    receptacle_names = rng.sample(sorted(RECEPTACLES), num_receptacles)

    tables = [Placed(table_name(c), _table_box(cell)) for c, cell in zip(colours, cells)]
    receptacles = [Placed(name, _receptacle_box(cell, rng)) for name, cell in zip(receptacle_names, cells[num_tables:])]

    if num_objects is None:
        num_objects = 1 if rng.random() < 0.65 else 2
    num_distractors = rng.randint(0, 2)
    kinds = rng.sample(OBJECTS, num_objects + num_distractors)
    free_slots = [(t, s) for t in range(len(tables)) for s in range(4)]
    rng.shuffle(free_slots)
    objects, where = [], {}
    for kind, (table_index, slot) in zip(kinds, free_slots):
        objects.append(Placed(kind, _object_box(tables[table_index].box, slot, rng)))
        where[kind] = tables[table_index].name

    task_objects = kinds[:num_objects]
    locations = [t.name for t in tables] + [r.name for r in receptacles]
    goal = {}
    sources = {where[kind] for kind in task_objects}
    for kind in task_objects:
        # Mostly receptacles; sometimes a table no task object starts on ("Move the cup to the
        # red table"), so a destination never gives away where a task object is.
        options = [t.name for t in tables if t.name not in sources] if rng.random() < 0.2 else []
        options = options or [r.name for r in receptacles]
        goal[kind] = rng.choice(sorted(options))

    source_named = rng.random() < 0.5
    if num_objects == 1:
        names = [n for n, (_, named) in PHRASINGS_ONE.items() if named == source_named]
        phrasing = rng.choice(names)
        o = task_objects[0]
        task = PHRASINGS_ONE[phrasing][0].format(o=o, s=where[o], d=goal[o], p=preposition(goal[o]))
    else:
        if rng.random() < 0.5:  # half the many-object tasks share one destination
            goal = {kind: goal[task_objects[0]] for kind in task_objects}
        phrasings = PHRASINGS_TWO if num_objects == 2 else PHRASINGS_THREE
        same = len(set(goal.values())) == 1
        phrasing = rng.choice(two_object_phrasings(source_named, same, phrasings))
        slots = {}
        for number, kind in enumerate(task_objects, 1):
            slots.update({f"o{number}": kind, f"s{number}": where[kind], f"d{number}": goal[kind]})
            slots[f"p{number}"] = preposition(goal[kind])
        task = phrasings[phrasing][0].format(**slots)

    scene = {"robot": "start", "locations": locations, "objects": where, "goal": goal}
    meta = {"num_objects": num_objects, "source_named": source_named, "phrasing": phrasing}
    return SyntheticScene(scene, task, meta, tables, receptacles, objects)


def make_infeasible(sample: SyntheticScene, rng: random.Random) -> SyntheticScene:
    """The same scene and task made impossible: one thing the task asks for is not in the picture.

    - `missing_object`: a task object is not drawn (each kind appears once, so none is there);
    - `missing_destination`: the task's receptacle is not drawn;
    - `unknown_object` / `unknown_destination`: the task asks for a thing this world never draws
      (a laptop, the fridge) in place of its own.
    The scene keeps the task's goal and names what it lacks in `missing` (harp/plan/refusal.py);
    `meta.infeasible` the kind. Tables stay: objects lie on them.
    """
    scene = {**sample.scene, "objects": dict(sample.scene["objects"]), "goal": dict(sample.scene["goal"])}
    goal = scene["goal"]
    receptacle_goals = sorted({d for d in goal.values() if d in RECEPTACLES})
    kinds = [k for k in INFEASIBLE_KINDS if k != "missing_destination" or receptacle_goals]
    kind = rng.choice(kinds)
    objects, receptacles, task = list(sample.objects), list(sample.receptacles), sample.task
    if kind == "missing_object":
        missing = rng.choice(sorted(goal))
        objects = [o for o in objects if o.name != missing]
        del scene["objects"][missing]
    elif kind == "missing_destination":
        missing = rng.choice(receptacle_goals)
        receptacles = [r for r in receptacles if r.name != missing]
        scene["locations"] = [x for x in scene["locations"] if x != missing]
    elif kind == "unknown_object":
        old, missing = rng.choice(sorted(goal)), rng.choice(OUTSIDE_OBJECTS)
        scene["goal"], task = renamed(goal, task, old, missing)
    else:
        old, missing = rng.choice(sorted(set(goal.values()))), rng.choice(OUTSIDE_PLACES)
        scene["goal"], task = renamed(goal, task, old, missing)
    scene["missing"] = [missing]
    meta = {**sample.meta, "infeasible": kind}
    return SyntheticScene(scene, task, meta, sample.tables, receptacles, objects)


def renamed(goal: dict, task: str, old: str, new: str) -> tuple[dict, str]:
    """The goal and its task with the thing `old` (an object or a destination) called `new`; the goal's
    mention order kept."""
    goal = {(new if o == old else o): (new if d == old else d) for o, d in goal.items()}
    return goal, re.sub(rf"\b{old}\b", new, task)


def with_held_out_word(record: dict, index: int) -> dict:
    """A record whose task names a thing this world never draws (`unknown_object` /
    `unknown_destination`) with that thing renamed to a held-out word (the index-th of its kind's list,
    round robin) in its task, goal, missing and refusal label; any other record unchanged."""
    kind = (record.get("meta") or {}).get("infeasible")
    if kind not in ("unknown_object", "unknown_destination"):
        return record
    old = record["scene"]["missing"][0]
    words = HELD_OUT_OBJECTS if kind == "unknown_object" else HELD_OUT_PLACES
    new = words[index % len(words)]
    goal, task = renamed(record["scene"]["goal"], record["task"], old, new)
    return {
        **record,
        "task": task,
        "scene": {**record["scene"], "goal": goal, "missing": [new]},
        "plan": [refusal_text(new)],
    }


def _table_box(cell: tuple[int, int]) -> tuple[int, int, int, int]:
    x, y = cell
    return (x + 5, y + 5, x + CELL - 5, y + CELL - 5)


def _receptacle_box(cell: tuple[int, int], rng: random.Random) -> tuple[int, int, int, int]:
    size = rng.randint(64, 80)
    x = cell[0] + rng.randint(6, CELL - 6 - size)
    y = cell[1] + rng.randint(6, CELL - 6 - size)
    return (x, y, x + size, y + size)


def _object_box(table: tuple[int, int, int, int], slot: int, rng: random.Random) -> tuple[int, int, int, int]:
    half = (table[2] - table[0]) // 2
    x = table[0] + (slot % 2) * half + (half - SLOT_OBJECT) // 2 + rng.randint(-3, 3)
    y = table[1] + (slot // 2) * half + (half - SLOT_OBJECT) // 2 + rng.randint(-3, 3)
    return (x, y, x + SLOT_OBJECT, y + SLOT_OBJECT)


# ------------------------------------------------------------------------------------ drawing


def render(sample: SyntheticScene, size: int = IMAGE_SIZE) -> Image.Image:
    """Draw the scene: tables, then receptacles, then objects on top."""
    image = Image.new("RGB", (IMAGE_SIZE, IMAGE_SIZE), FLOOR)
    draw = ImageDraw.Draw(image)
    for table in sample.tables:
        colour = TABLE_COLOURS[table.name.split()[0]]
        draw.rounded_rectangle(table.box, radius=8, fill=colour, outline=OUTLINE, width=3)
    for receptacle in sample.receptacles:
        RECEPTACLE_DRAWERS[receptacle.name](draw, receptacle.box)
    for obj in sample.objects:
        OBJECT_DRAWERS[obj.name](draw, obj.box)
    if size != IMAGE_SIZE:
        image = image.resize((size, size), Image.Resampling.LANCZOS)
    return image


def png_bytes(image: Image.Image) -> bytes:
    """PNG bytes with no metadata (no timestamps), so the same scene gives the same bytes."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False, compress_level=6)
    return buffer.getvalue()


def _inset(box, fraction):
    x0, y0, x1, y1 = box
    dx, dy = (x1 - x0) * fraction, (y1 - y0) * fraction
    return (x0 + dx, y0 + dy, x1 - dx, y1 - dy)


def _at(box, fx0, fy0, fx1, fy1):
    """Sub-box of `box` given as fractions of its width and height."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    return (x0 + fx0 * w, y0 + fy0 * h, x0 + fx1 * w, y0 + fy1 * h)


def _points(box, fractions):
    x0, y0, x1, y1 = box
    return [(x0 + fx * (x1 - x0), y0 + fy * (y1 - y0)) for fx, fy in fractions]


def draw_basket(draw, box):  # woven brown bowl shape with a handle arc
    draw.arc(_at(box, 0.2, 0.0, 0.8, 0.7), 180, 360, fill=(110, 70, 30), width=5)
    body = _points(box, [(0.05, 0.35), (0.95, 0.35), (0.8, 0.95), (0.2, 0.95)])
    draw.polygon(body, fill=(196, 136, 64), outline=OUTLINE, width=2)
    for fy in (0.5, 0.65, 0.8):
        draw.line(_points(box, [(0.1, fy), (0.9, fy)]), fill=(120, 76, 30), width=2)


def draw_box(draw, box):  # cardboard square with flaps and tape
    draw.rectangle(_at(box, 0.05, 0.05, 0.95, 0.95), fill=(222, 184, 135), outline=OUTLINE, width=2)
    draw.line(_points(box, [(0.05, 0.05), (0.95, 0.95)]), fill=(150, 110, 70), width=2)
    draw.line(_points(box, [(0.95, 0.05), (0.05, 0.95)]), fill=(150, 110, 70), width=2)
    draw.rectangle(_at(box, 0.44, 0.05, 0.56, 0.95), fill=(240, 230, 200))


def draw_bin(draw, box):  # dark round bin, seen from above
    draw.ellipse(_at(box, 0.05, 0.05, 0.95, 0.95), fill=(70, 70, 76), outline=OUTLINE, width=2)
    draw.ellipse(_at(box, 0.2, 0.2, 0.8, 0.8), fill=(35, 35, 40))


def draw_bowl(draw, box):  # light-blue ring with a paler inside
    draw.ellipse(_at(box, 0.05, 0.05, 0.95, 0.95), fill=(120, 200, 230), outline=OUTLINE, width=2)
    draw.ellipse(_at(box, 0.25, 0.25, 0.75, 0.75), fill=(200, 236, 248))


def draw_shelf(draw, box):  # dark wooden shelf with three boards
    draw.rectangle(_at(box, 0.0, 0.1, 1.0, 0.9), fill=(96, 58, 30), outline=OUTLINE, width=2)
    for fy in (0.33, 0.56, 0.79):
        draw.rectangle(_at(box, 0.06, fy - 0.05, 0.94, fy), fill=(170, 120, 70))


def draw_apple(draw, box):  # red disc, brown stem, green leaf
    draw.ellipse(_at(box, 0.1, 0.2, 0.9, 0.98), fill=(220, 30, 40), outline=OUTLINE, width=2)
    draw.line(_points(box, [(0.5, 0.25), (0.55, 0.02)]), fill=(90, 50, 20), width=3)
    draw.ellipse(_at(box, 0.56, 0.02, 0.88, 0.2), fill=(50, 170, 50), outline=OUTLINE)


def draw_banana(draw, box):  # yellow crescent
    outer = [(0.05, 0.18), (0.2, 0.7), (0.55, 0.96), (0.97, 0.88)]
    inner = [(0.92, 0.6), (0.62, 0.58), (0.45, 0.4), (0.35, 0.1)]
    draw.polygon(_points(box, outer + inner), fill=(250, 225, 50), outline=OUTLINE, width=2)
    draw.line(_points(box, [(0.02, 0.22), (0.12, 0.12)]), fill=(80, 60, 20), width=3)


def draw_cup(draw, box):  # blue mug with a handle on the right
    draw.ellipse(_at(box, 0.55, 0.3, 0.98, 0.72), outline=OUTLINE, width=5)
    draw.rectangle(_at(box, 0.08, 0.15, 0.72, 0.92), fill=(40, 80, 230), outline=OUTLINE, width=2)
    draw.rectangle(_at(box, 0.08, 0.15, 0.72, 0.28), fill=(150, 180, 255), outline=OUTLINE, width=1)


def draw_bottle(draw, box):  # tall green bottle with a neck and a white cap
    draw.rectangle(_at(box, 0.3, 0.35, 0.7, 0.98), fill=(30, 150, 90), outline=OUTLINE, width=2)
    draw.rectangle(_at(box, 0.42, 0.1, 0.58, 0.36), fill=(30, 150, 90), outline=OUTLINE, width=2)
    draw.rectangle(_at(box, 0.4, 0.0, 0.6, 0.12), fill=(250, 250, 250), outline=OUTLINE, width=1)


def draw_book(draw, box):  # purple cover with white page edges
    draw.rectangle(_at(box, 0.1, 0.12, 0.9, 0.88), fill=(130, 50, 170), outline=OUTLINE, width=2)
    draw.rectangle(_at(box, 0.78, 0.18, 0.88, 0.82), fill=(250, 250, 240))
    draw.line(_points(box, [(0.2, 0.3), (0.65, 0.3)]), fill=(240, 200, 60), width=2)


def draw_carrot(draw, box):  # orange downward triangle with green leaves
    draw.polygon(_points(box, [(0.25, 0.28), (0.75, 0.28), (0.5, 1.0)]), fill=(250, 130, 20), outline=OUTLINE, width=2)
    for fx in (0.35, 0.5, 0.65):
        draw.line(_points(box, [(0.5, 0.28), (fx, 0.0)]), fill=(40, 150, 40), width=3)


def draw_ball(draw, box):  # beach ball: a disc of four coloured quarters
    disc = _at(box, 0.08, 0.08, 0.92, 0.92)
    for start, colour in zip((0, 90, 180, 270), ((240, 60, 60), (255, 255, 255), (60, 110, 240), (255, 220, 0))):
        draw.pieslice(disc, start, start + 90, fill=colour)
    draw.ellipse(disc, outline=OUTLINE, width=2)


def draw_sponge(draw, box):  # yellow block with a green scrub layer, wider than tall
    draw.rectangle(_at(box, 0.05, 0.3, 0.95, 0.8), fill=(250, 235, 110), outline=OUTLINE, width=2)
    draw.rectangle(_at(box, 0.05, 0.3, 0.95, 0.45), fill=(40, 140, 60), outline=OUTLINE, width=1)


def draw_spoon(draw, box):  # grey oval bowl on a long diagonal handle
    draw.line(_points(box, [(0.45, 0.45), (0.95, 0.95)]), fill=OUTLINE, width=7)
    draw.line(_points(box, [(0.45, 0.45), (0.95, 0.95)]), fill=(200, 200, 210), width=4)
    draw.ellipse(_at(box, 0.05, 0.05, 0.55, 0.55), fill=(200, 200, 210), outline=OUTLINE, width=2)


RECEPTACLE_DRAWERS = {
    "basket": draw_basket,
    "box": draw_box,
    "bin": draw_bin,
    "bowl": draw_bowl,
    "shelf": draw_shelf,
}
OBJECT_DRAWERS = {
    "apple": draw_apple,
    "banana": draw_banana,
    "cup": draw_cup,
    "bottle": draw_bottle,
    "book": draw_book,
    "carrot": draw_carrot,
    "ball": draw_ball,
    "sponge": draw_sponge,
    "spoon": draw_spoon,
}
