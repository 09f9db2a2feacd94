"""Planning domains as data: actions, argument kinds, preconditions and effects read from YAML.

A domain file (`harp/plan/domains/*.yaml`) lists actions; each names its argument kind
(`location`, `object` or `openable`), a one-line description (shown in the prompt) and its
preconditions and effects as names from the vocabulary below. The vocabulary is implemented once
here, so adding `Open(Drawer)` / `Close(Drawer)` is a YAML edit (see domains/drawers.yaml), not
new Python. The vocabulary never couples two objects except through the hand; the planner's
pruning of goal-irrelevant objects relies on that (harp/plan/planner.py), so keep it true when
adding an entry.

A precondition returns None when it holds and the reason when it does not; an effect returns the
next state. Both take the canonical argument.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Optional

from harp.errors import ConfigError
from harp.files import load_yaml, read_text
from harp.plan.fact_domain import FactDomain
from harp.plan.names import normalize_entity
from harp.plan.pddl_domain import check_word, optional_text, read_pddl, shown
from harp.plan.scene import Scene, State

DOMAINS_DIR = Path(__file__).parent / "domains"
ARGUMENT_KINDS = ("location", "object", "openable")
SUFFIXES = (".yaml", ".yml", ".pddl")  # a name with one of these is a path, in any case (`.PDDL`)


# ------------------------------------------------------------------------ the vocabulary


def _hand_empty(state: State, arg: str, scene: Scene) -> Optional[str]:
    return None if state.holding is None else f"the hand already holds {state.holding}"


def _holding_object(state: State, arg: str, scene: Scene) -> Optional[str]:
    return None if state.holding is not None else "the hand is empty"


def _object_at_robot(state: State, arg: str, scene: Scene) -> Optional[str]:
    location = state.location_of(arg)
    if location == state.robot:
        return None
    if location is None:
        return f"{arg} is already in the hand" if state.holding == arg else f"{arg} is nowhere in the scene"
    return f"{arg} is at {location}, but the robot is at {state.robot}"


def _object_location_open(state: State, arg: str, scene: Scene) -> Optional[str]:
    location = state.location_of(arg)
    if location in scene.openable and location not in state.open:
        return f"{location} is closed"
    return None


def _robot_at_argument(state: State, arg: str, scene: Scene) -> Optional[str]:
    return None if state.robot == arg else f"the robot is at {state.robot}, not at {arg}"


def _argument_open(state: State, arg: str, scene: Scene) -> Optional[str]:
    return f"{arg} is closed" if arg in scene.openable and arg not in state.open else None


def _argument_closed(state: State, arg: str, scene: Scene) -> Optional[str]:
    return f"{arg} is already open" if arg in state.open else None


def _robot_to_argument(state: State, arg: str) -> State:
    return state._replace(robot=arg)


def _hold_argument(state: State, arg: str) -> State:
    return state._replace(holding=arg, objects=tuple(p for p in state.objects if p[0] != arg))


def _place_held_at_argument(state: State, arg: str) -> State:
    if state.holding is None:
        return state
    objects = tuple(sorted(state.objects + ((state.holding, arg),)))
    return state._replace(holding=None, objects=objects)


def _open_argument(state: State, arg: str) -> State:
    return state._replace(open=state.open | {arg})


def _close_argument(state: State, arg: str) -> State:
    return state._replace(open=state.open - {arg})


Predicate = Callable[[State, str, Scene], Optional[str]]
Effect = Callable[[State, str], State]

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


class Domain:
    """A loaded domain. Use `Domain.load`, which caches: one object per file."""

    kind = "guide"  # the guide's specialised State; "facts" for PDDL domains (harp/plan/fact_domain.py)

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
        return f"Domain({self.name!r}, actions={self.action_names})"

    @staticmethod
    def load(name_or_path="navigate_pick_place"):
        """A domain by name (a file under harp/plan/domains) or by path to a YAML or PDDL file.

        A YAML file with a `pddl` key is the plan-language mapping of a PDDL domain (domains/alfred.yaml);
        a PDDL file (whatever its name) is read with default mappings. Both give a FactDomain (the
        general fact core).
        """
        if isinstance(name_or_path, Domain) or getattr(name_or_path, "kind", None) == "facts":
            return name_or_path
        text = str(name_or_path)
        path = Path(text)
        # A path: a known suffix, or anything there but a folder (a FIFO or a device too: the reader
        # says what is wrong with it). Otherwise the name of a shipped domain.
        if not (path.suffix.lower() in SUFFIXES or (os.path.lexists(path) and not path.is_dir())):
            path = DOMAINS_DIR / f"{text}.yaml"
            if not path.is_file():
                known = ", ".join(available_domains())
                raise ConfigError(f"domain '{text}': no such domain (known: {known}; or give a path to a YAML or PDDL file)")
        return _load_file(os.path.abspath(path))

    def canonical_action(self, name: str) -> Optional[str]:
        """The action as the domain writes it, case-insensitively; None when unknown."""
        return self._by_lower.get(name.strip().lower())

    def check(self, action: str, arg: str, state: State, scene: Scene) -> Optional[str]:
        """None when a (canonical) action's preconditions hold in `state`, else the first failure."""
        for predicate in self._checks[action]:
            reason = predicate(state, arg, scene)
            if reason is not None:
                return reason
        return None

    def apply(self, action: str, arg: str, state: State) -> State:
        """The state after a (canonical) action whose preconditions hold."""
        for effect in self._effects[action]:
            state = effect(state, arg)
        return state

    def step(self, action_text: str, argument_text: str, state: State, scene: Scene):
        """(canonical action, canonical argument, reason, error kind, next state) of one step."""
        action, arg, reason = self.resolve(action_text, argument_text, scene)
        if reason is not None:
            return action, arg, reason, "action", state
        reason = self.check(action, arg, state, scene)
        if reason is not None:
            return action, arg, reason, "transition", state
        return action, arg, None, None, self.apply(action, arg, state)

    def scene_from_dict(self, data, where: str = "scene") -> Scene:
        return Scene.from_dict(data, where)

    def infer_scene(self, plan) -> Scene:
        from harp.plan.scene import infer_scene

        return infer_scene(plan, self)

    def resolve(self, action: str, argument: str, scene: Scene) -> tuple[Optional[str], str, Optional[str]]:
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


def available_domains() -> list[str]:
    """Names of the domains shipped in harp/plan/domains (each loads with `Domain.load(name)`)."""
    return sorted(p.stem for p in DOMAINS_DIR.glob("*.yaml"))


def _article(kind: str) -> str:
    return "an" if kind[0] in "aeiou" else "a"


def _is_pddl(path: str, text: str) -> bool:
    """A PDDL file whatever its name (`.PDDL`, `.txt`): it opens with `(define`, a domain YAML never does."""
    opening = re.sub(r";[^\n]*", "", text).lstrip()
    return Path(path).suffix.lower() == ".pddl" or re.match(r"\(\s*define\b", opening, re.IGNORECASE) is not None


@lru_cache(maxsize=64)
def _load_file(path: str):
    text = read_text(path, "domain file")
    if _is_pddl(path, text):
        return FactDomain(read_pddl(path, text))
    data = load_yaml(path, text)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with 'name' and 'actions'")
    if "pddl" in data:  # the plan-language mapping of a PDDL domain
        _known(path, "", data, ("name", "description", "pddl", "actions", "reasons", "kinds", "scene_inference"))
        if not isinstance(data["pddl"], str) or not data["pddl"].strip():
            raise ConfigError(f"{path}: pddl: expected the path of the PDDL file, from this file's folder")
        # beside the mapping file itself, not beside a link to it
        pddl_path = os.path.join(os.path.dirname(os.path.realpath(path)), data["pddl"])
        if not os.path.lexists(pddl_path):
            raise ConfigError(f"{path}: pddl: no such file {pddl_path}")
        pddl_path = os.path.abspath(pddl_path)
        return FactDomain(read_pddl(pddl_path, read_text(pddl_path, "PDDL domain file"), data, path))
    _known(path, "", data, ("name", "description", "actions"))
    actions_data = data.get("actions")
    if not isinstance(actions_data, dict) or not actions_data:
        raise ConfigError(f"{path}: actions: expected a non-empty mapping of action name -> spec")
    actions = {}
    for name, spec in actions_data.items():
        key = f"actions.{shown(name)}"
        check_word(name, path, key)
        if not isinstance(spec, dict):
            raise ConfigError(f"{path}: {key}: expected a mapping")
        _known(path, key + ".", spec, ("argument", "description", "preconditions", "effects"))
        kind = spec.get("argument")
        if kind not in ARGUMENT_KINDS:
            raise ConfigError(f"{path}: {key}.argument: must be one of {', '.join(ARGUMENT_KINDS)}, got {kind!r}")
        description = spec.get("description")
        if not isinstance(description, str) or not description.strip():
            raise ConfigError(f"{path}: {key}.description: expected a one-line description")
        preconditions = _names(path, f"{key}.preconditions", spec.get("preconditions") or [], PREDICATES, "predicate")
        effects = _names(path, f"{key}.effects", spec.get("effects") or [], EFFECTS, "effect")
        if not effects:
            raise ConfigError(f"{path}: {key}.effects: an action needs at least one effect")
        if "hold_argument" in effects and "hand_empty" not in preconditions:
            # One gripper: picking while holding would silently drop the held object from the world.
            raise ConfigError(f"{path}: {key}.preconditions: an action with effect hold_argument needs hand_empty")
        actions[name] = ActionSpec(name, kind, " ".join(description.split()), preconditions, effects)
    lower = [a.lower() for a in actions]
    if len(set(lower)) != len(lower):
        raise ConfigError(f"{path}: actions: two actions differ only in case")
    return Domain(optional_text(data, "name", path) or Path(path).stem, optional_text(data, "description", path),
                  actions, path)


def _known(path: str, prefix: str, data: dict, keys: tuple[str, ...]) -> None:
    for key in data:
        if key not in keys:
            close = difflib.get_close_matches(str(key), keys, n=1)
            hint = f" (did you mean '{prefix}{close[0]}'?)" if close else f" (known: {', '.join(keys)})"
            raise ConfigError(f"{path}: {prefix}{shown(key)}: unknown key{hint}")


def _names(path: str, key: str, value, table: dict, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{path}: {key}: expected a list of {what} names")
    for item in value:
        if item not in table:
            close = difflib.get_close_matches(item, list(table), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else f" (known: {', '.join(table)})"
            raise ConfigError(f"{path}: {key}: unknown {what} '{shown(item)}'{hint}")
    return tuple(value)
