"""The guide engine's scenes: the symbolic world a plan runs in (initial state, entities, goal), and how to infer one.

Synthetic records carry a `scene` (docs/internals.md, "Scene JSON"); `GuideScene.from_dict` reads it.
Records labelled by a teacher VLM have none, so `infer_scene` reconstructs the smallest scene the
reference plan implies (docs/internals.md §1): the robot starts at "start", each picked object starts where
the robot was when it picked it, every navigated or placed-into place is a location, every
opened/closed place is openable (closed at first if the reference opens it first), and the goal is
the final placement of every object the reference puts down — plus "closed" for every drawer the
reference leaves closed after touching it (`goal_open`, an addition to the scene JSON).

All names are canonical (`normalize_entity`). Scenes are immutable and hashable, so the planner
can cache its search per scene.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from harp.errors import DataError
from harp.plan.names import normalize_entity
from harp.plan.parser import ParsedPlan, parse_plan
from harp.plan.refusal import check_missing, read_missing

START = "start"  # the robot's initial location when a scene does not say


class GuideState(NamedTuple):
    """The symbolic state: frozen and hashable. A held object is in no location."""

    robot: str  # the robot's location
    holding: str | None  # the held object, or None
    objects: tuple[tuple[str, str], ...]  # (object, location) pairs, sorted by object
    open: frozenset  # openable locations that are open

    def location_of(self, obj: str) -> str | None:
        """Where an object lies, or None (held, or not in the scene)."""
        for name, location in self.objects:
            if name == obj:
                return location
        return None

    def to_dict(self) -> dict:
        return {"robot": self.robot, "holding": self.holding, "objects": dict(self.objects), "open": sorted(self.open)}


class GuideScene:
    """Initial state + entities + goal. Treat as immutable: the planner caches by it."""

    __slots__ = (
        "robot",
        "locations",
        "objects",
        "openable",
        "goal",
        "goal_open",
        "goal_holding",
        "goal_robot",
        "missing",
        "initial",
        "_key",
        "_hash",
    )

    def __init__(
        self,
        robot: str,
        locations: Iterable[str],
        objects: dict[str, str],
        goal: dict[str, str],
        openable: dict[str, bool] | None = None,
        goal_open: dict[str, bool] | None = None,
        goal_holding: str | None = None,
        goal_robot: str | None = None,
        missing: Iterable[str] = (),
    ):
        norm = normalize_entity
        self.robot = norm(robot)
        self.openable = {norm(k): bool(v) for k, v in (openable or {}).items()}
        locations = [norm(x) for x in locations]
        # Openable places are locations too (the robot goes there, things are placed in them).
        locations += [x for x in self.openable if x not in locations]
        self.locations = tuple(dict.fromkeys(locations))
        self.objects = {norm(k): norm(v) for k, v in objects.items()}
        self.goal = {norm(k): norm(v) for k, v in goal.items()}
        self.goal_open = {norm(k): bool(v) for k, v in (goal_open or {}).items()}
        self.goal_holding = norm(goal_holding) if goal_holding else None  # a pick-up task: hold this
        self.goal_robot = norm(goal_robot) if goal_robot else None  # a search task: be there
        self.missing = tuple(dict.fromkeys(norm(x) for x in missing))  # the task's, not here (harp/plan/refusal.py)
        self.initial = GuideState(
            self.robot, None, tuple(sorted(self.objects.items())), frozenset(k for k, v in self.openable.items() if v)
        )
        self._key = (
            self.robot,
            self.locations,
            tuple(self.objects.items()),
            tuple(self.openable.items()),
            tuple(self.goal.items()),
            tuple(self.goal_open.items()),
            self.goal_holding,
            self.goal_robot,
            self.missing,
        )
        self._hash = hash(self._key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GuideScene) and self._key == other._key

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"GuideScene({self.to_dict()!r})"

    def entities(self, kind: str) -> tuple[str, ...]:
        """Entities an argument of this kind may name: location, object or openable."""
        if kind == "location":
            return self.locations
        if kind == "object":
            return tuple(self.objects)
        if kind == "openable":
            return tuple(self.openable)
        raise ValueError(f"unknown argument kind {kind!r}")

    def has(self, name: str) -> bool:
        """Whether the scene holds an entity of this (canonical) name."""
        return name in self.objects or name in self.locations or name == self.robot

    def satisfied(self, state: GuideState) -> bool:
        """Whether a state satisfies the goal."""
        objects = state.objects
        for obj, target in self.goal.items():
            if (obj, target) not in objects:
                return False
        for place, is_open in self.goal_open.items():
            if (place in state.open) != is_open:
                return False
        if self.goal_holding is not None and state.holding != self.goal_holding:
            return False
        return self.goal_robot is None or state.robot == self.goal_robot

    def goal_facts_met(self, state: GuideState) -> tuple[int, int]:
        """(goal facts the state satisfies, all goal facts)."""
        met = sum((obj, target) in state.objects for obj, target in self.goal.items())
        met += sum((place in state.open) == is_open for place, is_open in self.goal_open.items())
        met += self.goal_holding is not None and state.holding == self.goal_holding
        met += self.goal_robot is not None and state.robot == self.goal_robot
        return met, self.goal_size()

    def goal_size(self) -> int:
        """How many goal facts: placements, drawer states, the held object, the robot's place."""
        return len(self.goal) + len(self.goal_open) + (self.goal_holding is not None) + (self.goal_robot is not None)

    @classmethod
    def from_dict(cls, data: Any, where: str = "scene") -> GuideScene:
        """Read the record's `scene` field; a malformed one is a DataError naming `where` and the key."""
        if isinstance(data, GuideScene):
            return data
        if not isinstance(data, dict):
            raise DataError(f"{where}: expected an object, got {type(data).__name__}")
        unknown = set(data) - {
            "robot",
            "locations",
            "objects",
            "openable",
            "goal",
            "goal_open",
            "goal_holding",
            "goal_robot",
            "missing",
        }
        if unknown:
            raise DataError(f"{where}: unknown key '{sorted(unknown)[0]}'")
        for key, kind in (("locations", list), ("objects", dict), ("goal", dict)):
            if not isinstance(data.get(key), kind):
                raise DataError(f"{where}.{key}: expected a {'list' if kind is list else 'mapping'}")
        for key in ("openable", "goal_open"):
            if not isinstance(data.get(key) or {}, dict):
                raise DataError(f"{where}.{key}: expected a mapping")
            for name, value in (data.get(key) or {}).items():
                if not isinstance(value, bool):  # bool("no") is True: a string would open the place
                    raise DataError(f"{where}.{key}.{name}: expected true or false, got {value!r}")
        # Names are strings: str() of a list or a number would make an entity nobody can name.
        if "robot" in data and data["robot"] is not None and not isinstance(data["robot"], str):
            raise DataError(f"{where}.robot: expected a name (a string), got {data['robot']!r}")
        names = [("locations", x) for x in data["locations"]]
        names += [(key, x) for key in ("objects", "goal") for pair in data[key].items() for x in pair]
        for key, value in names:
            if not isinstance(value, str):
                raise DataError(f"{where}.{key}: expected names (strings), got {value!r}")
        for key in ("goal_holding", "goal_robot"):
            if data.get(key) is not None and not isinstance(data[key], str):
                raise DataError(f"{where}.{key}: expected a name")
        scene = cls(
            str(data.get("robot") or START),
            [str(x) for x in data["locations"]],
            {str(k): str(v) for k, v in data["objects"].items()},
            {str(k): str(v) for k, v in data["goal"].items()},
            data.get("openable"),
            data.get("goal_open"),
            data.get("goal_holding"),
            data.get("goal_robot"),
            read_missing(data, where),
        )
        check_missing(scene.missing, scene.has, where)
        for obj, place in scene.objects.items():
            # An object somewhere the robot can never go would make the goal silently unreachable.
            if place not in scene.locations and place != scene.robot:
                raise DataError(f"{where}.objects: '{obj}' starts at '{place}', which is not in {where}.locations")
        for obj, target in scene.goal.items():  # a task that cannot be done may ask for what is missing
            if obj not in scene.objects and obj not in scene.missing:
                raise DataError(f"{where}.goal: '{obj}' is not in {where}.objects")
            if target not in scene.locations and target not in scene.missing:
                raise DataError(f"{where}.goal: '{obj}' -> '{target}', which is not in {where}.locations")
        for place in scene.goal_open:
            if place not in scene.openable:
                raise DataError(f"{where}.goal_open: '{place}' is not in {where}.openable")
        if scene.goal_holding is not None and scene.goal_holding not in scene.objects:
            raise DataError(f"{where}.goal_holding: '{scene.goal_holding}' is not in {where}.objects")
        if scene.goal_robot is not None and scene.goal_robot not in scene.locations:
            raise DataError(f"{where}.goal_robot: '{scene.goal_robot}' is not in {where}.locations")
        return scene

    def to_dict(self) -> dict:
        """The scene JSON (docs/internals.md); `openable` / `goal_open` only when non-empty."""
        data = {"robot": self.robot, "locations": list(self.locations), "objects": dict(self.objects)}
        if self.openable:
            data["openable"] = dict(self.openable)
        data["goal"] = dict(self.goal)
        if self.goal_open:
            data["goal_open"] = dict(self.goal_open)
        if self.goal_holding is not None:
            data["goal_holding"] = self.goal_holding
        if self.goal_robot is not None:
            data["goal_robot"] = self.goal_robot
        if self.missing:
            data["missing"] = list(self.missing)
        return data


def infer_scene(plan: str | list | ParsedPlan, domain) -> GuideScene:
    """The scene a reference plan implies (see the module docstring). Never raises.

    Reads effects, not action names, so a renamed or added action in a domain YAML still works.
    """
    parsed = plan if isinstance(plan, ParsedPlan) else parse_plan(plan)
    robot = START
    locations: list[str] = []
    objects: dict[str, str] = {}
    openable: dict[str, bool] = {}  # initial open state
    is_open: dict[str, bool] = {}  # current open state while walking the plan
    holding: str | None = None
    where: dict[str, str] = {}  # current placement of every object seen
    placed: list[str] = []
    for step in parsed.steps:
        name = domain.canonical_action(step.action)
        if name is None:
            continue
        spec = domain.actions[name]
        arg = normalize_entity(step.argument)
        if not arg:
            continue
        if spec.argument_kind in ("location", "openable") and arg not in locations:
            locations.append(arg)
        for effect in spec.effects:
            if effect == "robot_to_argument":
                robot = arg
            elif effect == "hold_argument":
                if arg not in objects:
                    objects[arg] = robot
                where.pop(arg, None)
                holding = arg
            elif effect == "place_held_at_argument" and holding is not None:
                where[holding] = arg
                if holding not in placed:
                    placed.append(holding)
                holding = None
            elif effect in ("open_argument", "close_argument"):
                opening = effect == "open_argument"
                if arg not in openable:
                    openable[arg] = not opening
                is_open[arg] = opening
    goal = {obj: where[obj] for obj in placed if obj in where}
    goal_open = {place: False for place, state in is_open.items() if not state}
    # The rest of the net effect: an object still in the hand; where the robot went when the plan
    # changes nothing else (a search task).
    goal_holding = holding
    goal_robot = robot if not (goal or goal_open or holding) and robot != START else None
    # Objects that start at "start" (picked before any Navigate) need no location entry: only
    # Place targets and Navigate targets are locations.
    return GuideScene(START, locations, objects, goal, openable, goal_open, goal_holding, goal_robot)
