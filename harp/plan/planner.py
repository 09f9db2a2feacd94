"""Exact planning within a budget: optimal plans and the cost-to-go V(s) of any state.

Every action costs 1, so breadth-first search is uniform-cost search. Per (scene, domain) we
explore the state graph once from the initial state, then run one backward BFS from all goal
states, which gives V(s) for every reachable state at once; H-PRM then reads V along a trace with
dictionary look-ups. A state outside the explored graph (a candidate picked up a distractor)
extends the graph on demand. Searches are cached per scene (scenes are hashable).

The guide's domains (harp/plan/domain.py): we drop objects the goal does not mention from the
searched state unless they are in the hand. Their vocabulary couples objects only through the
hand, so an object lying around that the goal does not mention never changes what else can be
done, and an optimal plan never touches it. Fact domains (PDDL, harp/plan/facts.py) search the
full fact state over the scene's ground actions.

The budget (issue 11): the state graph grows exponentially with the number of goal objects (5
objects among 10 places is ~10^7 states). A search that would hold more than `STATE_BUDGET`
states stops and the scene's search becomes *inexact*: `exact` is False, `optimal_length` is None
(callers that know a valid complete plan, such as H-PRM with its reference, use that plan's
length instead), and V(s) is estimated as the number of goal facts `s` does not meet, a lower
bound that still counts progress. So every scene is scored in bounded time and memory, and the
teacher's check rejects a plan whose optimum cannot be certified.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from typing import Optional

from harp.plan.facts import ROBOT, FactState, no_cyclic_gc
from harp.plan.names import display_name

STATE_BUDGET = 20_000  # states per scene; ~0.1-0.5 s of search in the worst case on one core


class SearchBudgetExceeded(Exception):
    pass


class _Search:
    """The explored state graph of one scene and V(s) on it; get one with `search(scene, domain)`."""

    def __init__(self, scene, domain, budget: int = STATE_BUDGET):
        self.scene = scene
        self.domain = domain
        self.budget = budget
        self.exact = True
        self.edges: dict = {}  # state -> [(action, arg, next state)]
        self.dist: dict = {}  # V(s); states absent from it cannot reach the goal
        self._values: dict = {}  # V by unprojected state: one look-up per query
        self.start = self.project(scene.initial)
        self.extend(self.start)

    def project(self, state):
        return state

    def successors(self, state) -> list:
        raise NotImplementedError

    def estimate(self, state) -> int:
        met, total = self.scene.goal_facts_met(state)
        return total - met

    def extend(self, root) -> None:
        """Explore everything reachable from `root`, then recompute V on the whole graph."""
        if not self.exact or root in self.edges:
            return
        with no_cyclic_gc():
            self._explore(root)

    def _explore(self, root) -> None:
        queue = deque([root])
        self.edges[root] = []
        while queue:
            state = queue.popleft()
            succ = self.successors(state)
            self.edges[state] = succ
            for _, _, after in succ:
                if after not in self.edges:
                    if len(self.edges) >= self.budget:
                        self._give_up()
                        return
                    self.edges[after] = []
                    queue.append(after)
        predecessors: dict = {}
        for state, succ in self.edges.items():
            for _, _, after in succ:
                predecessors.setdefault(after, []).append(state)
        dist = {s: 0 for s in self.edges if self.scene.satisfied(s)}
        queue = deque(dist)
        while queue:
            state = queue.popleft()
            for before in predecessors.get(state, ()):
                if before not in dist:
                    dist[before] = dist[state] + 1
                    queue.append(before)
        self.dist = dist
        self._values = {}

    def _give_up(self) -> None:
        self.exact = False
        self.edges, self.dist, self._values = {}, {}, {}  # free the memory; V is estimated from now on

    @property
    def optimal_length(self) -> Optional[int]:
        return self.dist.get(self.start) if self.exact else None

    def cost_to_go(self, state) -> Optional[int]:
        try:
            return self._values[state]
        except KeyError:
            pass
        if not self.exact:
            value = self._values[state] = self.estimate(state)
            return value
        projected = self.project(state)
        if projected not in self.edges:
            self.extend(projected)
            if not self.exact:
                return self.cost_to_go(state)
        value = self._values[state] = self.dist.get(projected)
        return value


class Search(_Search):
    """The guide's domains: specialised State, goal-irrelevant objects projected away."""

    def __init__(self, scene, domain, budget: int = STATE_BUDGET):
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


class FactSearch(_Search):
    """Fact domains: states are sets of facts, successors come from the scene's ground actions."""

    def __init__(self, scene, domain, budget: int = STATE_BUDGET):
        from harp.plan.facts import grounding

        self.ground = grounding(scene, domain.spec)
        self.actions, self.keep = relevant(self.ground.all, scene)
        self.trigger, self.pair_trigger, self.untriggered = self.ground.index(self.actions)
        super().__init__(scene, domain, budget)

    def project(self, state):
        return state if state <= self.keep else FactState(state & self.keep)

    def successors(self, state) -> list:
        outcomes: dict = {}
        robot = next((f for f in state if f[0] == ROBOT), None)
        candidates = list(self.untriggered)
        for fact in state:
            candidates.extend(self.trigger.get(fact, ()))
            if robot is not None:
                candidates.extend(self.pair_trigger.get((fact, robot), ()))
        for action in candidates:  # each ground action is filed once: no duplicates
            if action.applicable(state):
                key = action.order
                after = self.project(action.apply(state))
                known = outcomes.get(key)
                if known is None:
                    outcomes[key] = [action.word, action.written, after]
                elif known[2] != after:
                    known[2] = None  # several outcomes: an ambiguous step, which the simulator rejects
        return [tuple(outcomes[key]) for key in sorted(outcomes)
                if outcomes[key][2] is not None and outcomes[key][2] != state]


def relevant(actions: list, scene) -> tuple[list, frozenset]:
    """The ground actions that can matter for the goal, and the facts they read or the goal needs.

    Backward relevance: an action matters when it adds a needed fact or deletes one that must be
    false; its preconditions are then needed too. Dropping the others keeps every optimal plan (an
    action that touches no needed fact can be cut from any plan without breaking it), from any state,
    and facts nothing needs can be projected away (heating the knife changes nothing that counts).
    """
    need_true, need_false = set(scene.goal_true), set(scene.goal_false)
    chosen: dict = {}
    changed = True
    while changed:
        changed = False
        for action in actions:
            if id(action) in chosen or not (action.add & need_true or action.delete & need_false):
                continue
            chosen[id(action)] = action
            changed = True
            need_true |= action.pos
            need_false |= action.neg
            for formula in action.rest:
                _atoms(formula, need_true, need_false)
    kept = [a for a in actions if id(a) in chosen]
    return kept, frozenset(need_true | need_false)


def _atoms(formula, positive: set, negative: set) -> None:
    if isinstance(formula, list):  # alternatives: [(positive facts, negative facts), ...]
        for pos, neg in formula:
            positive |= pos
            negative |= neg
        return
    if formula is True or formula is False:
        return
    if formula[0] == "atom":
        positive.add(formula[1])
        negative.add(formula[1])  # conservative: inside a formula its polarity may flip
    elif formula[0] == "not":
        _atoms(formula[1], positive, negative)
    else:
        for child in formula[1]:
            _atoms(child, positive, negative)


CACHED_STATES = 400_000  # states kept across all cached searches (~0.3 GB): memory stays bounded too
_cache: "OrderedDict[tuple, _Search]" = OrderedDict()


def search(scene, domain) -> _Search:
    """The explored graph of a scene with V(s) (cached per scene): `.cost_to_go(state)`, `.optimal_length`.

    The cache is least-recently-used and bounded by the states it holds, not by a count of scenes:
    4,096 scenes of 20,000 states each would be gigabytes.
    """
    key = (scene, domain)
    graph = _cache.get(key)
    if graph is not None:
        _cache.move_to_end(key)
        return graph
    with no_cyclic_gc():
        graph = FactSearch(scene, domain) if getattr(domain, "kind", None) == "facts" else Search(scene, domain)
    _cache[key] = graph
    _sizes[key] = len(graph.edges) + 1  # states at creation; later extensions are few
    _total[0] += _sizes[key]
    while _total[0] > CACHED_STATES and len(_cache) > 1:
        old, _ = _cache.popitem(last=False)
        _total[0] -= _sizes.pop(old)
    return graph


def _clear() -> None:
    _cache.clear()
    _sizes.clear()
    _total[0] = 0


_sizes: dict = {}
_total = [0]
search.cache_clear = _clear  # as functools' caches have it


def cost_to_go(state, scene, domain) -> Optional[int]:
    """V(s): the fewest steps from `state` to the goal; None when the goal cannot be reached."""
    return search(scene, domain).cost_to_go(state)


def optimal_length(scene, domain) -> Optional[int]:
    """Length of an optimal plan; None when the goal cannot be reached or the search ran out of budget."""
    return search(scene, domain).optimal_length


def optimal_plan(scene, domain) -> Optional[list[str]]:
    """An optimal plan as step strings (`["Navigate(White Table)", ...]`); None when unknown.

    Ties break by the domain's action order, then the scene's entity order, so it is deterministic.
    """
    graph = search(scene, domain)
    state = graph.start
    remaining = graph.optimal_length
    if remaining is None:
        return None
    plan = []
    while remaining > 0:
        for name, arg, after in graph.edges[state]:
            if graph.dist.get(after) == remaining - 1:
                plan.append(f"{name}({display_name(arg)})")
                state, remaining = after, remaining - 1
                break
        else:  # cannot happen: V is computed on this very graph
            raise RuntimeError("planner graph is inconsistent")
    return plan
