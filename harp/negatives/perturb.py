"""Rule-based perturbations of a reference plan: negatives of the kinds the SFT model makes too few of.

Each perturbation takes the reference steps and returns every candidate plan text it can make
(one line, `Action(Argument), ...`). A perturbation does not decide what error it made: the
caller labels every candidate with H-PRM (`harp.negatives.verify.label`), so a swap that happens
to stay valid is dropped and a "wrong object" that breaks a precondition is labelled
`state_transition`. The `LIKELY_TYPE` table only says which perturbations to try first when a type
is scarce.

Differs from the paper's list by one addition, `dropped_step` (stop before the last step): the
other six rarely yield a plan that is valid step by step yet misses the goal (`task`).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from harp.plan.names import display_name, normalize_entity
from harp.plan.parser import parse_plan
from harp.plan.refusal import REFUSAL_ACTION, missing_in, refusal_step
from harp.plan.simulator import scene_for


@dataclass
class Reference:
    """The reference plan as (action, argument) pairs and the entity names a perturbation may use."""

    steps: list[tuple[str, str]]
    action_names: list[str]
    argument_kinds: dict[str, str]  # action name -> argument kind ("location", "object", ...)
    objects: list[str] = field(default_factory=list)  # display names, e.g. "Apple"
    locations: list[str] = field(default_factory=list)  # display names, e.g. "White Table"
    goal: list[tuple[str, str]] = field(default_factory=list)  # (object, destination) the task asks for, display names
    missing: list[str] = field(default_factory=list)  # what the task asks for and the scene lacks, display names
    lies: dict[str, str] = field(default_factory=dict)  # object -> where it starts, display names

    @property
    def refuses(self) -> bool:
        """The reference is a refusal: the task cannot be done."""
        return refusal_step(join(self.steps)) is not None

    @classmethod
    def from_record(cls, record: dict, domain) -> Reference:
        parsed = parse_plan(record["plan"])
        steps = [(s.action, s.argument) for s in parsed.steps]
        kinds = {name: spec.argument_kind for name, spec in domain.actions.items()}
        scene = scene_for(record, domain)
        objects = [display_name(name) for name in scene.objects]
        locations = [display_name(name) for name in scene.locations]
        goal = [(display_name(o), display_name(d)) for o, d in scene.goal.items()]
        missing = [display_name(name) for name in missing_in(scene)]
        lies = {display_name(o): display_name(place) for o, place in scene.objects.items()}
        return cls(steps, list(domain.action_names), kinds, objects, locations, goal, missing, lies)

    def kind_of(self, action: str) -> str | None:
        return next((kind for name, kind in self.argument_kinds.items() if name.lower() == action.lower()), None)

    def entities_of_kind(self, kind: str | None) -> list[str]:
        if kind == "object":
            return self.objects
        if kind in ("location", "openable"):
            return self.locations
        return self.objects + self.locations


def step_text(action: str, argument: str) -> str:
    return f"{action}({argument})"


def join(steps: list[tuple[str, str]]) -> str:
    return ", ".join(step_text(a, b) for a, b in steps)


# --------------------------------------------------------------------------------- perturbations


def dropped_comma(ref: Reference) -> list[str]:
    """Two neighbouring steps written without the comma between them (a format error)."""
    texts = [step_text(a, b) for a, b in ref.steps]
    return [", ".join(texts[: i - 1] + [texts[i - 1] + " " + texts[i]] + texts[i + 1 :]) for i in range(1, len(texts))]


def swapped_steps(ref: Reference) -> list[str]:
    """Two neighbouring, different steps in the wrong order."""
    out = []
    for i in range(len(ref.steps) - 1):
        if ref.steps[i] != ref.steps[i + 1]:
            steps = list(ref.steps)
            steps[i], steps[i + 1] = steps[i + 1], steps[i]
            out.append(join(steps))
    return out


def wrong_action(ref: Reference) -> list[str]:
    """One step uses another action of the domain on the same argument (`Navigate(Apple)`)."""
    out = []
    for i, (action, argument) in enumerate(ref.steps):
        for other in ref.action_names:
            if other.lower() != action.lower():
                out.append(join(ref.steps[:i] + [(other, argument)] + ref.steps[i + 1 :]))
    return out


def wrong_object(ref: Reference) -> list[str]:
    """One step names another entity of the same kind (a distractor), or of the other kind when none."""
    out = []
    for i, (action, argument) in enumerate(ref.steps):
        kind = ref.kind_of(action)
        same_kind = [e for e in ref.entities_of_kind(kind) if normalize_entity(e) != normalize_entity(argument)]
        pool = same_kind or [e for e in ref.entities_of_kind(None) if normalize_entity(e) != normalize_entity(argument)]
        for entity in pool:
            out.append(join(ref.steps[:i] + [(action, entity)] + ref.steps[i + 1 :]))
    return out


def place_before_pick(ref: Reference) -> list[str]:
    """A `Place` moved to just before the `Pick` it should follow (placing with an empty hand)."""
    out = []
    lower = [a.lower() for a, _ in ref.steps]
    for j, action in enumerate(lower):
        if action != "place":
            continue
        picks = [i for i in range(j) if lower[i] == "pick"]
        if picks:
            i = picks[-1]
            steps = list(ref.steps)
            place = steps.pop(j)
            steps.insert(i, place)
            out.append(join(steps))
    return out


def redundant_navigate(ref: Reference) -> list[str]:
    """An extra `Navigate`: repeated where the robot already is, or a detour to another location."""
    navigate = next((a for a in ref.action_names if a.lower() == "navigate"), None)
    if navigate is None:
        return []
    out = []
    for i, (action, argument) in enumerate(ref.steps):
        if action.lower() == "navigate":
            out.append(join(ref.steps[: i + 1] + [(navigate, argument)] + ref.steps[i + 1 :]))
            for other in ref.locations:
                if normalize_entity(other) != normalize_entity(argument):
                    out.append(join(ref.steps[:i] + [(navigate, other)] + ref.steps[i:]))
    return out


def dropped_step(ref: Reference) -> list[str]:
    """The plan stops early: every prefix missing its last one or two steps."""
    return [join(ref.steps[:n]) for n in range(max(1, len(ref.steps) - 2), len(ref.steps))]


_MOVES = ("navigate", "pick", "place")


def skipped_processing(ref: Reference) -> list[str]:
    """A step that changes an object rather than moving it (Heat, Slice, Toggle, Open...) left out."""
    return [
        join(ref.steps[:i] + ref.steps[i + 1 :])
        for i, (action, _) in enumerate(ref.steps)
        if action.lower() not in _MOVES
    ]


def undone_processing(ref: Reference) -> list[str]:
    """A switch-like step done twice (`Toggle(Lamp)` on, then off again) or a processing step repeated."""
    return [
        join(ref.steps[: i + 1] + [ref.steps[i]] + ref.steps[i + 1 :])
        for i, (action, _) in enumerate(ref.steps)
        if action.lower() not in _MOVES
    ]


def refused_feasible(ref: Reference) -> list[str]:
    """A refusal of a task that can be done, naming one of the objects it moves."""
    if ref.refuses:
        return []
    named = [o for o, _ in ref.goal] or [
        a for _, a in ref.steps if normalize_entity(a) in map(normalize_entity, ref.objects)
    ]
    return [step_text(REFUSAL_ACTION, name) for name in dict.fromkeys(named)]


def confident_plan(ref: Reference) -> list[str]:
    """For a task that cannot be done: the plan as if what is missing were there (each missing
    object fetched from each place it might lie), the answer of a planner that never refuses."""
    words = {name.lower(): name for name in ref.action_names}
    if not ref.refuses or not ref.goal or not all(w in words for w in ("navigate", "pick", "place")):
        return []
    go, pick, place = words["navigate"], words["pick"], words["place"]
    out = []
    for guess in ref.locations:  # where a missing object is believed to lie
        steps = []
        for obj, destination in ref.goal:
            steps += [(go, ref.lies.get(obj, guess)), (pick, obj), (go, destination), (place, destination)]
        out.append(join(steps))
    return list(dict.fromkeys(out))


PERTURBATIONS: dict[str, Callable[[Reference], list[str]]] = {
    "dropped_comma": dropped_comma,
    "swapped_steps": swapped_steps,
    "wrong_action": wrong_action,
    "wrong_object": wrong_object,
    "place_before_pick": place_before_pick,
    "redundant_navigate": redundant_navigate,
    "dropped_step": dropped_step,
    "skipped_processing": skipped_processing,  # for domains beyond pick-and-place (alfred)
    "undone_processing": undone_processing,
    "refused_feasible": refused_feasible,
    "confident_plan": confident_plan,  # for tasks that cannot be done
}

# The error type each perturbation usually yields (H-PRM has the last word).
LIKELY_TYPE = {
    "dropped_comma": "format",
    "wrong_action": "action",
    "wrong_object": "state_transition",
    "swapped_steps": "state_transition",
    "place_before_pick": "state_transition",
    "dropped_step": "task",
    "redundant_navigate": "inefficient",
    "skipped_processing": "task",
    "undone_processing": "task",
    "refused_feasible": "refusal",
    "confident_plan": "hallucination",
}


def candidates(
    ref: Reference, rng: random.Random, prefer: str | None = None, refusals: bool = False
) -> list[tuple[str, str]]:
    """Every (perturbation name, text) for the reference, shuffled; those likely of type `prefer` first.
    A refusal of a task that can be done only with `refusals` (the data teaches refusals)."""
    pairs = [
        (name, text) for name, fn in PERTURBATIONS.items() if refusals or name != "refused_feasible" for text in fn(ref)
    ]
    rng.shuffle(pairs)
    if prefer is not None:
        pairs.sort(key=lambda pair: LIKELY_TYPE[pair[0]] != prefer)  # stable: keeps the shuffle within groups
    return pairs
