"""Issue 23, item 3: past the planner's budget H-PRM says so and claims nothing it cannot prove
(no optimum, no wasted step), and a scene whose full state graph is past the budget but whose
optimal plan is short is solved exactly."""

import json

import pytest

from harp.cli import main
from harp.plan import load_domain, optimal_length, optimal_plan, simulate
from harp.plan.facts import grounding
from harp.plan.planner import search
from harp.rewards.hprm import HPRM


@pytest.fixture(scope="module")
def alfred():
    return load_domain("alfred")


def tables(alfred, apples: int, goal: list, receptacles: tuple = ()):
    """The robot at the start, ten tables, `apples` loose apples (apple, apple 2, ...) on tables 1, 2, ..."""
    names = ["apple"] + [f"apple {i}" for i in range(2, apples + 1)]
    entities = {"start": "spot", **{f"table {i}": "furniture" for i in range(1, 11)}, **{a: "item" for a in names}}
    init = [["robot-at", "start"], ["hand-empty"]] + [["receptacle", f"table {i}"] for i in range(1, 11)]
    init += [["pickable", a] for a in names] + [["in", a, f"table {i}"] for i, a in enumerate(names, 1)]
    for name in receptacles:  # an item that holds others: a pot on table 10
        entities[name] = "item"
        init += [["receptacle", name], ["pickable", name], ["in", name, "table 10"]]
    return alfred.scene_from_dict({"entities": entities, "init": init, "goal": goal})


LONG = (
    "Navigate(Table 2), Navigate(Table 1), Pick(Apple), Navigate(Table 3), Place(Table 3), Pick(Apple), "
    "Navigate(Table 6), Place(Table 6)"
)
SHORT = "Navigate(Table 1), Pick(Apple), Navigate(Table 6), Place(Table 6)"


def test_ten_tables_and_four_apples_are_solved_exactly(alfred):
    # The full graph (four apples among ten tables) has 140,000 states; the optimum is 4 steps away.
    scene = tables(alfred, 4, [["in", "apple", "table 6"]])
    assert search(scene, alfred).exact and optimal_length(scene, alfred) == 4
    assert optimal_plan(scene, alfred) == SHORT.split(", ")
    hprm = HPRM(alfred)
    long = hprm.score(LONG, {"plan": [], "scene": scene.to_dict()})
    assert long.error_type == "inefficient" and long.total < 1.0 and long.optimal_length == 4 and long.exact
    # the detour is wasted or harmful; the steps that are needed are not
    assert long.step_scores == [-1.0, 0.0, 0.0, -1.0, -2.0, 0.0, 0.0, 0.0]
    short = hprm.score(SHORT, {"plan": [], "scene": scene.to_dict()})
    assert short.error_type is None and short.step_scores == [0.0] * 4 and short.exact and short.note is None


def test_a_fact_no_action_can_add_never_holds(alfred):
    ground = grounding(tables(alfred, 2, [["in", "apple", "table 6"]], receptacles=("pot",)), alfred.spec)
    assert not ground.possible(("in", "apple", "apple 2"))  # only `place` adds `in`, and into a receptacle
    assert ground.possible(("in", "apple", "pot")) and ground.possible(("in", "apple", "table 6"))
    assert not ground.possible(("in", "table 1", "table 2"))  # ill-typed


FIVE = [
    ["in", "apple", "table 6"],
    ["in", "apple 2", "table 7"],
    ["in", "apple 3", "table 8"],
    ["in", "apple 4", "table 9"],
    ["in", "apple 5", "table 10"],
]
REFERENCE = [
    step
    for i, a in enumerate(["Apple", "Apple 2", "Apple 3", "Apple 4", "Apple 5"], 1)
    for step in (f"Navigate(Table {i})", f"Pick({a})", f"Navigate(Table {i + 5})", f"Place(Table {i + 5})")
]


def test_past_the_budget_the_result_says_so_and_claims_nothing(alfred):
    # Five apples to move: neither the full graph nor a search from the start fits the budget.
    scene = tables(alfred, 5, FIVE)
    graph = search(scene, alfred)
    assert not graph.exact and graph.optimal_length is None and optimal_plan(scene, alfred) is None
    hprm = HPRM(alfred)
    record = {"plan": [], "scene": scene.to_dict()}
    result = hprm.score(REFERENCE, record)
    assert not result.exact and result.optimal_length is None and "\n" not in result.note
    assert result.note.startswith("search budget exceeded: more than 20,000 states: the optimum is not certified")
    # the needed steps leave the estimate (unmet goal facts) unchanged: they must not be called wasted
    assert result.step_scores == [0.0] * 20 and result.error_type is None
    # a step that changes nothing is wasted whatever V is
    idle = REFERENCE[:1] + ["Navigate(Table 1)"] + REFERENCE[1:]
    assert hprm.score(idle, record).step_scores[:3] == [0.0, -1.0, 0.0]
    # efficiency is judged only against a plan known to work: the reference's 20 steps
    longer = hprm.score(idle, {**record, "plan": REFERENCE})
    assert longer.error_type == "inefficient" and longer.known_length == 20 and longer.optimal_length is None
    assert "a known 20-step plan" in longer.note
    data = longer.to_dict()
    assert data["exact"] is False and data["optimal_length"] is None and data["note"] == longer.note


def test_a_score_past_the_budget_does_not_depend_on_what_was_scored_before(alfred, monkeypatch):
    # Per-state searches in the ten-tables scene take 11 to 217 states; with 300 for a whole trace,
    # the detour's third state is past it. A value found earlier with a bigger budget must not count.
    from harp.plan import planner

    monkeypatch.setattr(planner, "TRACE_BUDGET", 300)
    scene = tables(alfred, 4, [["in", "apple", "table 6"]])
    record = {"plan": [], "scene": scene.to_dict()}
    detour = "Navigate(Table 2), Pick(Apple 2), Navigate(Table 3), Place(Table 3), " + SHORT
    search.cache_clear()
    alone = HPRM(alfred).score(detour, record)
    assert alone.step_scores[:2] == [-1.0, 0.0] and not alone.exact  # wasted (exact V), then not judged
    graph = search(scene, alfred)
    assert graph.value(simulate(detour, scene, alfred).steps[1].state) == (5, True, 217)  # a full budget settles it
    search.cache_clear()
    graph = search(scene, alfred)
    for result in simulate(detour, scene, alfred).steps:
        graph.value(result.state)  # every state exact, found with the full budget
    hprm = HPRM(alfred)
    hprm.score(LONG, record)
    assert hprm.score(detour, record).to_dict() == alone.to_dict()


def test_harp_score_reports_the_budget(alfred, capsys, tmp_path):
    scene = tmp_path / "scene.json"
    scene.write_text(json.dumps(tables(alfred, 5, FIVE).to_dict()))
    assert main(["score", "--domain", "alfred", "--scene", str(scene), "--plan", ", ".join(REFERENCE)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["exact"] is False and result["optimal_length"] is None and "budget" in result["note"]
    assert {step["score"] for step in result["steps"]} == {0.0}


def test_a_reference_plan_is_scored_as_before_where_the_search_is_exact(alfred):
    plan = ["Navigate(Table 1)", "Pick(Apple)", "Navigate(Table 6)", "Place(Table 6)"]
    result = HPRM(alfred).score(plan, {"plan": plan})
    assert result.exact and result.note is None and result.optimal_length == result.known_length == 4
    assert simulate(plan, alfred.infer_scene(plan), alfred).completed
