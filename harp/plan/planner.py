"""Exact planning: optimal plans and the cost-to-go V(s) of any state, by breadth-first search.

Every action costs 1, so breadth-first search is uniform-cost search. Per (scene, domain) we
explore the state graph once from the initial state, then run one backward BFS from all goal
states, which gives V(s) for every reachable state at once; H-PRM then reads V along a trace with
dictionary look-ups. A state outside the explored graph (a candidate picked up a distractor)
extends the graph on demand. Searches are cached per scene (scenes are hashable).

To keep the graph small we drop objects the goal does not mention from the searched state unless
they are in the hand: with this domain vocabulary objects interact only through the hand, so an
object lying around that the goal does not mention never changes what else can be done, and an
optimal plan never touches it. This is exact for every domain built from harp/plan/domain.py's
vocabulary.
"""

from __future__ import annotations

from collections import deque
from functools import lru_cache
from typing import Optional

from harp.plan.domain import Domain
from harp.plan.names import display_name
from harp.plan.scene import Scene, State


class Search:
    """The explored state graph of one scene and V(s) on it; get one with `search(scene, domain)`."""

    def __init__(self, scene: Scene, domain: Domain):
        self.scene = scene
        self.domain = domain
        self.relevant = frozenset(scene.goal)
        self.edges: dict[State, list[tuple[str, str, State]]] = {}  # state -> (action, arg, next state)
        self.dist: dict[State, int] = {}  # V(s); states absent from it cannot reach the goal
        self._values: dict[State, Optional[int]] = {}  # V by unprojected state: one look-up per query
        self.start = self.project(scene.initial)
        self.extend(self.start)

    def project(self, state: State) -> State:
        objects = tuple(p for p in state.objects if p[0] in self.relevant)
        return state if len(objects) == len(state.objects) else state._replace(objects=objects)

    def successors(self, state: State) -> list[tuple[str, str, State]]:
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

    def extend(self, root: State) -> None:
        """Explore everything reachable from `root`, then recompute V on the whole graph."""
        if root in self.edges:
            return
        queue = deque([root])
        self.edges[root] = []
        while queue:
            state = queue.popleft()
            succ = self.successors(state)
            self.edges[state] = succ
            for _, _, after in succ:
                if after not in self.edges:
                    self.edges[after] = []
                    queue.append(after)
        predecessors: dict[State, list[State]] = {}
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
        self._values = {}  # V may only have changed for the new states, but keep it simple

    def cost_to_go(self, state: State) -> Optional[int]:
        try:
            return self._values[state]
        except KeyError:
            pass
        projected = self.project(state)
        if projected not in self.edges:
            self.extend(projected)
        value = self._values[state] = self.dist.get(projected)
        return value


@lru_cache(maxsize=4096)
def search(scene: Scene, domain: Domain) -> "Search":
    """The explored graph of a scene with V(s) (cached per scene): `.cost_to_go(state)`, `.dist`, `.start`."""
    return Search(scene, domain)


def cost_to_go(state: State, scene: Scene, domain: Domain) -> Optional[int]:
    """V(s): the fewest steps from `state` to the goal; None when the goal cannot be reached."""
    return search(scene, domain).cost_to_go(state)


def optimal_length(scene: Scene, domain: Domain) -> Optional[int]:
    """Length of an optimal plan; None when the goal cannot be reached."""
    graph = search(scene, domain)
    return graph.dist.get(graph.start)


def optimal_plan(scene: Scene, domain: Domain) -> Optional[list[str]]:
    """An optimal plan as step strings (`["Navigate(White Table)", ...]`); None when unreachable.

    Ties break by the domain's action order, then the scene's entity order, so it is deterministic.
    """
    graph = search(scene, domain)
    state = graph.start
    remaining = graph.dist.get(state)
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
