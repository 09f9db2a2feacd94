"""The guide's engine: domains as data, their actions, argument kinds, preconditions and effects read from YAML.

A domain file (`harp/plan/domains/navigate_pick_place.yaml`, `drawers.yaml`) lists actions; each
names its argument kind (`location`, `object` or `openable`), a one-line description (shown in the
prompt) and its preconditions and effects as names from the vocabulary below. The vocabulary is
implemented once here, so adding `Open(Drawer)` / `Close(Drawer)` is a YAML edit (see
domains/drawers.yaml), not new Python. The vocabulary never couples two objects except through the
hand; the search's pruning of goal-irrelevant objects relies on that (`GuideSearch`), so keep it
true when adding an entry.

A precondition returns None when it holds and the reason when it does not; an effect returns the
next state. Both take the canonical argument. States and scenes are harp/plan/scene.py's. The
engine keeps the contract of harp/plan/protocols.py, as the PDDL engine does (fact_domain.py);
harp/plan/loader.py reads the files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harp.errors import ConfigError
from harp.plan.domain_yaml import check_word, known_keys, listed_names, optional_text, shown
from harp.plan.names import normalize_entity
from harp.plan.planner import STATE_BUDGET, GraphSearch
from harp.plan.protocols import StepOutcome
from harp.plan.scene import GuideScene, GuideState, infer_scene

ARGUMENT_KINDS = ("location", "object", "openable")


# ------------------------------------------------------------------------ the vocabulary


def _hand_empty(state: GuideState, arg: str, scene: GuideScene) -> str | None:
    return None if state.holding is None else f"the hand already holds {state.holding}"


def _holding_object(state: GuideState, arg: str, scene: GuideScene) -> str | None:
    return None if state.holding is not None else "the hand is empty"


def _object_at_robot(state: GuideState, arg: str, scene: GuideScene) -> str | None:
    location = state.location_of(arg)
    if location == state.robot:
        return None
    if location is None:
        return f"{arg} is already in the hand" if state.holding == arg else f"{arg} is nowhere in the scene"
    return f"{arg} is at {location}, but the robot is at {state.robot}"


def _object_location_open(state: GuideState, arg: str, scene: GuideScene) -> str | None:
    location = state.location_of(arg)
    if location in scene.openable and location not in state.open:
        return f"{location} is closed"
    return None


def _robot_at_argument(state: GuideState, arg: str, scene: GuideScene) -> str | None:
    return None if state.robot == arg else f"the robot is at {state.robot}, not at {arg}"


def _argument_open(state: GuideState, arg: str, scene: GuideScene) -> str | None:
    return f"{arg} is closed" if arg in scene.openable and arg not in state.open else None


def _argument_closed(state: GuideState, arg: str, scene: GuideScene) -> str | None:
    return f"{arg} is already open" if arg in state.open else None


def _robot_to_argument(state: GuideState, arg: str) -> GuideState:
    return state._replace(robot=arg)


def _hold_argument(state: GuideState, arg: str) -> GuideState:
    return state._replace(holding=arg, objects=tuple(p for p in state.objects if p[0] != arg))


def _place_held_at_argument(state: GuideState, arg: str) -> GuideState:
    if state.holding is None:
        return state
    objects = tuple(sorted(state.objects + ((state.holding, arg),)))
    return state._replace(holding=None, objects=objects)


def _open_argument(state: GuideState, arg: str) -> GuideState:
    return state._replace(open=state.open | {arg})


def _close_argument(state: GuideState, arg: str) -> GuideState:
    return state._replace(open=state.open - {arg})


Predicate = Callable[[GuideState, str, GuideScene], str | None]
Effect = Callable[[GuideState, str], GuideState]

PREDICATES: dict[str, Predicate] = {
    "hand_empty": _hand_empty,  # the gripper holds nothing
    "holding_object": _holding_object,  # the gripper holds something
    "object_at_robot": _object_at_robot,  # the argument object lies where the robot is
    "object_location_open": _object_location_open,  # the argument object is not inside a closed openable
    "robot_at_argument": _robot_at_argument,  # the robot is at the argument location
    "argument_open": _argument_open,  # the argument is not a closed openable
    "argument_closed": _argument_closed,  # the argument is not open
}

EFFECTS: dict[str, Effect] = {
    "robot_to_argument": _robot_to_argument,  # the robot moves to the argument
    "hold_argument": _hold_argument,  # the argument object goes into the hand
    "place_held_at_argument": _place_held_at_argument,  # the held object goes to the argument location
    "open_argument": _open_argument,  # the argument becomes open
    "close_argument": _close_argument,  # the argument becomes closed
}


# ------------------------------------------------------------------------------ domain


@dataclass(frozen=True)
class ActionSpec:
    name: str  # as it should be written ("Navigate")
    argument_kind: str  # location | object | openable
    description: str  # one line, shown in the system prompt
    preconditions: tuple[str, ...]  # names in PREDICATES
    effects: tuple[str, ...]  # names in EFFECTS


class GuideDomain:
    """A domain of the guide's engine; get one with `harp.plan.load_domain`, which caches: one object per file."""

    def __init__(self, name: str, description: str, actions: dict[str, ActionSpec], path: str = ""):
        self.name = name
        self.description = description
        self.actions = actions
        self.action_names = list(actions)
        self.path = path
        self._by_lower = {a.lower(): a for a in actions}
        self._checks = {a: tuple(PREDICATES[p] for p in s.preconditions) for a, s in actions.items()}
        self._effects = {a: tuple(EFFECTS[e] for e in s.effects) for a, s in actions.items()}

    def __repr__(self) -> str:
        return f"GuideDomain({self.name!r}, actions={self.action_names})"

    @classmethod
    def from_yaml(cls, path: str, data: dict) -> GuideDomain:
        """A domain file's mapping (`name`, `description`, `actions`), checked: one ConfigError line naming the key."""
        known_keys(path, "", data, ("name", "description", "actions"))
        actions_data = data.get("actions")
        if not isinstance(actions_data, dict) or not actions_data:
            raise ConfigError(f"{path}: actions: expected a non-empty mapping of action name -> spec")
        actions = {}
        for name, spec in actions_data.items():
            key = f"actions.{shown(name)}"
            check_word(name, path, key)
            if not isinstance(spec, dict):
                raise ConfigError(f"{path}: {key}: expected a mapping")
            known_keys(path, key + ".", spec, ("argument", "description", "preconditions", "effects"))
            kind = spec.get("argument")
            if kind not in ARGUMENT_KINDS:
                raise ConfigError(f"{path}: {key}.argument: must be one of {', '.join(ARGUMENT_KINDS)}, got {kind!r}")
            description = spec.get("description")
            if not isinstance(description, str) or not description.strip():
                raise ConfigError(f"{path}: {key}.description: expected a one-line description")
            preconditions = listed_names(
                path, f"{key}.preconditions", spec.get("preconditions") or [], PREDICATES, "predicate"
            )
            effects = listed_names(path, f"{key}.effects", spec.get("effects") or [], EFFECTS, "effect")
            if not effects:
                raise ConfigError(f"{path}: {key}.effects: an action needs at least one effect")
            if "hold_argument" in effects and "hand_empty" not in preconditions:
                # One gripper: picking while holding would silently drop the held object from the world.
                raise ConfigError(f"{path}: {key}.preconditions: an action with effect hold_argument needs hand_empty")
            actions[name] = ActionSpec(name, kind, " ".join(description.split()), preconditions, effects)
        lower = [a.lower() for a in actions]
        if len(set(lower)) != len(lower):
            raise ConfigError(f"{path}: actions: two actions differ only in case")
        return cls(
            optional_text(data, "name", path) or Path(path).stem,
            optional_text(data, "description", path),
            actions,
            path,
        )

    def canonical_action(self, name: str) -> str | None:
        """The action as the domain writes it, case-insensitively; None when unknown."""
        return self._by_lower.get(name.strip().lower())

    def check(self, action: str, arg: str, state: GuideState, scene: GuideScene) -> str | None:
        """None when a (canonical) action's preconditions hold in `state`, else the first failure."""
        for predicate in self._checks[action]:
            reason = predicate(state, arg, scene)
            if reason is not None:
                return reason
        return None

    def apply(self, action: str, arg: str, state: GuideState) -> GuideState:
        """The state after a (canonical) action whose preconditions hold."""
        for effect in self._effects[action]:
            state = effect(state, arg)
        return state

    def step(self, action_text: str, argument_text: str, state: GuideState, scene: GuideScene) -> StepOutcome:
        """One step as written: canonical action and argument, why it is invalid, which level, next state."""
        action, arg, reason = self.resolve(action_text, argument_text, scene)
        if reason is not None:
            return StepOutcome(action, arg, reason, "action", state)
        reason = self.check(action, arg, state, scene)
        if reason is not None:
            return StepOutcome(action, arg, reason, "transition", state)
        return StepOutcome(action, arg, None, None, self.apply(action, arg, state))

    def scene_from_dict(self, data, where: str = "scene") -> GuideScene:
        return GuideScene.from_dict(data, where)

    def infer_scene(self, plan) -> GuideScene:
        return infer_scene(plan, self)

    def new_search(self, scene: GuideScene) -> GuideSearch:
        return GuideSearch(scene, self)

    def resolve(self, action: str, argument: str, scene: GuideScene) -> tuple[str | None, str, str | None]:
        """(canonical action, canonical argument, reason it is not a valid action in this scene or None)."""
        name = self._by_lower.get(action.strip().lower())
        arg = normalize_entity(argument)
        if name is None:
            return None, arg, f"unknown action '{action}' (the domain has {', '.join(self.action_names)})"
        kind = self.actions[name].argument_kind
        if not arg:
            return name, arg, f"{name} needs an argument ({kind})"
        if kind == "object":
            ok = arg in scene.objects
        elif kind == "location":
            ok = arg in scene.locations
        else:
            ok = arg in scene.openable
        if not ok:
            what = "an object" if arg in scene.objects else "a location" if arg in scene.locations else None
            if what:
                return name, arg, f"{name} needs {_article(kind)} {kind}, but {arg} is {what}"
            return name, arg, f"{arg} is not {_article(kind)} {kind} in the scene"
        return name, arg, None


def _article(kind: str) -> str:
    return "an" if kind[0] in "aeiou" else "a"


class GuideSearch(GraphSearch):
    """The guide's search: objects the goal does not mention are dropped from the searched state
    unless they are in the hand. The vocabulary couples objects only through the hand, so an object
    lying around that the goal does not mention never changes what else can be done, and an optimal
    plan never touches it."""

    def __init__(self, scene: GuideScene, domain: GuideDomain, budget: int = STATE_BUDGET):
        self.relevant = frozenset(scene.goal) | ({scene.goal_holding} if scene.goal_holding else set())
        super().__init__(scene, domain, budget)

    def estimate(self, state) -> int:
        """Past the budget: the length of the greedy plan that takes the goal objects one by one."""
        scene = self.scene
        robot, holding, where = state.robot, state.holding, dict(state.objects)
        opened = set(state.open)
        steps = 0

        def go(place):
            nonlocal robot, steps
            steps += (robot != place) + (place in scene.openable and place not in opened)
            opened.add(place) if place in scene.openable else None
            robot = place

        for obj, target in list(scene.goal.items()) + ([(scene.goal_holding, None)] if scene.goal_holding else []):
            if holding != obj:
                if where.get(obj) == target:
                    continue
                if holding is not None:
                    steps += 1  # put the held object down where the robot is
                if obj in where:
                    go(where.pop(obj))
                steps += 1
                holding = obj
            if target is not None:
                go(target)
                steps += 1
                where[obj], holding = target, None
        steps += sum((p in opened) != v for p, v in scene.goal_open.items())
        return steps + (scene.goal_robot is not None and robot != scene.goal_robot)

    def project(self, state):
        objects = tuple(p for p in state.objects if p[0] in self.relevant)
        return state if len(objects) == len(state.objects) else state._replace(objects=objects)

    def successors(self, state) -> list:
        scene, domain = self.scene, self.domain
        result = []
        for name, spec in domain.actions.items():
            if spec.argument_kind == "object":
                candidates = [obj for obj, _ in state.objects]  # only tracked objects are worth picking
            else:
                candidates = scene.entities(spec.argument_kind)
            for arg in candidates:
                if domain.check(name, arg, state, scene) is None:
                    after = self.project(domain.apply(name, arg, state))
                    if after != state:
                        result.append((name, arg, after))
        return result
