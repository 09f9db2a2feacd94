"""Refusals: the plan that says a task cannot be done from this scene, and what is missing.

`Infeasible(Apple)` is a step of the plan language in every domain, outside any domain's actions: a
plan that is this one step refuses the task and names what the scene lacks. Where it appears among
other steps it is no action of the domain (an action error, like any unknown word).

A scene says what its task names that it does not have in `missing` (scene JSON: `"missing":
["apple", "basket"]`, for every engine; a guide scene's goal may name them, the placements the task
asks for). A task cannot be done when something is missing, or when
an exact search proves no plan reaches its goal; then the refusal is the right answer (H-PRM,
harp/rewards/hprm.py) and a plan that names a missing entity is a hallucination.
"""

from __future__ import annotations

from typing import Any

from harp.errors import DataError
from harp.plan.names import display_name, normalize_entity
from harp.plan.parser import ParsedPlan, Step, parse_plan

REFUSAL_ACTION = "Infeasible"  # the plan word, as written


def is_refusal_word(action: str) -> bool:
    return action.strip().lower() == REFUSAL_ACTION.lower()


def refusal_step(plan: str | list | ParsedPlan) -> Step | None:
    """The refusal when a plan is exactly one `Infeasible(X)` step, else None."""
    parsed = plan if isinstance(plan, ParsedPlan) else parse_plan(plan)
    if len(parsed.steps) == 1 and is_refusal_word(parsed.steps[0].action) and parsed.steps[0].argument:
        return parsed.steps[0]
    return None


def refusal_text(missing: str) -> str:
    """The refusal plan naming one missing entity: `Infeasible(Apple)`."""
    return f"{REFUSAL_ACTION}({display_name(missing)})"


def read_missing(data: dict, where: str) -> tuple[str, ...]:
    """A scene JSON's `missing` (canonical names, in order), validated; () when absent."""
    value = data.get("missing")
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(x, str) and normalize_entity(x) for x in value):
        raise DataError(f"{where}.missing: expected a list of names (strings) the task asks for and the scene lacks")
    return tuple(dict.fromkeys(normalize_entity(x) for x in value))


def check_missing(missing: tuple[str, ...], has, where: str) -> None:
    """A name cannot be both in the scene and missing from it."""
    for name in missing:
        if has(name):
            raise DataError(f"{where}.missing: '{name}' is in the scene")


def missing_in(scene: Any) -> tuple[str, ...]:
    """A scene's missing entities (any engine's; () for one that predates refusals)."""
    return tuple(getattr(scene, "missing", ()) or ())
