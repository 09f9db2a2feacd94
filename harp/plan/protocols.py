"""The contract every planning engine keeps: what a domain, a scene, a state and a search provide.

Two engines stand behind it. The guide's (harp/plan/guide.py, scene.py) reads the guide's YAML
domains into a specialised state (robot, hand, object -> place, open drawers), which is fast; the
fact engine (fact_domain.py over facts.py) reads PDDL, its states sets of ground facts. The
simulator, the planner's search, H-PRM, evaluation, negatives and the teacher's check see only these
protocols: they never ask which engine they hold, and no predicate name is written outside a
domain (only the synthetic world, which draws the guide's tabletop scenes, asks for the guide's
engine, by type). `harp.plan.loader.load_domain` builds either from a name or a file.

A new engine implements `Domain` (and its scenes `Scene`, its states `State`), and its
`new_search` returns a `harp.plan.planner.GraphSearch` subclass: tests/plan/test_protocols.py runs
one through the simulator, the search and H-PRM. tests/plan/test_fact_core_agrees.py shows the two
engines agree step by step on the guide's domains.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from harp.errors import DataError


class PlanningBudgetExceeded(DataError):
    """A counted bound on planning work was hit (one line naming it); searches catch it and go
    inexact, the simulator marks the step not checked."""


class State(Hashable, Protocol):
    """A symbolic state: immutable and hashable (searches key on it). Only its engine reads inside it."""


class Scene(Hashable, Protocol):
    """One task's world: the initial state, the goal, and the views the stages read (by-kind
    tables, perturbations, the teacher's check). Immutable and hashable: searches are cached per scene."""

    initial: State
    objects: Mapping[str, str]  # each object that stands somewhere at the start -> where (canonical names)
    locations: Sequence[str]  # the places a step may name as where the robot goes or puts things
    goal: Mapping[str, str]  # object -> where it must end (the goal's placements; a goal may hold more)
    missing: tuple[str, ...]  # what the task names that the scene lacks: the task cannot be done (refusal.py)

    def has(self, name: str) -> bool:
        """Whether the scene holds an entity of this canonical name (a plan naming another hallucinates)."""

    def satisfied(self, state: State) -> bool:
        """Whether a state meets the goal."""

    def goal_facts_met(self, state: State) -> tuple[int, int]:
        """(goal facts the state meets, all goal facts): the planner's estimate past its budgets."""

    def goal_size(self) -> int:
        """How many goal facts; 0 is a task with nothing to do."""

    def to_dict(self) -> dict:
        """The scene JSON its domain's `scene_from_dict` reads back."""


class Action(Protocol):
    """A plan word as the prompt shows it: `Navigate(location): Move the robot to ...`."""

    name: str
    argument_kind: str
    description: str


class StepOutcome(NamedTuple):
    """One step from one state, as a domain judges it."""

    action: str | None  # canonical action name, None when unknown
    argument: str  # canonical argument
    reason: str | None  # why the step is invalid, None when valid
    error: str | None  # None | "action" (H-PRM level 2) | "transition" (level 3)
    state: Any  # the state after the step (the state before it when invalid)


class Search(Protocol):
    """The optimal-cost search of one scene (harp.plan.planner.GraphSearch): V(s) within budgets."""

    exact: bool  # the optimal length from the start is certified
    optimal_length: int | None  # None: the goal is unreachable, or the optimum is not certified

    def cost_to_go(self, state: State) -> int | None:
        """V(state): exact, or past every budget an estimate."""

    def trace_values(self, states: Sequence[State], budget: int | None = None) -> list[tuple[int | None, bool]]:
        """(V, exact) at each state of a trace, the per-state searches sharing one budget."""

    def bound(self, state: State) -> str | None:
        """The bound the last search from `state` hit, in one line; None when it was exact."""

    def optimal_steps(self) -> list[tuple[str, str]] | None:
        """An optimal plan as (action, canonical argument) pairs; None when unknown or none exists."""


class Domain(Protocol):
    """A planning domain: its plan words, how a step runs, how scenes are read and inferred, how
    they are searched. Get one with `harp.plan.load_domain(name_or_path)`."""

    name: str
    description: str
    path: str  # the file it was read from
    actions: Mapping[str, Action]  # plan word as written ("Navigate") -> its Action, in the domain's order
    action_names: list[str]

    def canonical_action(self, name: str) -> str | None:
        """The plan word as the domain writes it, case-insensitively; None when unknown."""

    def step(self, action: str, argument: str, state: State, scene: Scene) -> StepOutcome:
        """One step as written, from `state`; may raise PlanningBudgetExceeded."""

    def scene_from_dict(self, data: Any, where: str = "scene") -> Scene:
        """A record's `scene` JSON; a malformed one is a DataError naming `where` and the key."""

    def infer_scene(self, plan: Any) -> Scene:
        """The scene a reference plan implies (records without a `scene`); its goal is the plan's net effect."""

    def new_search(self, scene: Scene) -> Search:
        """A fresh search of a scene (`harp.plan.planner.search` caches one per scene)."""

    # Optional: `judging_domain(scene, words) -> Domain`, the domain whose optimum a plan written with
    # these words is judged against (fact_domain.py: without shorthand words the plan does not use).
    # H-PRM uses the domain itself where it is absent.


@dataclass(frozen=True, slots=True)
class StepResult:
    """What the simulator says of one step of a plan."""

    valid: bool
    reason: str | None  # why the step is invalid (None when valid)
    state: State  # the state after the step (unchanged when invalid)
    wasted: bool  # valid but changed nothing
    error: str | None = None  # None | "action" | "transition"
    action: str | None = None  # canonical action name, None when unknown
    argument: str = ""  # canonical argument
    checked: bool = True  # False: the check passed a bound, so the step is not known to be valid


@dataclass(frozen=True, slots=True)
class Trace:
    """A simulated plan: each step's result, from the scene's initial state."""

    initial: State
    steps: list[StepResult]
    first_invalid: int | None  # index of the first invalid step, None when all are valid
    final_state: State
    completed: bool  # all steps valid and the goal holds at the end
