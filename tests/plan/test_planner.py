"""The exact planner: optimal plans, optimal lengths and cost-to-go, checked by hand."""

from harp.plan import GuideScene, cost_to_go, optimal_length, optimal_plan, simulate


def test_one_object(npp, two_tables):
    assert optimal_plan(two_tables, npp) == [
        "Navigate(White Table)",
        "Pick(Apple)",
        "Navigate(Basket)",
        "Place(Basket)",
    ]
    assert optimal_length(two_tables, npp) == 4


def test_cost_to_go_along_the_optimal_plan_counts_down(npp, two_tables):
    trace = simulate(optimal_plan(two_tables, npp), two_tables, npp)
    assert cost_to_go(two_tables.initial, two_tables, npp) == 4
    assert [cost_to_go(r.state, two_tables, npp) for r in trace.steps] == [3, 2, 1, 0]


def test_holding_a_distractor_costs_extra_steps(npp, two_tables):
    # The robot holds the cup (not in the goal) at the red table: put it down, then the usual 4 steps.
    trace = simulate("Navigate(Red Table), Pick(Cup)", two_tables, npp)
    assert cost_to_go(trace.final_state, two_tables, npp) == 5


def test_two_objects(npp):
    scene = GuideScene.from_dict(
        {
            "robot": "start",
            "locations": ["table", "shelf", "box"],
            "objects": {"apple": "table", "pear": "shelf", "ball": "box"},
            "goal": {"apple": "box", "pear": "box"},
        }
    )
    plan = optimal_plan(scene, npp)
    assert len(plan) == 8 and optimal_length(scene, npp) == 8
    assert simulate(plan, scene, npp).completed


def test_goal_already_met_and_unreachable_goal(npp):
    done = GuideScene.from_dict({"locations": ["box"], "objects": {"apple": "box"}, "goal": {"apple": "box"}})
    assert optimal_plan(done, npp) == [] and optimal_length(done, npp) == 0
    # The apple starts at "start", where the robot can never return: no plan exists.
    stuck = GuideScene("start", ["box"], {"apple": "box"}, {"apple": "box"}, {"box": False}, {"box": True})
    assert optimal_length(stuck, npp) is None and optimal_plan(stuck, npp) is None


def test_drawer_task(drawers, drawer_scene):
    plan = optimal_plan(drawer_scene, drawers)
    assert plan == [
        "Navigate(Drawer)",
        "Open(Drawer)",
        "Pick(Spoon)",
        "Close(Drawer)",
        "Navigate(Table)",
        "Place(Table)",
    ]
    assert simulate(plan, drawer_scene, drawers).completed


def test_put_into_a_closed_drawer(drawers):
    scene = GuideScene.from_dict(
        {
            "locations": ["table"],
            "objects": {"apple": "table"},
            "openable": {"drawer": False},
            "goal": {"apple": "drawer"},
        }
    )
    assert optimal_plan(scene, drawers) == [
        "Navigate(Table)",
        "Pick(Apple)",
        "Navigate(Drawer)",
        "Open(Drawer)",
        "Place(Drawer)",
    ]


def test_a_fifty_object_scene_is_scored_within_the_search_budget(npp):
    # Issue 11: 5+ goal objects made the exact search grow without bound. Now it stops at the
    # budget; V is the greedy plan's length and H-PRM takes the reference's length as the optimum.
    from harp.plan.planner import STATE_BUDGET, search
    from harp.rewards.hprm import HPRM

    tables = [f"table {i}" for i in range(10)]
    objects = {f"thing {i}": tables[i % 10] for i in range(50)}
    goal = {obj: tables[(i + 3) % 10] for i, obj in enumerate(objects)}
    scene = GuideScene.from_dict({"robot": "start", "locations": tables, "objects": objects, "goal": goal})
    reference = []
    for obj, target in goal.items():
        reference += [f"Navigate({objects[obj]})", f"Pick({obj})", f"Navigate({target})", f"Place({target})"]
    graph = search(scene, npp)
    assert not graph.exact and len(graph.edges) <= STATE_BUDGET and optimal_length(scene, npp) is None
    trace = simulate(reference, scene, npp)
    values = [value for value, _ in graph.trace_values([r.state for r in trace.steps])]  # as H-PRM reads them
    assert trace.completed and values[-1] == 0 and values == sorted(values, reverse=True)
    hprm = HPRM(npp)
    assert hprm.score(reference, {"plan": reference, "scene": scene.to_dict()}).error_type is None
    longer = reference[:2] + ["Navigate(Table 9)"] + reference[2:]
    assert hprm.score(longer, {"plan": reference, "scene": scene.to_dict()}).error_type == "inefficient"


def test_the_search_cache_is_bounded_by_the_states_it_holds(npp, monkeypatch):
    from harp.plan import planner

    planner.search.cache_clear()
    monkeypatch.setattr(planner, "CACHED_STATES", 60)
    scenes = [
        GuideScene.from_dict(
            {"locations": ["table", f"box {i}"], "objects": {"apple": "table"}, "goal": {"apple": f"box {i}"}}
        )
        for i in range(20)
    ]
    for scene in scenes:
        planner.search(scene, npp)
    assert 1 < len(planner._cache) < 20 and planner._total[0] <= 60
    assert (scenes[-1], npp) in planner._cache and (scenes[0], npp) not in planner._cache
    planner.search.cache_clear()
