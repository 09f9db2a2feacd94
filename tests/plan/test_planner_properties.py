"""The planner against a plain breadth-first search with no pruning, on random small scenes.

The planner drops goal-irrelevant objects from its search state (harp/plan/planner.py); these
properties check that this changes no cost-to-go, in both shipped domains, including states where
a distractor is in the hand.
"""

from collections import deque

from hypothesis import given, settings
from hypothesis import strategies as st

from harp.plan import GuideScene, cost_to_go, infer_scene, load_domain, optimal_length, optimal_plan, simulate

NPP, DRAWERS = load_domain("navigate_pick_place"), load_domain("drawers")


def successors(state, scene, domain):
    for name, spec in domain.actions.items():
        for arg in scene.entities(spec.argument_kind):
            if domain.check(name, arg, state, scene) is None:
                yield domain.apply(name, arg, state)


def plain_bfs(state, scene, domain):
    """Fewest steps to the goal from `state`, searching the full state; None when unreachable."""
    seen, queue = {state: 0}, deque([state])
    while queue:
        current = queue.popleft()
        if scene.satisfied(current):
            return seen[current]
        for after in successors(current, scene, domain):
            if after not in seen:
                seen[after] = seen[current] + 1
                queue.append(after)
    return None


@st.composite
def scenes(draw):
    places = ["table", "shelf", "box", "bin"]
    drawers = draw(st.sampled_from([[], ["drawer"]]))
    locations = draw(st.lists(st.sampled_from(places), min_size=1, max_size=3, unique=True))
    spots = locations + drawers
    objects = draw(
        st.dictionaries(st.sampled_from(["apple", "cup", "pear"]), st.sampled_from(spots), min_size=1, max_size=3)
    )
    goal_objects = draw(st.lists(st.sampled_from(sorted(objects)), min_size=1, max_size=2, unique=True))
    goal = {obj: draw(st.sampled_from(spots)) for obj in goal_objects}
    openable = {d: draw(st.booleans()) for d in drawers}
    goal_open = {d: False for d in drawers if draw(st.booleans())}
    return GuideScene("start", locations, objects, goal, openable, goal_open)


@settings(max_examples=60, deadline=None)
@given(scenes(), st.lists(st.integers(0, 50), max_size=6))
def test_pruned_search_agrees_with_plain_bfs(scene, walk):
    domain = DRAWERS if scene.openable else NPP
    assert optimal_length(scene, domain) == plain_bfs(scene.initial, scene, domain)
    # A random walk (distractors may end up in the hand): V agrees at every state on the way.
    state = scene.initial
    for choice in walk:
        options = list(successors(state, scene, domain))
        if not options:
            break
        state = options[choice % len(options)]
        assert cost_to_go(state, scene, domain) == plain_bfs(state, scene, domain)


@settings(max_examples=60, deadline=None)
@given(scenes())
def test_the_optimal_plan_completes_and_counts_down(scene):
    domain = DRAWERS if scene.openable else NPP
    plan = optimal_plan(scene, domain)
    if plan is None:
        assert optimal_length(scene, domain) is None
        return
    trace = simulate(plan, scene, domain)
    assert trace.completed and len(plan) == optimal_length(scene, domain)
    assert [cost_to_go(r.state, scene, domain) for r in trace.steps] == list(range(len(plan) - 1, -1, -1))


@settings(max_examples=60, deadline=None)
@given(scenes())
def test_a_scene_inferred_from_an_optimal_plan_lets_that_plan_complete(scene):
    # Teacher records have no scene: the one inferred from their plan must make that plan a
    # completed one, and no longer than needed (H-PRM would call it inefficient otherwise).
    domain = DRAWERS if scene.openable else NPP
    plan = optimal_plan(scene, domain)
    if not plan:
        return
    inferred = infer_scene(plan, domain)
    assert simulate(plan, inferred, domain).completed
    assert optimal_length(inferred, domain) == len(plan)
