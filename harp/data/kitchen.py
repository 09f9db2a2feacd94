"""The kitchen world: ALFRED's task types in a drawn kitchen, planned and checked in the `alfred` domain.

Why a second world: the tabletop (world.py) asks for one to three pick-and-place moves, and a tiny
model learns it to 0.99, so RL has nothing left to learn. Here the picture and the plan ask for more:
which appliance heats (a microwave or a stove burner, never both), whether a cabinet, drawer or the
fridge is closed (open it, and close it again after use), which of two counter tops (each its own
colour, tagged 1 and 2), where the knife is, and plans of 4 to 16 steps and more over ALFRED's ten
words.

A scene is a 3x3 grid of furniture seen from above: counter tops, a dining table, a cabinet, a
drawer, the fridge, a microwave or a stove burner, a sink basin, a desk lamp (not all in every
scene). Items stand on or in them, some inside a bowl, plate or pan; a closed container is drawn
with a see-through door, so what is inside is always visible (kitchen_render.py). Names are ALFRED's
object types in lower case (`countertop`, `sinkbasin`), a second of a kind numbered as
harp/plan/alfred.py numbers it (`countertop 2`), and plans write them as ALFRED does
(`Navigate(CounterTop 2)`).

Task types (`TASK_TYPES`, a record's `meta.task_type`): ALFRED's seven (pick and place; two objects
to one place; clean, heat or cool then place; look at an object under the lamp; an object carried in
a movable receptacle), slicing (fetch the knife and slice the object where it is, putting the knife
down, or where it goes), picking out of a closed container, and compositions of them (three
objects; two objects each heated, cooled or cleaned; an object heated, cooled or cleaned then put
into a closed container). The goal is exactly the task: where the objects end, how they were
changed, and every container the task opens closed again (as the alfred domain reads an ALFRED
plan's goal, harp/plan/alfred.py); looking at an object is holding it at the lamp, switched on.

The plan is the planner's optimum in the task's mention order (as synthetic.mention_order_plan: a
tie the planner breaks by an order neither the picture nor the sentence shows cannot be learnt): the
natural plan for the objects in the sentence's order, kept when it completes and is as short as
`optimal_length`; else the first other order (or place to slice) that is, the sentence then said in
that order; else the planner's own plan (`meta.plan_source: planner`).

What the exact planner allows. The alfred domain's search explores every state reachable from the
start, and any item that can be picked can be put into any receptacle, so each pickable item
multiplies the states by the number of receptacles (9 pieces of furniture and 10 pickable items:
past its 20,000-state budget, 2 s and more a scene, and no certified optimum for two objects). So
only what the task moves is pickable: its objects, the knife it slices with, the bowl it carries;
the other items are drawn and can be gone to, but not picked up, as in the scenes the alfred domain
infers from ALFRED's plans. And a scene has as many pieces of furniture as keep `planning_states`
(an estimate of the states the search reaches) under `STATE_LIMIT`: compositions get small kitchens.

Everything is pure Python + Pillow driven by one `random.Random(f"{seed}:{index}")`: the same seed
gives the same scene, task, plan and PNG bytes. The sentence is drawn last (kitchen_language.py), so
the held-out phrasing of a scene has the same picture and plan.
"""

from __future__ import annotations

import itertools
import random
import sys
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from harp.data import kitchen_language
from harp.data.alfred_import import CAMEL
from harp.data.images import record_path
from harp.data.kitchen_render import GRID, IMAGE_SIZE, SLOT_CENTRES, render
from harp.data.language import LANGUAGES
from harp.data.synthetic import check_scene_options, prepare_outputs, write_outputs
from harp.data.world import png_bytes
from harp.errors import DataError
from harp.plan import load_domain, optimal_length, optimal_plan, simulate

DOMAIN = "alfred"
START = "start"  # the spot the robot starts on (no furniture: its first step is a Navigate)

# ------------------------------------------------------------------------------------ catalogue

SURFACES = ("countertop", "diningtable")
CONTAINERS = ("cabinet", "drawer", "fridge")  # openable; the fridge always starts closed
HEATERS = ("microwave", "stoveburner")  # a scene has one of them at most
APPLIANCE = {"heat": HEATERS, "cool": ("fridge",), "clean": ("sinkbasin",)}
LAMP = "desklamp"
FURNITURE = (*SURFACES, *CONTAINERS, *HEATERS, "sinkbasin", LAMP)
# Items a piece of furniture holds directly (a bowl's contents stand in the bowl): those it has room for drawn.
SLOTS = {kind: len(SLOT_CENTRES.get(kind, ())) for kind in FURNITURE}
COUNTER_COLOURS = ("white", "grey", "blue", "green", "pink")  # two counter tops never share one

FOOD = ("apple", "potato", "tomato", "bread", "lettuce", "egg")
DISHES = ("mug", "cup", "plate", "bowl", "pan")
ITEMS = (*FOOD, *DISHES, "book", "dishsponge", "knife")
CARRIERS = ("bowl", "plate", "pan")  # receptacles that stand on a surface with food in them
# Where each kind of item may stand (and be put): furniture kind -> item kinds.
HOLDS = {
    "countertop": ITEMS,
    "diningtable": ITEMS,
    "cabinet": ("mug", "cup", "plate", "bowl", "pan", "bread", "book", "dishsponge"),
    "drawer": ("knife", "dishsponge", "book"),
    "fridge": ("apple", "potato", "tomato", "bread", "lettuce", "egg", "mug", "cup", "plate", "bowl"),
    "microwave": ("potato", "bread", "egg", "mug", "cup"),
    "stoveburner": ("pan",),
    "sinkbasin": ("mug", "cup", "plate", "bowl", "pan", "dishsponge", "apple", "potato", "tomato", "lettuce"),
    LAMP: (),
    "bowl": ("apple", "potato", "tomato", "egg", "lettuce"),
    "plate": ("apple", "potato", "tomato", "bread", "egg"),
    "pan": ("potato", "egg", "tomato"),
}
# What each modifier applies to (ALFRED's task objects of each type).
MODIFIABLE = {
    "heat": ("apple", "potato", "tomato", "bread", "egg", "mug", "cup"),
    "cool": ("apple", "potato", "tomato", "bread", "lettuce", "egg", "mug", "cup", "plate", "bowl", "pan"),
    "clean": ("mug", "cup", "plate", "bowl", "pan", "apple", "potato", "tomato", "lettuce"),
    "slice": ("apple", "potato", "tomato", "bread", "lettuce"),
}
LOOKABLE = ("book", "mug", "cup", "bowl", "plate")  # looked at under the lamp
MOVED = tuple(k for k in ITEMS if k != "knife")  # what pick-and-place tasks move
PAIRED = ("apple", "potato", "tomato", "egg", "mug", "cup", "plate", "bowl", "book")  # "two apples"

# Task types (a record's meta.task_type), ALFRED's names where ALFRED has the type.
TASK_TYPES = (
    "pick_and_place_simple",
    "pick_from_closed",
    "pick_two_obj_and_place",
    "pick_clean_then_place_in_recep",
    "pick_heat_then_place_in_recep",
    "pick_cool_then_place_in_recep",
    "look_at_obj_in_light",
    "pick_and_place_with_movable_recep",
    "slice_then_place",
    "pick_three_obj_and_place",
    "two_modified_then_place",
    "modify_then_place_in_closed",
)
COMPOSITIONS = ("pick_three_obj_and_place", "two_modified_then_place", "modify_then_place_in_closed")
STATE_LIMIT = 6_000  # `planning_states` a scene may reach; the exact search takes ~50 us a state
CLOSED_SHARE = 0.7  # compositions: how often an object comes out of (or goes into) a closed container
MAX_TRIES = 200  # draws of a task before giving up (a draw fails when, say, no free place fits its object)


@dataclass
class Furniture:
    """A piece of furniture in a cell of the grid; `closed` for a container, `colour` for a counter top."""

    name: str
    kind: str
    cell: int
    closed: bool = False
    colour: str | None = None
    number: int | None = None  # the tag drawn on it when the scene holds two of its kind


@dataclass
class Item:
    """An item standing in `inside` (furniture or a carrier) at one of its slots."""

    name: str
    kind: str
    inside: str
    slot: int
    pickable: bool = False
    holds: bool = False  # a receptacle: a bowl, plate or pan to put food in or to carry it in
    number: int | None = None


@dataclass
class Job:
    """One object of a task: what happens to it and where it ends (None: it stays in the hand)."""

    obj: str
    modifiers: tuple[str, ...] = ()
    destination: str | None = None
    carrier: str | None = None  # pick_and_place_with_movable_recep: put into this, then carry it
    lamp: str | None = None  # look_at_obj_in_light: hold it at this lamp, switched on
    slice_there: bool = False  # put it down first and slice it there (the knife stays in the hand)


@dataclass
class KitchenSample:
    """One sampled kitchen with its task; `scene` is the record's scene (the alfred domain's JSON)."""

    scene: dict
    task: str
    plan: list[str]
    meta: dict
    furniture: list[Furniture]
    items: list[Item]
    jobs: list[Job] = field(default_factory=list)


def plan_name(name: str) -> str:
    """How a plan writes an entity, as ALFRED does: `countertop 2` -> `CounterTop 2`."""
    camel = {word.lower(): word for word in CAMEL}
    kind, _, number = name.partition(" ")
    head = camel.get(kind, kind[:1].upper() + kind[1:])
    return f"{head} {number}" if number else head


# ------------------------------------------------------------------------------------- sampling


class _Kitchen:
    """The furniture and items of one scene while it is sampled."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.furniture: dict[str, Furniture] = {}
        self.items: dict[str, Item] = {}
        self.free: dict[str, list[int]] = {}  # entity -> its free slots, in the order they are taken

    def add_furniture(self, kind: str, cell: int) -> Furniture:
        name = _fresh(kind, self.furniture)
        piece = Furniture(name, kind, cell)
        if kind == "countertop":
            used = {f.colour for f in self.furniture.values()}
            piece.colour = self.rng.choice([c for c in COUNTER_COLOURS if c not in used])
        self.furniture[name] = piece
        self.free[name] = self.rng.sample(range(SLOTS[kind]), SLOTS[kind])
        return piece

    def add_item(self, kind: str, inside: str, pickable: bool, holds: bool = False) -> Item:
        """An item in a free slot of `inside`; `holds`: a carrier things may be put into. One standing
        on a surface or the stove that is not moved holds one thing from the start (what a moved one
        held would move with it)."""
        name = _fresh(kind, self.items)
        item = Item(name, kind, inside, self.free[inside].pop(), pickable, holds)
        self.items[name] = item
        on_top = self.kind_of(inside) in (*SURFACES, "stoveburner")
        self.free[name] = [0] if holds and on_top and not pickable else []
        return item

    def kind_of(self, name: str) -> str:
        return self.furniture[name].kind if name in self.furniture else self.items[name].kind

    def top(self, name: str) -> str:
        """The piece of furniture an entity stands in or on (through a carrier); furniture: itself."""
        while name in self.items:
            name = self.items[name].inside
        return name

    def container(self, name: str) -> str | None:
        """The openable furniture an entity is reached in, if any."""
        top = self.top(name)
        return top if self.furniture[top].kind in CONTAINERS else None

    def places_for(self, kind: str, surfaces_only: bool = False) -> list[str]:
        """Where an item of this kind may stand: furniture or a carrier with a free slot for it
        (a carrier never in a carrier); with `surfaces_only`, directly on a counter or table."""
        return [
            name
            for name in sorted(self.free)
            if self.free[name]
            and kind in HOLDS[self.kind_of(name)]
            and not (name in self.items and (kind in CARRIERS or surfaces_only))
            and not (surfaces_only and self.kind_of(name) not in SURFACES)
        ]

    def piece(self, kind: str) -> str | None:
        """The first piece of furniture of a kind."""
        return next((f.name for f in self.furniture.values() if f.kind == kind), None)


def _fresh(kind: str, taken: dict) -> str:
    """`kind`, or `kind 2` when one is there already (harp/plan/alfred.py's numbering)."""
    if kind not in taken:
        return kind
    number = 2
    while f"{kind} {number}" in taken:
        number += 1
    return f"{kind} {number}"


def planning_states(places: int, receptacles: int, pickable: int, openable: int, flags: int) -> int:
    """About how many states the alfred domain's exact search reaches from the start: the robot at
    one of the places (or the start), each pickable item in a receptacle or in the hand, each
    container open or closed, each fact the goal changes besides (heated, sliced, the lamp on) true
    or false. Within a factor of two of the search's count on sampled kitchens."""
    return (places + 1) * (receptacles + 1) ** pickable * 2 ** (openable + flags)


@dataclass
class _Shape:
    """What a task type asks for, drawn before the kitchen."""

    modifiers: list[tuple[str, ...]]  # one entry per object
    closed: str | None = None  # a container kind the task reaches into, closed
    closed_destination: bool = False  # the object goes into it (else it comes out of it)
    one_destination: bool = False
    same_kind: bool = False  # two of a kind ("two apples")
    lamp: bool = False
    carried: bool = False  # the object goes into a bowl, plate or pan, which is then carried
    composition: bool = False  # a cabinet, closed containers more often (CLOSED_SHARE): longer plans

    @property
    def appliances(self) -> list[str]:
        return [APPLIANCE[m][0] for mods in self.modifiers for m in mods if m in APPLIANCE]

    @property
    def pickable(self) -> int:
        knife = any("slice" in mods for mods in self.modifiers)
        return len(self.modifiers) + knife + self.carried

    @property
    def flags(self) -> int:
        return sum(len(mods) for mods in self.modifiers) + self.lamp


def _shape(rng: random.Random, task_type: str) -> _Shape:
    """What a task of this type asks for (a DataError for a type there is not)."""
    if task_type in ("pick_and_place_simple", "pick_from_closed"):
        return _Shape([()], closed=rng.choice(CONTAINERS) if task_type == "pick_from_closed" else None)
    if task_type == "pick_two_obj_and_place":
        return _Shape([(), ()], one_destination=True, same_kind=rng.random() < 0.5)
    if task_type == "pick_three_obj_and_place":
        return _Shape([(), (), ()], one_destination=rng.random() < 0.4, composition=True)
    if task_type in (
        "pick_clean_then_place_in_recep",
        "pick_heat_then_place_in_recep",
        "pick_cool_then_place_in_recep",
    ):
        return _Shape([(task_type.split("_")[1],)])
    if task_type == "two_modified_then_place":
        return _Shape([(m,) for m in rng.sample(("heat", "cool", "clean"), 2)], composition=True)
    if task_type == "modify_then_place_in_closed":
        modifier = rng.choice(("heat", "cool", "clean"))
        fits = [
            c for c in CONTAINERS if set(HOLDS[c]) & set(MODIFIABLE[modifier]) and (modifier, c) != ("cool", "fridge")
        ]
        return _Shape([(modifier,)], closed=rng.choice(fits), closed_destination=True, composition=True)
    if task_type == "look_at_obj_in_light":
        return _Shape([()], lamp=True)
    if task_type == "pick_and_place_with_movable_recep":
        return _Shape([()], carried=True)
    if task_type == "slice_then_place":
        return _Shape([("slice",)])
    raise DataError(f"unknown kitchen task type {task_type!r} (known: {', '.join(TASK_TYPES)})")


def sample_kitchen(
    rng: random.Random, domain=None, task_type: str | None = None, held_out: bool = False
) -> KitchenSample:
    """A kitchen, a task of `task_type` (drawn when None), its optimal plan and its sentence
    (held-out templates when `held_out`; kitchen_language.py)."""
    domain = domain or load_domain(DOMAIN)
    task_type = task_type or rng.choice(TASK_TYPES)
    for _ in range(MAX_TRIES):
        shape = _shape(rng, task_type)
        kitchen = _Kitchen(rng)
        _furnish(kitchen, shape)
        place = _place_look if shape.lamp else _place_carried if shape.carried else _place_jobs
        jobs = place(kitchen, shape)
        if jobs is not None:
            return _finish(kitchen, jobs, task_type, shape, domain, held_out)
    raise RuntimeError(f"no {task_type} task fits a kitchen in {MAX_TRIES} draws")  # a bug in the catalogue


def _furnish(kitchen: _Kitchen, shape: _Shape) -> None:
    """The furniture the task needs, then more (each kind once, counter tops twice at most, one
    heater) while the planner's states stay under STATE_LIMIT; containers closed or open."""
    rng = kitchen.rng
    heater = rng.choice(HEATERS)
    needed = ["countertop", *(heater if kind in HEATERS else kind for kind in shape.appliances)]
    needed += [LAMP] * shape.lamp + [shape.closed] * bool(shape.closed) + ["cabinet"] * shape.composition
    kinds = list(dict.fromkeys(needed))
    heater = next((k for k in kinds if k in HEATERS), heater)
    optional = ["countertop"] + [
        k for k in ("diningtable", "cabinet", "drawer", "fridge", heater, "sinkbasin", LAMP) if k not in kinds
    ]
    rng.shuffle(optional)
    for kind in optional:
        if len(kinds) < GRID * GRID and _states(kinds + [kind], shape) <= STATE_LIMIT:
            kinds.append(kind)
    for kind, cell in zip(kinds, rng.sample(range(GRID * GRID), len(kinds))):
        piece = kitchen.add_furniture(kind, cell)
        if kind in CONTAINERS:
            piece.closed = kind in ("fridge", shape.closed) or rng.random() < (
                CLOSED_SHARE if shape.composition else 0.6
            )


def _states(kinds: list[str], shape: _Shape) -> int:
    receptacles = sum(kind != LAMP for kind in kinds) + 1  # and a bowl, plate or pan
    openable = sum(kind in CONTAINERS for kind in kinds)
    return planning_states(len(kinds), receptacles, shape.pickable, openable, shape.flags)


def _object_kind(kitchen: _Kitchen, shape: _Shape, index: int, jobs: list, destination, closed=(False, False)):
    """The kind of the task's `index`-th object: one its modifiers apply to, of which the scene has
    none yet (but the first's kind for two of a kind), one the container it comes out of or goes
    into holds, one the shared destination holds; one that a closed container can hold (and the
    object come out of, go into) when `closed` asks for that, if there is such a kind."""
    kinds = [
        k for k in (PAIRED if shape.same_kind else MOVED) if all(k in MODIFIABLE[m] for m in shape.modifiers[index])
    ]
    present = {item.kind for item in kitchen.items.values()}  # a task object is the only one of its kind
    first = jobs and kitchen.items[jobs[0].obj].kind
    kinds = [k for k in kinds if k == first] if shape.same_kind and first else [k for k in kinds if k not in present]
    if shape.closed and index == 0:
        kinds = [k for k in kinds if k in HOLDS[shape.closed]]
    if destination is not None:
        kinds = [k for k in kinds if k in HOLDS[kitchen.kind_of(destination)]]
    modifiers = shape.modifiers[index]
    shut = [f for f in kitchen.furniture.values() if f.closed and not ("cool" in modifiers and f.kind == "fridge")]
    for wanted, has_room in zip(closed, (True, False)):
        fits = [k for k in kinds if any(k in HOLDS[f.kind] and (kitchen.free[f.name] or not has_room) for f in shut)]
        kinds = fits if wanted and fits else kinds
    return kitchen.rng.choice(kinds) if kinds else None


def _start_of(kitchen: _Kitchen, kind: str, modifiers: tuple, closed: str | None = None, prefer_closed=False):
    """Where a task object starts: a free place for its kind (in a closed container of kind
    `closed` when given, in any closed container when `prefer_closed` and one fits); a sliced
    object on a surface, a cooled one not in the fridge."""
    places = kitchen.places_for(kind, surfaces_only="slice" in modifiers)
    if closed:
        places = [p for p in places if p in kitchen.furniture and kitchen.kind_of(p) == closed]
    if "cool" in modifiers:
        places = [p for p in places if kitchen.kind_of(kitchen.top(p)) != "fridge"]
    return kitchen.rng.choice(_closed_first(kitchen, places, prefer_closed)) if places else None


def _closed_first(kitchen: _Kitchen, places: list[str], prefer: bool) -> list[str]:
    """The closed containers among `places` when `prefer` and there are any, else `places`."""
    closed = [p for p in places if p in kitchen.furniture and kitchen.furniture[p].closed]
    return closed if prefer and closed else places


def _destination_of(kitchen: _Kitchen, kind: str, start: str, modifiers: tuple, closed=None, prefer_closed=False):
    """Where a task object goes: a receptacle for its kind, not where it stands (nor the furniture
    under it); a carrier only if it stands on a surface and is not moved; never the fridge for a
    cooled object (closing the fridge on it cools it: the task would be shorter than it says); a
    closed container of kind `closed` when given, any closed container when `prefer_closed` and one fits."""
    carriers = [
        name
        for name, item in kitchen.items.items()
        if item.kind in CARRIERS and not item.pickable and kitchen.kind_of(item.inside) in SURFACES
    ]
    options = [
        name
        for name in [*kitchen.furniture, *carriers]
        if kind in HOLDS[kitchen.kind_of(name)]
        and name not in (start, kitchen.top(start))
        and not (name in kitchen.items and kind in CARRIERS)
        and not ("cool" in modifiers and kitchen.kind_of(name) == "fridge")
        and (closed is None or (kitchen.kind_of(name) == closed and kitchen.furniture[name].closed))
    ]
    return kitchen.rng.choice(_closed_first(kitchen, options, prefer_closed)) if options else None


def _place_jobs(kitchen: _Kitchen, shape: _Shape) -> list[Job] | None:
    """Objects, their starts and destinations for the pick-and-place families (modified or not)."""
    rng = kitchen.rng
    if rng.random() < 0.5:  # a bowl, plate or pan to put food in
        kind = rng.choice(CARRIERS)
        places = [p for p in kitchen.places_for(kind) if kitchen.kind_of(p) in (*SURFACES, "stoveburner")]
        if places:
            kitchen.add_item(kind, rng.choice(places), pickable=False, holds=True)
    jobs, destination = [], None
    for index, modifiers in enumerate(shape.modifiers):
        from_closed = shape.composition and rng.random() < CLOSED_SHARE
        into_closed = shape.composition and rng.random() < CLOSED_SHARE
        shared = destination if shape.one_destination else None
        kind = _object_kind(kitchen, shape, index, jobs, shared, (from_closed, into_closed and shared is None))
        closed_source = shape.closed if index == 0 and not shape.closed_destination else None
        start = kind and _start_of(kitchen, kind, modifiers, closed_source, from_closed)
        if start is None:
            return None
        item = kitchen.add_item(kind, start, pickable=True)
        if shared is None:
            closed = shape.closed if shape.closed_destination else None
            destination = _destination_of(kitchen, kind, start, modifiers, closed, into_closed)
        if destination is None or destination in (start, kitchen.top(start)):
            return None
        jobs.append(Job(item.name, modifiers, destination))
    if any("slice" in job.modifiers for job in jobs):
        kitchen.add_item("knife", rng.choice(kitchen.places_for("knife")), pickable=True)
    return jobs


def _place_look(kitchen: _Kitchen, shape: _Shape) -> list[Job] | None:
    kind = kitchen.rng.choice(LOOKABLE)
    start = _start_of(kitchen, kind, ())
    if start is None:
        return None
    return [Job(kitchen.add_item(kind, start, pickable=True).name, lamp=kitchen.piece(LAMP))]


def _place_carried(kitchen: _Kitchen, shape: _Shape) -> list[Job] | None:
    rng = kitchen.rng
    carrier_kind = rng.choice(CARRIERS)
    places = [p for p in kitchen.places_for(carrier_kind) if kitchen.kind_of(p) in SURFACES]
    if not places:
        return None
    carrier = kitchen.add_item(carrier_kind, rng.choice(places), pickable=True, holds=True)
    kind = rng.choice(HOLDS[carrier_kind])
    start = _start_of(kitchen, kind, ())
    destination = _destination_of(kitchen, carrier_kind, carrier.inside, ())
    # Not an object standing where the carrier goes: taking the carrier there and filling it there
    # would be shorter than the task says.
    if start is None or destination is None or kitchen.top(start) == destination:
        return None
    return [Job(kitchen.add_item(kind, start, pickable=True).name, (), destination, carrier=carrier.name)]


def _add_distractors(kitchen: _Kitchen) -> None:
    """Items that are only there: drawn, reachable, not pickable (see the module docstring)."""
    rng = kitchen.rng
    used = {i.kind for i in kitchen.items.values()}
    kinds = [k for k in ITEMS if k not in used and k not in CARRIERS and k != "knife"]
    for kind in rng.sample(kinds, min(len(kinds), rng.randint(2, 5))):
        places = kitchen.places_for(kind)
        if places:
            kitchen.add_item(kind, rng.choice(places), pickable=False)


# ------------------------------------------------------------------------- scene, plan, sentence


_DONE = {"heat": "heated", "cool": "cooled", "clean": "cleaned", "slice": "sliced"}  # modifier -> its fact
_WORD = {"heat": "Heat", "cool": "Cool", "clean": "Clean"}  # modifier -> its plan word at an appliance


def scene_dict(kitchen: _Kitchen, jobs: list[Job], opened: list[str], spec) -> dict:
    """The record's scene in the alfred domain's JSON (FactScene.from_dict): entities, initial facts, goal.

    Properties come from the domain's own kinds (`kinds` in alfred.yaml: the microwave and the stove
    burner heat, the fridge cools, the sink basin washes, the lamp switches, an apple can be sliced,
    the knife is sharp); every piece of furniture but the lamp is a receptacle, cabinets, drawers and
    the fridge open. Of the items only the carriers things are put into or carried in (`Item.holds`)
    are receptacles, though alfred.yaml's kinds list mugs and cups too: a moved mug the domain lets
    hold the tomato would carry both at once, and the tomato can then be picked out of the mug in the
    closed fridge (the domain checks only the container an item is directly in), which optimal plans
    would exploit. The goal: where each object ends and how it is changed, the lamp on with the
    object held there, and `opened` the containers the plan opens must not be (closed again, as
    harp/plan/alfred.py reads an ALFRED plan's goal)."""
    kinds = spec.kinds
    entities = {START: "spot"}
    init = [["robot-at", START], ["hand-empty"]]
    for piece in kitchen.furniture.values():
        entities[piece.name] = "furniture"
        if piece.kind not in kinds.get("toggleable", ()):
            init.append(["receptacle", piece.name])
        init += [
            [prop, piece.name] for prop in ("heater", "cooler", "washer", "toggleable") if piece.kind in kinds[prop]
        ]
        if piece.kind in CONTAINERS:
            init.append(["openable", piece.name])
            if not piece.closed:
                init.append(["opened", piece.name])
    for item in kitchen.items.values():
        entities[item.name] = "item"
        init.append(["in", item.name, item.inside])
        if item.pickable:
            init.append(["pickable", item.name])
        init += [[prop, item.name] for prop in ("sharp", "sliceable") if item.kind in kinds[prop]]
        if item.holds:
            init.append(["receptacle", item.name])
    goal = []
    for job in jobs:
        if job.carrier:
            goal += [["in", job.obj, job.carrier], ["in", job.carrier, job.destination]]
        elif job.destination:
            goal.append(["in", job.obj, job.destination])
        goal += [[_DONE[m], job.obj] for m in job.modifiers]
        if job.lamp:
            goal += [["holding", job.obj], ["on", job.lamp], ["robot-at", job.lamp]]
    goal += [["not", "opened", name] for name in opened]
    return {"entities": entities, "init": init, "goal": goal}


@dataclass
class _Op:
    """A step of a natural plan, where the robot must be for it, and the container it reaches into."""

    word: str
    argument: str
    at: str
    container: str | None = None


def _ops(kitchen: _Kitchen, job: Job) -> list[_Op]:
    """One object's steps in their natural order, before the moves, opening and closing are added."""
    obj, at = job.obj, kitchen.top(job.obj)
    ops = []
    if "slice" in job.modifiers and not job.slice_there:
        ops += [_fetch_knife(kitchen), _Op("Slice", obj, at), _Op("Place", at, at)]  # the knife down, to free the hand
    ops.append(_Op("Pick", obj, at, kitchen.container(obj)))
    for modifier in job.modifiers:
        if modifier in _WORD:
            appliance = next(f.name for f in kitchen.furniture.values() if f.kind in APPLIANCE[modifier])
            ops.append(_Op(_WORD[modifier], obj, appliance))
    if job.carrier:
        where = kitchen.top(job.carrier)
        ops += [_Op("Place", job.carrier, where), _Op("Pick", job.carrier, where)]
    if job.destination:
        ops.append(_Op("Place", job.destination, kitchen.top(job.destination), kitchen.container(job.destination)))
    if job.slice_there:
        ops += [_fetch_knife(kitchen), _Op("Slice", obj, kitchen.top(job.destination))]
    if job.lamp:
        ops.append(_Op("Toggle", job.lamp, job.lamp))
    return ops


def _fetch_knife(kitchen: _Kitchen) -> _Op:
    return _Op("Pick", "knife", kitchen.top("knife"), kitchen.container("knife"))


def natural_plan(kitchen: _Kitchen, jobs: list[Job]) -> tuple[list[str], list[str]]:
    """(the plan doing the jobs in order, the containers it opens): go where each step happens,
    open a closed container before reaching into it and close it after its last use."""
    ops = [op for job in jobs for op in _ops(kitchen, job)]
    closed = {name for name, piece in kitchen.furniture.items() if piece.closed}
    last_use = {op.container: index for index, op in enumerate(ops) if op.container}
    robot, is_open, steps, opened = START, set(), [], []
    for index, op in enumerate(ops):
        if op.at != robot:
            steps.append(f"Navigate({plan_name(op.at)})")
            robot = op.at
        if op.container in closed and op.container not in is_open:
            steps.append(f"Open({plan_name(op.container)})")
            is_open.add(op.container)
            opened.append(op.container)
        steps.append(f"{op.word}({plan_name(op.argument)})")
        if op.container in is_open and last_use[op.container] == index:
            steps.append(f"Close({plan_name(op.container)})")
            is_open.discard(op.container)
    return steps, opened


def _finish(kitchen: _Kitchen, jobs: list[Job], task_type: str, shape: _Shape, domain, held_out: bool):
    """Distractors, numbers, the scene, the plan in the first order of the objects that is optimal,
    the sentence in that order, and meta."""
    rng = kitchen.rng
    _add_distractors(kitchen)
    _number_pairs(kitchen)
    _, opened = natural_plan(kitchen, jobs)  # every order opens the same containers
    scene = scene_dict(kitchen, jobs, opened, domain.spec)
    fact_scene = domain.scene_from_dict(scene)
    best = optimal_length(fact_scene, domain)
    if best is None:
        raise RuntimeError(f"{task_type}: the planner certified no optimum for {scene}")
    plan, source = None, "planner"
    for candidate in _orders(kitchen, jobs):
        steps, _ = natural_plan(kitchen, candidate)
        if len(steps) == best and simulate(steps, fact_scene, domain).completed:
            plan, jobs, source = steps, candidate, "mention_order"
            break
    if plan is None:
        plan = optimal_plan(fact_scene, domain)
    words = kitchen_language.Words(
        {name: (piece.kind, piece.number, piece.colour) for name, piece in kitchen.furniture.items()}
        | {name: (item.kind, item.number, None) for name, item in kitchen.items.items()}
    )
    sources = {job.obj: kitchen.items[job.obj].inside for job in jobs}
    task, phrasing, source_named = kitchen_language.say(task_type, jobs, sources, words, rng, held_out)
    meta = {
        "world": "kitchen",
        "task_type": task_type,
        "composition": task_type in COMPOSITIONS,
        "num_objects": len(jobs),
        "modifiers": sorted({m for job in jobs for m in job.modifiers}),
        "opens": [plan_name(name) for name in opened],
        "source_named": source_named,
        "phrasing": phrasing,
        "language": "held_out" if held_out else "seen",
        "plan_length": len(plan),
        "plan_source": source,
    }
    return KitchenSample(scene, task, plan, meta, list(kitchen.furniture.values()), list(kitchen.items.values()), jobs)


def _orders(kitchen: _Kitchen, jobs: list[Job]):
    """The ways of doing the jobs a sentence can say, the drawn one first: each order of the objects,
    and an object to slice sliced where it is (the knife put down again) or where it goes, unless
    that is inside a container."""
    for order in itertools.permutations(jobs):
        yield list(order)
        there = [
            replace(job, slice_there=True)
            if "slice" in job.modifiers and not kitchen.container(job.destination)
            else job
            for job in order
        ]
        if there != list(order):
            yield there


def _number_pairs(kitchen: _Kitchen) -> None:
    """Tag both of a kind 1 and 2 where the scene holds two (`countertop`, `countertop 2`)."""
    for table in (kitchen.furniture, kitchen.items):
        counts = Counter(entity.kind for entity in table.values())
        for entity in table.values():
            if counts[entity.kind] > 1:
                _, _, number = entity.name.partition(" ")
                entity.number = int(number or 1)


# -------------------------------------------------------------------------------------- building


def kitchen_record(index: int, seed: int, domain, image: str, held_out: bool = False) -> tuple[dict, KitchenSample]:
    """The record of kitchen `index` of `seed` (its image path given) and the sample to draw."""
    sample = sample_kitchen(random.Random(f"{seed}:{index}"), domain, held_out=held_out)
    record = {
        "image": image,
        "task": sample.task,
        "plan": list(sample.plan),
        "scene": sample.scene,
        "id": f"kitchen_{index:05d}",
        "meta": sample.meta,
    }
    return record, sample


def build_kitchen(
    num_scenes: int = 500,
    seed: int = 0,
    images_dir: str | Path = "bdv2/kitchen",
    output_dir: str | Path = ".",
    image_size: int = IMAGE_SIZE,
    progress: bool = True,
    language: str = "templates",
) -> dict:
    """Render the kitchens and write the records (the files `build_synthetic` writes); return counts
    for the summary. `language`: held_out says the tasks with the held-out templates (the same
    scenes, pictures and plans); templates and varied both say them with the seen ones."""
    from tqdm import tqdm

    check_scene_options(num_scenes, image_size)
    if language not in LANGUAGES:
        raise DataError(f"--language must be one of {', '.join(LANGUAGES)}, got {language!r}")
    domain = load_domain(DOMAIN)
    output_dir, images_dir = prepare_outputs(output_dir, images_dir)
    records = []
    for index in tqdm(range(num_scenes), desc="kitchens", unit="scene", disable=not progress, file=sys.stderr):
        path = images_dir / f"kitchen_{index:05d}_0.png"
        record, sample = kitchen_record(index, seed, domain, record_path(path), language == "held_out")
        path.write_bytes(png_bytes(render(sample, image_size)))
        records.append(record)
    write_outputs(records, output_dir)
    lengths = sorted(len(r["plan"]) for r in records)
    return {
        "scenes": len(records),
        "task_types": dict(Counter(r["meta"]["task_type"] for r in records)),
        "plan_lengths": (lengths[0], lengths[len(lengths) // 2], lengths[-1]),
        "mean_plan_length": sum(lengths) / len(lengths),
        "planner_order": sum(r["meta"]["plan_source"] == "planner" for r in records),
        "images_dir": str(images_dir),
    }


# ------------------------------------------------------------------------- grounding pretraining

LOOKUP_VERBS = ("Pick up", "Take", "Grab", "Get")


def lookup_tasks(record: dict, rng: random.Random, domain) -> list[dict]:
    """Image-only lookups in a kitchen record's picture, for the grounding pretraining: per item of a
    kind the scene holds once (the knife included), "Pick up the mug", whose plan goes where the
    picture shows the mug and, where that is a closed cabinet, drawer or fridge, opens it and closes it
    again: `Navigate(Cabinet), Open(Cabinet), Pick(Mug), Close(Cabinet)`. Nothing in the sentence says
    where. The plan is checked by `simulate`; it is optimal as no step can go (the robot starts away
    from all furniture, a closed container must be opened to reach in and closed for the goal),
    which tests/data/test_kitchen.py checks with the exact search (too slow to run per lookup). The
    item is the only pickable one (a distractor is drawn but not pickable in the task's own scene,
    see the module docstring)."""
    scene = record["scene"]
    init = [list(fact) for fact in scene["init"] if fact[0] != "pickable"]
    facts = {tuple(fact) for fact in init}
    inside = {fact[1]: fact[2] for fact in init if fact[0] == "in"}
    items = [name for name, kind in scene["entities"].items() if kind == "item"]
    kinds = Counter(name.partition(" ")[0] for name in items)
    words = kitchen_language.Words({name: (name.partition(" ")[0], None, None) for name in items})
    rows = []
    for item in items:
        if kinds[item.partition(" ")[0]] > 1:  # "the apple" of two apples: ambiguous
            continue
        top = item
        while top in inside:
            top = inside[top]
        closed = ("openable", top) in facts and ("opened", top) not in facts
        plan = [f"Navigate({plan_name(top)})"]
        plan += (
            [f"Open({plan_name(top)})"] * closed + [f"Pick({plan_name(item)})"] + [f"Close({plan_name(top)})"] * closed
        )
        lookup = {
            "entities": scene["entities"],
            "init": init + [["pickable", item]],
            "goal": [["holding", item]] + ([["not", "opened", top]] if closed else []),
        }
        fact_scene = domain.scene_from_dict(lookup)
        if not simulate(plan, fact_scene, domain).completed:
            raise RuntimeError(f"{record.get('id')}: the lookup of {item} does not work: {plan}")  # a bug here
        task = f"{rng.choice(LOOKUP_VERBS)} {words.item(item, rng)}"
        meta = {"world": "kitchen", "task_type": "lookup", "num_objects": 1, "source_named": False}
        rows.append({**record, "task": task, "plan": plan, "scene": lookup, "meta": meta})
    return rows
