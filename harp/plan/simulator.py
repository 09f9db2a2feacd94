"""Simulation: run a plan's steps from a scene's initial state and say, per step, what happened.

A step is checked in two layers, matching H-PRM's levels 2 and 3:
- `error="action"`: not a domain action, or its argument is not an entity of the right kind in
  the scene (`Grab(Apple)`, `Pick(Basket)`, `Navigate(Moon)`);
- `error="transition"`: a real action whose preconditions do not hold (`Place` with an empty hand).
An invalid step changes nothing and the simulation goes on, so every violation is counted. A valid
step that leaves the state unchanged (`Navigate` to where the robot already is) is `wasted`. A step
whose check would pass a bound (PlanningBudgetExceeded: a PDDL action whose parameters nothing
binds, over thousands of entities) is invalid and `checked` False, its reason the bound's line.

It runs any engine's domain (harp/plan/protocols.py): the domain judges each step, the scene says
when the goal holds.
"""

from __future__ import annotations

from functools import lru_cache

from harp.plan.names import normalize_entity
from harp.plan.parser import ParsedPlan, Step, parse_plan
from harp.plan.protocols import Domain, PlanningBudgetExceeded, Scene, State, StepResult, Trace


def simulate(steps: str | list | tuple | ParsedPlan, scene: Scene, domain: Domain) -> Trace:
    """Run steps (a list of Step, a list of step strings, plan text or a ParsedPlan) from scene.initial."""
    memo = _memo(scene, domain)
    state = scene.initial
    results = []
    first_invalid = None
    for index, step in enumerate(as_steps(steps)):
        key = (state, step.action, step.argument)
        result = memo.get(key)
        if result is None:
            if len(memo) >= _MEMO_SIZE:
                memo.clear()
            result = memo[key] = _step(step.action, step.argument, state, scene, domain)
        results.append(result)
        if result.valid:
            state = result.state
        elif first_invalid is None:
            first_invalid = index
    completed = first_invalid is None and scene.satisfied(state)
    return Trace(scene.initial, results, first_invalid, state, completed)


def _step(action_text: str, argument_text: str, state: State, scene: Scene, domain: Domain) -> StepResult:
    """One step from one state: the definition of a step's outcome."""
    try:
        action, arg, reason, error, after = domain.step(action_text, argument_text, state, scene)
    except PlanningBudgetExceeded as bound:
        return StepResult(
            False,
            f"not checked: {bound}",
            state,
            False,
            "transition",
            domain.canonical_action(action_text),
            normalize_entity(argument_text),
            checked=False,
        )
    if reason is not None:
        return StepResult(False, reason, state, False, error, action, arg)
    return StepResult(True, None, after, after == state, None, action, arg)


# Step outcomes depend only on (scene, domain, state, step text), and GRPO scores many completions
# of the same scene that share most (state, step) pairs, so outcomes are memoised per scene.
_MEMO_SIZE = 200_000


@lru_cache(maxsize=1024)
def _memo(scene: Scene, domain: Domain) -> dict:
    return {}


def as_steps(steps: str | list | tuple | ParsedPlan) -> tuple[Step, ...]:
    """Steps from plan text, a list of step strings, a list of Steps or a ParsedPlan."""
    if isinstance(steps, ParsedPlan):
        return steps.steps
    if isinstance(steps, (list, tuple)) and steps and all(isinstance(s, Step) for s in steps):
        return tuple(steps)
    return parse_plan(steps).steps


def scene_for(record: dict, domain: Domain, where: str = "scene") -> Scene:
    """The record's scene: its `scene` field when present, else inferred from its `plan`.

    `where` prefixes a malformed scene's error (`data/sft_test.jsonl:3: scene`)."""
    data = record.get("scene")
    if data:
        return domain.scene_from_dict(data, where)
    return domain.infer_scene(record.get("plan") or [])
