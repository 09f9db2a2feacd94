"""H-PRM: the hierarchical process reward. One score per plan, and one score per step.

Five components, each in [-1, 1] (docs/internals.md §3):

| level | component  | credit when the level holds | partial credit when it is the first level to fail |
|-------|------------|-----------------------------|---------------------------------------------------|
| 1     | format     | 1: parses cleanly            | 1 - 2e/(e+n) for e errors, n repaired steps; -1 when no step |
| 2     | action     | 1: every step is a domain action on an entity of the right kind | 2*(valid share) - 1 |
| 3     | transition | 1: every precondition holds  | 2*(share of steps before the first violation)/violations - 1 |
| 4     | task       | 1: the end state meets the goal | 2*progress - 1, progress = (V(s0) - V(end)) / V(s0) clipped to [0, 1) |
| 5     | efficiency | 1: as long as an optimal plan | 2*optimal/length - 1 |

Hierarchy: the levels below the first failing one get 1, the failing one its partial credit
(always < 1), the levels above it -1. Because the partial credit is < 1 and the upper levels sit
at -1, a plan that fails higher always totals at least as much as one that fails lower, for any
non-negative weights (strictly more when the lower level's weight is > 0): unparseable (-1
everywhere) < format errors < invalid actions < invalid transitions < incomplete < complete but
long < optimal (1 everywhere). `total` is the weighted mean, in [-1, 1].

Step scores (the "process" part): p_i = progress_i - 2·[step i invalid], with
progress_i = V(s_{i-1}) - V(s_i) - 1 clipped to [-2, 0]. So an optimal step scores 0, a wasted
one -1 (no progress), a harmful one -2 (moves away from the goal), an invalid one -3 (it changes
nothing, so its progress is -1). V is the exact cost-to-go from harp/plan/planner.py.

Past the planner's budgets (a scene too big to search, harp/plan/planner.py) V may be known only
as an estimate. The result then says so (`exact` False, `note` the bound hit, `optimal_length`
None) and claims nothing an estimate cannot support: a valid step scores 0 unless it changes
nothing (-1), efficiency is judged only against the shortest plan known (the reference's length,
or steps taken plus an exact V on the way), and progress towards the goal uses the estimate.

The optimum is the shortest plan in the plan's own vocabulary: a domain whose mapping names
`shorthand` words (alfred.yaml: Heat, Cool, Clean abbreviate the simulator's physics) judges a
plan that uses none of them against the shortest plan without them (`judging_domain`,
harp/plan/fact_domain.py), so an expert who washes by the sink's faucet is not called wasteful.

`error_type` names the first failing level for the negatives miner and the evaluator: None,
"format", "action", "state_transition", "task" or "inefficient"; "hallucination" is an action
failure that names an entity the scene does not have, "refusal" a refusal of a task that can be done.

Refusals (harp/plan/refusal.py). A task cannot be done when its scene lacks something the task
names (`missing`) or an exact search proves the goal unreachable. Then `Infeasible(X)` naming a
missing thing (any X when nothing is missing) is the optimal answer (1 everywhere, `completed`);
naming something the scene has fails the task level with partial credit 0; and no plan completes:
one whose steps all hold fails the task level with -1 (it makes no progress towards a goal it
cannot reach), so it ranks below either refusal. Where the task can be done, a refusal fails the
transition level with -1: below every plan valid so far (strictly, with w_transition > 0), above
plans with invalid or hallucinated actions, whose partial credit it does not earn.

Speed: GRPO and evaluation call `score` for every completion. Parsing is cached per text, scenes
per record (by the scene dict itself, else its content or the reference plan; a scene dict is not to
be changed in place once scored), the planner's V per scene.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harp.plan.loader import load_domain
from harp.plan.names import normalize_entity
from harp.plan.parser import FormatError, Step, parse_plan
from harp.plan.planner import search
from harp.plan.protocols import Domain, Scene
from harp.plan.refusal import missing_in, refusal_step
from harp.plan.simulator import simulate
from harp.rewards.vocabulary import COMPONENTS, DEFAULT_WEIGHTS, ERROR_TYPES, WEIGHT_KEYS  # noqa: F401 (re-exported)

INVALID_STEP_PENALTY = 2.0  # added to an invalid step's (-1) progress: -3, below any valid step
_SCENE_CACHE_SIZE = 50_000


@dataclass(frozen=True, slots=True)
class RewardWeights:
    w_format: float = DEFAULT_WEIGHTS["w_format"]  # level 1: the plan parses
    w_action: float = DEFAULT_WEIGHTS["w_action"]  # level 2: domain actions on entities of the scene
    w_transition: float = DEFAULT_WEIGHTS["w_transition"]  # level 3: preconditions hold step after step
    w_task: float = DEFAULT_WEIGHTS["w_task"]  # level 4: the end state satisfies the goal
    w_efficiency: float = DEFAULT_WEIGHTS["w_efficiency"]  # level 5: length against the optimal plan

    def __post_init__(self):
        values = self.as_tuple()
        if any(w < 0 for w in values) or sum(values) <= 0:
            raise ValueError(f"reward weights must be >= 0 with a positive sum, got {values}")

    def as_tuple(self) -> tuple[float, float, float, float, float]:
        return (self.w_format, self.w_action, self.w_transition, self.w_task, self.w_efficiency)

    @classmethod
    def from_config(cls, reward_config: Any) -> RewardWeights:
        """From the GRPO config's `reward` section (harp.config.RewardConfig) or any object with the keys."""
        return cls(*(float(getattr(reward_config, key)) for key in WEIGHT_KEYS))


@dataclass(frozen=True, slots=True)
class RewardBreakdown:
    format: float
    action: float
    transition: float
    task: float
    efficiency: float
    total: float  # weighted mean of the five, in [-1, 1]
    steps: tuple[Step, ...]  # parsed steps with their character spans in the completion
    step_scores: list[float]  # one per step: 0 optimal, -1 wasted, -2 harmful, -3 invalid
    step_reasons: list[str | None]  # why each step is invalid, None when valid
    completed: bool  # the task level holds: parses cleanly, every step valid, the goal reached
    plan_length: int  # number of parsed steps
    optimal_length: int | None  # None when the scene's goal is unreachable or the optimum is not certified
    error_type: str | None  # None | format | action | state_transition | task | inefficient
    format_errors: tuple[FormatError, ...] = field(default=())
    exact: bool = True  # every cost-to-go used was exact and every step checked
    note: str | None = None  # when not exact: the bound hit and what was not judged, one line
    known_length: int | None = None  # the shortest plan known: the optimum, or past a budget a plan's length
    infeasible: bool = False  # the task cannot be done from the scene (only a refusal completes it)
    refused: bool = False  # the plan is a refusal, `Infeasible(X)`
    # The progress (as the task level counts it, in [0, 1]) of the valid steps before the first invalid
    # one; None without an invalid step, or where V there is not exact. Training may rank a plan that
    # slips by it (`reward.slip_penalty`, harp.train.grpo_rewards).
    slip_progress: float | None = None

    def components(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in COMPONENTS}

    def to_dict(self) -> dict:
        """JSON-ready: components, total, error type, and each step with its span, score and reason."""
        return {
            **self.components(),
            "total": self.total,
            "error_type": self.error_type,
            "completed": self.completed,
            "plan_length": self.plan_length,
            "optimal_length": self.optimal_length,
            "exact": self.exact,
            "note": self.note,
            "infeasible": self.infeasible,
            "refused": self.refused,
            "steps": [
                {
                    "step": f"{s.action}({s.argument})",
                    "span": list(s.span),
                    "score": score,
                    "valid": reason is None,
                    "reason": reason,
                }
                for s, score, reason in zip(self.steps, self.step_scores, self.step_reasons)
            ],
            "format_errors": [
                {"kind": e.kind, "position": e.position, "message": e.message} for e in self.format_errors
            ],
        }


class HPRM:
    """`HPRM(domain, weights).score(completion, example)`; see the module docstring."""

    def __init__(self, domain: Domain | str = "navigate_pick_place", weights: RewardWeights | None = None):
        self.domain = load_domain(domain)
        self.weights = weights or RewardWeights()
        self._w = self.weights.as_tuple()
        self._w_sum = sum(self._w)
        self._scenes: dict[Any, Scene] = {}
        self._by_identity: dict[int, tuple[Any, Scene]] = {}  # id(scene dict) -> (that dict, its scene)

    def scene(self, example: dict) -> Scene:
        """The example's scene: its `resolved_scene` (a harp.data.records.Record's), its `scene` JSON,
        or inferred from its `plan`."""
        cached = getattr(example, "resolved_scene", None)  # a plain dict has none
        if cached is not None:
            return cached
        data = example.get("scene")
        if data:  # the same dict object scored again (GRPO's candidates, evaluation): no need to read its text
            seen = self._by_identity.get(id(data))
            if seen is not None and seen[0] is data:
                return seen[1]
        key = _scene_key(data) if data else ("plan", _plan_key(example.get("plan")))
        scene = self._scenes.get(key)
        if scene is None:
            if len(self._scenes) >= _SCENE_CACHE_SIZE:
                self._scenes.clear()
            if data:
                scene = self.domain.scene_from_dict(data)
            else:
                scene = self.domain.infer_scene(example.get("plan") or [])
            self._scenes[key] = scene
        if data:
            if len(self._by_identity) >= _SCENE_CACHE_SIZE:
                self._by_identity.clear()
            self._by_identity[id(data)] = (data, scene)  # holding `data` keeps its id from being reused
        return scene

    def score(self, completion: str | list, example: dict) -> RewardBreakdown:
        """Score one completion (text, or a list of step strings) against a record."""
        parsed = parse_plan(completion)
        scene = self.scene(example)
        graph = search(scene, self._judging_domain(scene, parsed))
        steps = parsed.steps
        n = len(steps)
        # Whether the task can be done is the scene's, whatever the plan: an empty answer to an
        # impossible task still counts as one of the impossible tasks (refusal recall's denominator).
        missing = missing_in(scene)
        infeasible = bool(missing) or (graph.exact and graph.optimal_length is None and scene.goal_size() > 0)
        if n == 0:
            ((v_initial, exact),) = graph.trace_values([scene.initial])
            optimal = v_initial if exact else None
            note = None if exact else _note(graph.bound(scene.initial), None)
            return RewardBreakdown(
                -1.0,
                -1.0,
                -1.0,
                -1.0,
                -1.0,
                -1.0,
                (),
                [],
                [],
                False,
                0,
                optimal,
                "format",
                parsed.errors,
                exact,
                note,
                optimal,
                infeasible,
            )

        refusal = refusal_step(parsed)
        if refusal is not None:
            return self._score_refusal(parsed, refusal, scene, graph, missing, infeasible)

        trace = simulate(parsed, scene, self.domain)
        states = [scene.initial] + [r.state for r in trace.steps if r.valid]
        along = graph.trace_values(states)  # (V, exact) before the first step and after each valid one
        if trace.completed and along[0][1] and along[0][0] == len(states) - 1:
            # An optimal plan: V(s_i) >= V(s_0) - i (unit steps) and <= n - i (the rest of the plan), so
            # V along it is exact even where the per-state searches were not.
            along = [(along[0][0] - i, True) for i in range(len(states))]
        v_initial, exact_initial = along[0]
        exact, unchecked = exact_initial, None
        known = v_initial if exact_initial else None  # the shortest plan known: steps taken + an exact V
        step_scores, step_reasons = [], []
        action_errors = transition_errors = 0
        first_transition = None
        v_prev, exact_prev = along[0]
        taken = 0
        slip_progress = None
        for index, result in enumerate(trace.steps):
            step_reasons.append(result.reason)
            if result.valid:
                taken += 1
                v, exact_v = along[taken]
                if exact_prev and exact_v:
                    step_scores.append(_progress(v_prev, v))
                else:  # V estimated: only a step that changes nothing is surely wasted
                    exact = False
                    step_scores.append(-1.0 if result.wasted else 0.0)
                if not exact_initial and exact_v and v is not None and (known is None or taken + v < known):
                    known = taken + v
                v_prev, exact_prev = v, exact_v
                continue
            # An invalid step changes nothing: progress -1, minus the penalty.
            step_scores.append(-1.0 - INVALID_STEP_PENALTY)
            if slip_progress is None and exact_prev and v_prev is not None and exact_initial:
                slip_progress = _share_done(v_initial, v_prev)
            if result.error == "action":
                action_errors += 1
            else:
                transition_errors += 1
                if first_transition is None:
                    first_transition = index
                if not result.checked:
                    exact, unchecked = False, unchecked or result.reason
        optimal = v_initial if exact_initial else None
        if not exact_initial:  # the reference is a plan known to work too
            known = min((k for k in (known, self._known_length(scene, example)) if k is not None), default=None)

        # The first failing level gets partial credit (< 1), those below 1, those above -1.
        if not parsed.ok:
            level, partial = 0, 1.0 - 2.0 * len(parsed.errors) / (len(parsed.errors) + n)
        elif action_errors:
            level, partial = 1, 2.0 * (n - action_errors) / n - 1.0
        elif transition_errors:
            level, partial = 2, 2.0 * (first_transition / n) / transition_errors - 1.0
        elif infeasible:  # every step holds, but no plan reaches this goal: only a refusal is right
            level, partial = 3, -1.0
        elif not trace.completed:
            level, partial = 3, 2.0 * _share_done(v_initial, v_prev) - 1.0
        elif known is not None and n > known:  # longer than optimal, or than a plan known to work
            level, partial = 4, 2.0 * known / n - 1.0
        else:
            level, partial = 5, 1.0
        values, total = self._levels(level, partial)
        note = None
        if not exact:
            bound = next((graph.bound(s) for s, (_, e) in zip(states, along) if not e), None)
            note = f"a step was {unchecked}" if unchecked else _note(bound, known)
        error_type = ERROR_TYPES[level] if level < 5 else None
        if level == 1 and any(
            r.error == "action" and r.action is not None and not scene.has(r.argument) for r in trace.steps
        ):
            error_type = "hallucination"
        return RewardBreakdown(
            *values,
            total,
            steps,
            step_scores,
            step_reasons,
            level >= 4,
            n,
            optimal,
            error_type,
            parsed.errors,
            exact,
            note,
            known,
            infeasible,
            slip_progress=slip_progress,
        )

    def _judging_domain(self, scene, parsed) -> Domain:
        """The domain whose optimum the plan is judged against: a domain may judge a plan in its own
        vocabulary (a fact domain's `shorthand`, harp/plan/fact_domain.py); by default, itself."""
        judging = getattr(self.domain, "judging_domain", None)
        if judging is None:
            return self.domain
        words = {self.domain.canonical_action(s.action) for s in parsed.steps} - {None}
        return judging(scene, words)

    def _levels(self, level: int, partial: float) -> tuple[list[float], float]:
        """The five components when `level` is the first to fail (5: none) with its partial credit, and
        their weighted mean: the levels below it 1, those above -1."""
        values = [1.0] * level + ([partial] if level < 5 else []) + [-1.0] * (4 - level)
        total = sum(w * x for w, x in zip(self._w, values)) / self._w_sum
        return values, min(1.0, max(-1.0, total))

    def _score_refusal(self, parsed, refusal: Step, scene, graph, missing, infeasible: bool) -> RewardBreakdown:
        """`Infeasible(X)` as the whole plan; see the module docstring."""
        named = normalize_entity(refusal.argument)
        optimal = graph.optimal_length if graph.exact else None
        reason = None
        if not parsed.ok:
            errors = len(parsed.errors)
            level, partial, error_type = 0, 1.0 - 2.0 * errors / (errors + 1), "format"
        elif not infeasible:
            level, partial, error_type = 2, -1.0, "refusal"
            known = f"a {optimal}-step plan does it" if optimal is not None else "no search proves it impossible"
            reason = f"the task can be done from this scene: {known}"
        elif missing and named not in missing:
            level, partial, error_type = 3, 0.0, "task"
            there = "the scene has it" if scene.has(named) else "the task does not ask for it"
            reason = f"refused naming {named}, but {there}; the scene lacks {', '.join(missing)}"
        else:
            level, partial, error_type = 5, 1.0, None
        values, total = self._levels(level, partial)
        # As a step: the right refusal is optimal (0); naming the wrong thing holds but gains nothing,
        # like a wasted step (-1; every step of a plan for an impossible task scores that or less), so
        # FTCA never credits the steps of a plan above the decision to refuse; otherwise invalid (-3).
        step_score = 0.0 if error_type is None else -1.0 if level == 3 else -1.0 - INVALID_STEP_PENALTY
        exact = graph.exact or infeasible
        return RewardBreakdown(
            *values,
            total,
            parsed.steps,
            [step_score],
            [reason],
            level >= 4,
            1,
            optimal,
            error_type,
            parsed.errors,
            exact,
            None if exact else _note(graph.bound(scene.initial), None),
            optimal,
            infeasible,
            True,
        )

    def _known_length(self, scene, example: dict) -> int | None:
        """When the optimum is not certified: the reference plan's length if it reaches the goal."""
        key = ("known", scene, _plan_key(example.get("plan")))
        if key not in self._scenes:
            plan = example.get("plan") or []
            trace = simulate(plan, scene, self.domain)
            self._scenes[key] = len(trace.steps) if trace.completed else None
        return self._scenes[key]


def _note(bound: str | None, known: int | None) -> str:
    """One line saying which bound was hit and what the score therefore does not claim."""
    against = f"judged against a known {known}-step plan" if known is not None else "not judged"
    return (
        f"{bound or 'search budget exceeded'}: the optimum is not certified; efficiency {against}, "
        "no step judged wasted or harmful unless it changes nothing"
    )


def _share_done(v_initial: int | None, v: int | None) -> float:
    """The task level's progress from the start to a state of cost-to-go `v`: (V(s0) - v) / V(s0) in [0, 1]."""
    progress = (v_initial - v) / v_initial if v_initial and v is not None else 0.0
    return min(max(progress, 0.0), 1.0)


def _progress(v_prev: int | None, v: int | None) -> float:
    """V(s_{i-1}) - V(s_i) - 1 clipped to [-2, 0]; an unreachable goal counts as infinitely far."""
    if v_prev is None:
        return -1.0 if v is None else 0.0
    if v is None:
        return -2.0
    return float(max(-2, min(0, v_prev - v - 1)))


def _plan_key(plan: Any) -> Any:
    if isinstance(plan, list):
        return tuple(str(s) for s in plan)
    return str(plan)


def _scene_key(data: Any) -> Any:
    """A key for a record's `scene` (any engine's JSON), cheaper than reading the scene: its text."""
    try:
        return ("scene", repr(data))
    except RecursionError:  # nested too deeply: a key no other matches; scene_from_dict will say why
        return ("bad", object())
