"""The fact engine's search: only the facts and ground actions that can matter for a scene's goal.

`FactSearch` is the planner's breadth-first search (harp/plan/planner.py, `GraphSearch`) over sets
of facts, each state's successors the ground actions applicable in it (harp/plan/facts.py) that
`Relevance` keeps. It counts the bindings it tries besides the states it holds (`WORK_BUDGET`).
Where it cannot certify the optimum from the start within its budgets, Fast Downward does
(harp/plan/fast_downward.py), when installed. In a scene of `FD_FIRST_ENTITIES` entities or more
that Fast Downward can read (ALFWorld's games: 237-357), HARP's first exploration gets a tenth of
its budget: it does not finish there anyway, and spent the whole budget (about 3 s) before Fast
Downward's answer (about 0.4 s). Later searches (other states' cost-to-go) keep the full budget.
"""

from __future__ import annotations

import itertools
from collections import deque

from harp.plan import fast_downward
from harp.plan.facts import _MAX_DERIVED_DEPTH, BINDING_BUDGET, FactScene, FactState, grounding
from harp.plan.planner import STATE_BUDGET, WORK_BUDGET, GraphSearch
from harp.plan.protocols import PlanningBudgetExceeded


class _TooBig(Exception):
    """The relevance analysis passed RELEVANCE_BUDGET."""


FD_FIRST_ENTITIES = 150  # entities from which the first exploration leaves the optimum to Fast Downward
FD_FIRST_SHARE = 10  # ... with 1/FD_FIRST_SHARE of its budget


class FactSearch(GraphSearch):
    """Fact domains: states are sets of facts, successors the relevant ground actions of each state."""

    def __init__(self, scene: FactScene, domain, budget: int = STATE_BUDGET):
        self.ground = grounding(scene, domain.spec)
        self.relevance = Relevance(self.ground, scene)
        self._work_from = self._work_until = 0
        large = len(scene.entities) >= FD_FIRST_ENTITIES and fast_downward.can_read(domain.spec)
        super().__init__(scene, domain, budget // FD_FIRST_SHARE if large else budget)
        self.budget = budget
        self.certified_by: str | None = None  # who certified the optimum from the start, when we could not
        known = self._values.get(scene.initial)
        if known is not None and not known[0][1]:  # past our budgets: a maintained optimal planner
            certified, length = fast_downward.optimal_length(scene, domain.spec)
            if certified:  # charged as the whole search it stands for, so a trace's searches stay as bounded
                self._values[scene.initial] = ((length, True), budget, budget, None)
                self.certified_by = "Fast Downward"

    def project(self, state):
        return self.relevance.project(state)

    def facts_in(self, state) -> int:
        return len(state)

    def _allow(self, states: int) -> None:
        self._work_from = self.ground.work
        self._work_until = self._work_from + WORK_BUDGET * states // STATE_BUDGET

    def _held_or_worked(self, held: int) -> int:
        return max(held, -(-(self.ground.work - self._work_from) * STATE_BUDGET // WORK_BUDGET))

    def successors(self, state) -> list:
        ground, relevance = self.ground, self.relevance
        if relevance.unreachable:
            return []  # nothing to search: the goal can never hold
        left = self._work_until - ground.work
        try:
            actions = ground.applicable_actions(state, relevance.schemas, max(0, min(left, BINDING_BUDGET)))
        except PlanningBudgetExceeded:
            if left < BINDING_BUDGET:
                raise PlanningBudgetExceeded(
                    f"search budget exceeded: more than {WORK_BUDGET:,} bindings tried"
                ) from None
            raise
        outcomes: dict = {}
        for action in actions:
            matters, add = relevance.effect(action)
            if not matters:
                continue
            key = action.order
            if relevance.depends_on_state(action):  # the facts its conditional effects read are kept
                after = relevance.project(action.apply(state))
            else:
                after = FactState((state - action.delete) | add)  # `state` is projected, so is `after`
            known = outcomes.get(key)
            if known is None:
                outcomes[key] = [action.word, action.written, after]
            elif known[2] != after:
                known[2] = None  # several outcomes: an ambiguous step, which the simulator rejects
        return [
            tuple(outcomes[key])
            for key in sorted(outcomes)
            if outcomes[key][2] is not None and outcomes[key][2] != state
        ]


RELEVANCE_BUDGET = 200_000  # formula nodes the relevance analysis may visit before it keeps everything
EXISTS_LIMIT = 4_096  # assignments of an `exists` it enumerates (more: it reads them as any value)


class Relevance:
    """The facts and ground actions that can matter for a scene's goal, worked out backwards from it
    on the lifted actions, so nothing is grounded for it.

    A pattern is a fact with None for "any entity". The goal's facts are needed (true, or false for
    a negated goal fact). An action matters when it adds a needed fact (or deletes one that must be
    false), for the values that fact fixes of its parameters; the facts its preconditions read are
    then needed too, with None for the parameters left open. Dropping the actions that do not matter
    keeps every optimal plan, from any reachable state (an action that touches no needed fact can be
    cut from any plan without breaking it), and facts nothing needs can be projected away (heating
    the knife changes nothing that counts).

    Statics sharpen it: a precondition the statics decide (`(receptacle ?r)`) prunes the actions it
    rules out, and a fact no action can ever add (`(in apple apple 2)`: only `place` adds `in`, and
    only into a receptacle) never holds, so what only it would enable is not needed; a goal fact that
    does not hold and that no action can add (`unreachable`) makes the search end at once. Past
    `RELEVANCE_BUDGET` everything is kept: a bigger search, never a wrong one.
    """

    def __init__(self, ground, scene, limit: int = RELEVANCE_BUDGET):
        self.ground = ground
        self.need: dict = {True: set(), False: set()}
        self.schemas: set = set()  # ids of the schemas with an instance that matters
        self.conditional: set = set()  # ids of those whose conditional effects may matter
        self.everything = False
        self.unreachable = False  # a goal fact no action can ever make hold (or cease to hold)
        self._left = limit
        self._keep: dict = {}
        instances: dict = {}  # (schema, effect, binding) -> whether the statics leave it possible
        goal = [(True, f) for f in scene.goal_true] + [(False, f) for f in scene.goal_false]
        queue = deque(goal)
        achieved: set = set()  # needed patterns some action may bring about
        try:
            for node in ground.goal_conjuncts():  # a goal formula needs what it reads
                queue.extend(self._collect(node, {}, {}, True, 0)[1])
            while queue:
                polarity, pattern = queue.popleft()
                if self._needed(polarity, pattern):
                    continue
                self.need[polarity].add(pattern)
                for schema in ground.schemas():
                    # a conditional effect matters as a plain one does, and its condition is read too
                    effects = (((), None, schema.add, schema.delete), *ground.conditional(schema))
                    for index, (variables, condition, adds, deletes) in enumerate(effects):
                        types = {**dict(schema.parameters), **dict(variables)}
                        for pred, terms in adds if polarity else deletes:
                            binding = ground.unify(terms, pattern[1:], types) if pred == pattern[0] else None
                            key = (id(schema), index, tuple(sorted(binding.items()))) if binding is not None else None
                            if key is None:
                                continue
                            if key not in instances:
                                nodes = (*ground.conjuncts(schema), *([condition] if condition else []))
                                status, needs = self._collect_all(nodes, binding, types, True, 0)
                                instances[key] = status is not False
                                if status is not False:
                                    self.schemas.add(id(schema))
                                    if index:
                                        self.conditional.add(id(schema))
                                    queue.extend(needs)
                            if instances[key]:
                                achieved.add((polarity, pattern))
        except _TooBig:
            self.everything = True
            self.schemas = {id(s) for s in ground.schemas()}
            return
        held = scene.initial | scene.statics
        self.unreachable = any(
            (fact in held) != polarity and (polarity, fact) not in achieved for polarity, fact in goal
        )

    def _needed(self, polarity: bool, pattern: tuple) -> bool:
        """Whether the pattern, or one more general, is needed with this polarity."""
        need = self.need[polarity]
        args = pattern[1:]
        for mask in itertools.product((False, True), repeat=len(args)):
            if (pattern[0], *(None if m else a for m, a in zip(mask, args))) in need:
                return True
        return False

    def keep(self, fact: tuple) -> bool:
        known = self._keep.get(fact)
        if known is None:
            known = self.everything or self._needed(True, fact) or self._needed(False, fact)
            if len(self._keep) > 200_000:
                self._keep.clear()
            self._keep[fact] = known
        return known

    def project(self, state):
        if self.everything:
            return state
        kept = [f for f in state if self.keep(f)]
        return state if len(kept) == len(state) else FactState(kept)

    def depends_on_state(self, action) -> bool:
        """Whether a ground action's kept effects depend on the state: conditional effects that may matter."""
        return bool(action.schema.conditional) and (self.everything or id(action.schema) in self.conditional)

    def effect(self, action) -> tuple[bool, frozenset]:
        """(whether a ground action matters, the facts it adds that are kept)."""
        found = action.relevance
        if found is None:
            matters = (
                self.everything
                or id(action.schema) in self.conditional  # whether it does depends on the state
                or any(self._needed(True, f) for f in action.add)
                or any(self._needed(False, f) for f in action.delete)
            )
            found = action.relevance = (matters, frozenset(f for f in action.add if self.keep(f)))
        return found

    # ----------------------------------------------------------------- what a precondition reads

    def _collect_all(self, nodes, binding, types, polarity, depth) -> tuple[bool | None, list]:
        return self._combine("and", [self._collect(n, binding, types, polarity, depth) for n in nodes])

    def _collect(self, node, binding, types, polarity, depth) -> tuple[bool | None, list]:
        """(True/False when the statics decide the formula for every value of its open variables,
        else None; the needed (polarity, pattern) pairs it reads)."""
        self._left -= 1
        if self._left < 0:
            raise _TooBig
        ground, kind = self.ground, node.kind
        if kind == "atom" and node.derived:
            if depth >= _MAX_DERIVED_DEPTH:  # as in the search: deeper, a derived atom never holds
                return False, []
            return self._collect(ground.expand(node), binding, types, polarity, depth + 1)
        if kind == "atom" and not node.static:
            values = tuple(binding.get(t) if t[:1] == "?" else t for t in node.terms)
            if None not in values and not ground.possible((node.pred, *values)):
                return False, []
            return None, [(polarity, (node.pred, *values))]
        if kind in ("atom", "eq"):
            return ground.static_status(node, binding, types), []
        if kind == "not":
            status, needs = self._collect(node.children[0], binding, types, not polarity, depth)
            return (None if status is None else not status), needs
        if kind == "exists":
            lists = [self._candidates(node, v, ground.typed(ground.var_types(v, types)), binding) for v in node.own]
            count = 1
            for values in lists:
                count *= len(values)
            if count > EXISTS_LIMIT:  # read as any value: coarser, still complete
                status, needs = self._collect(node.children[0], binding, types, polarity, depth)
                return (False if status is False else None), needs
            return self._combine(
                "or",
                [
                    self._collect(node.children[0], {**binding, **dict(zip(node.own, combo))}, types, polarity, depth)
                    for combo in itertools.product(*lists)
                ],
            )
        return self._combine(kind, [self._collect(c, binding, types, polarity, depth) for c in node.children])

    def _candidates(self, node, var: str, values: list, binding: dict) -> list:
        """The values of an `exists` variable its static conditions allow: `(objecttype ?o eggtype)` in
        the conjunction under it (or under an `exists` nested in it) leaves the eggs. So does a fluent
        condition that can never hold for a witness (`(in ?m ?f)` with ?m a book: only receptacles
        hold things): without it, each furniture × item pair of ALFRED's `reach` was walked, and a
        100-step reference passed RELEVANCE_BUDGET. Only conditions every witness must meet narrow
        it, so the analysis stays complete; it may then enumerate the witnesses instead of reading the
        variable as any value (EXISTS_LIMIT)."""
        ground = self.ground
        statics = ground.scene.statics
        for atom in _necessary_atoms(node.children[0]):
            if atom.derived or var not in atom.terms:
                continue
            terms = [binding.get(t, t) for t in atom.terms]
            if any(t[:1] == "?" and t != var for t in terms):
                continue
            holds = statics.__contains__ if atom.static else ground.possible
            values = [v for v in values if holds((atom.pred, *(v if t == var else t for t in terms)))]
        return values

    @staticmethod
    def _combine(kind: str, results: list) -> tuple[bool | None, list]:
        decisive = kind == "or"  # True decides an `or`, False an `and`
        if any(status is decisive for status, _ in results):
            return decisive, []
        open_ = [needs for status, needs in results if status is None]
        if not open_:
            return (not decisive), []
        return None, [pair for needs in open_ for pair in needs]


def _necessary_atoms(node):
    """The atoms a formula holds only if they hold: itself, or the members of its conjunctions and of
    the bodies of its `exists` (not under a `not` or an `or`)."""
    if node.kind == "atom":
        yield node
    elif node.kind in ("and", "exists"):
        for child in node.children:
            yield from _necessary_atoms(child)
