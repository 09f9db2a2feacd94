"""Refusals in H-PRM: `Infeasible(X)` is the answer where a task cannot be done, and ranks below every
plan valid so far where it can; a plan naming what the scene lacks is a hallucination."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harp.errors import DataError
from harp.plan import load_domain
from harp.plan.refusal import refusal_step, refusal_text
from harp.rewards.hprm import HPRM, RewardWeights

PRESENT = {"robot": "start", "locations": ["table", "red table", "box"], "objects": {"cup": "red table"}}
# "Put the apple into the box": no apple in the picture.
NO_APPLE = {"task": "Put the apple into the box", "plan": [], "scene": {**PRESENT, "goal": {}, "missing": ["apple"]}}
# "Put the cup into the basket": the cup is there, the basket is not.
NO_BASKET = {"task": "Put the cup into the basket", "plan": [], "scene": {**PRESENT, "goal": {}, "missing": ["basket"]}}
FEASIBLE = {"task": "Put the cup into the box", "plan": [], "scene": {**PRESENT, "goal": {"cup": "box"}}}
# A goal no plan satisfies: the drawer cannot be opened (no Open in reach) is not expressible, so use
# an object that must be in two places at once through goal_holding.
UNREACHABLE = {
    "task": "Hold the cup with the cup in the box",
    "plan": [],
    "scene": {**PRESENT, "goal": {"cup": "box"}, "goal_holding": "cup"},
}

PLANS = [
    "Navigate(Red Table), Pick(Cup), Navigate(Box), Place(Box)",
    "Navigate(Table), Pick(Apple), Navigate(Box), Place(Box)",
    "Navigate(Red Table), Pick(Cup), Navigate(Basket), Place(Basket)",
    "Navigate(Red Table), Pick(Cup)",
    "Navigate(Box), Navigate(Red Table), Pick(Cup), Navigate(Box), Place(Box)",
    "Pick(Cup), Navigate(Box), Place(Box)",
    "Grab(Cup)",
    "Navigate(Red Table) Pick(Cup)",
    "Navigate(Red Table), Infeasible(Apple)",
    "Infeasible(Apple)",
    "Infeasible(Basket)",
    "Infeasible(Cup)",
    "Infeasible(Apple).",
    "",
]
HPRM_GUIDE = HPRM()


def test_the_refusal_naming_what_is_missing_is_the_optimal_answer():
    for example, missing in ((NO_APPLE, "Apple"), (NO_BASKET, "Basket")):
        b = HPRM_GUIDE.score(f"Infeasible({missing})", example)
        assert (b.total, b.error_type, b.completed, b.refused, b.infeasible) == (1.0, None, True, True, True)
        assert b.step_scores == [0.0] and b.step_reasons == [None]


def test_a_refusal_naming_what_the_scene_has_fails_the_task_level_but_beats_any_plan():
    wrong = HPRM_GUIDE.score("Infeasible(Cup)", NO_BASKET)
    assert wrong.error_type == "task" and not wrong.completed and "scene has it" in wrong.step_reasons[0]
    assert wrong.components() == {"format": 1, "action": 1, "transition": 1, "task": 0.0, "efficiency": -1}
    best_plan = max(HPRM_GUIDE.score(p, NO_BASKET).total for p in PLANS if not p.startswith("Infeasible"))
    assert best_plan < wrong.total < 1.0


def test_as_a_step_a_refusal_naming_the_wrong_thing_is_no_worse_than_any_step_of_a_plan():
    """FTCA credits steps by their step score: a refusal that names the wrong thing (it holds, and gains
    nothing) scores as a wasted step, never below a step of a plan for the same impossible task (at -3,
    FTCA credited the valid first steps of hallucinating plans above a sampled refusal)."""
    wrong = HPRM_GUIDE.score("Infeasible(Cup)", NO_BASKET)
    assert wrong.step_scores == [-1.0]
    for plan in PLANS:
        b = HPRM_GUIDE.score(plan, NO_BASKET)
        if not b.refused:
            assert all(score <= wrong.step_scores[0] for score in b.step_scores), plan
    assert HPRM_GUIDE.score("Infeasible(Cup)", FEASIBLE).step_scores == [-3.0]  # where it can be done: invalid


def test_a_plan_for_a_task_that_cannot_be_done_never_completes():
    # Every step holds and the (empty) remaining goal is met, but the apple does not exist.
    b = HPRM_GUIDE.score("Navigate(Red Table), Pick(Cup), Navigate(Box), Place(Box)", NO_APPLE)
    assert (b.error_type, b.completed, b.infeasible, b.task) == ("task", False, True, -1.0)


@pytest.mark.parametrize("answer", ["", "Navigate", "Pick)"])
def test_whether_a_task_can_be_done_does_not_depend_on_the_answer(answer):
    # An answer with no step once left `infeasible` False, so evaluation counted an impossible task
    # among the feasible ones (refusal recall's denominator changed with the model).
    assert HPRM_GUIDE.score(answer, NO_APPLE).infeasible
    assert not HPRM_GUIDE.score(answer, FEASIBLE).infeasible


def test_a_plan_naming_an_entity_the_scene_lacks_is_a_hallucination():
    b = HPRM_GUIDE.score("Navigate(Table), Pick(Apple), Navigate(Box), Place(Box)", NO_APPLE)
    assert b.error_type == "hallucination" and b.action < 1
    # the wrong kind of an entity the scene has is an ordinary action error
    assert HPRM_GUIDE.score("Navigate(Red Table), Pick(Box)", FEASIBLE).error_type == "action"
    # an unknown verb is an action error, whatever it names
    assert HPRM_GUIDE.score("Grab(Apple)", NO_APPLE).error_type == "action"


def test_where_the_task_can_be_done_a_refusal_ranks_below_every_plan_valid_so_far():
    refusal = HPRM_GUIDE.score("Infeasible(Cup)", FEASIBLE)
    assert (refusal.error_type, refusal.refused, refusal.infeasible) == ("refusal", True, False)
    assert "4-step plan" in refusal.step_reasons[0]
    for plan in PLANS:
        b = HPRM_GUIDE.score(plan, FEASIBLE)
        if b.error_type in (None, "task", "inefficient"):
            assert b.total > refusal.total, plan
        if b.error_type in ("format", "action", "hallucination"):
            assert b.total <= refusal.total, plan


def test_a_goal_an_exact_search_proves_unreachable_makes_any_refusal_right():
    assert HPRM_GUIDE.score("Infeasible(Cup)", UNREACHABLE).total == 1.0
    plan = HPRM_GUIDE.score("Navigate(Red Table), Pick(Cup), Navigate(Box), Place(Box)", UNREACHABLE)
    assert plan.infeasible and not plan.completed


def test_a_refusal_among_other_steps_is_no_action_and_a_malformed_one_a_format_error():
    b = HPRM_GUIDE.score("Navigate(Red Table), Infeasible(Apple)", NO_APPLE)
    assert b.error_type == "action" and not b.refused
    malformed = HPRM_GUIDE.score("Infeasible(Apple).", NO_APPLE)
    assert malformed.error_type == "format" and malformed.refused and malformed.total < 1.0
    assert refusal_step("Infeasible(Apple), Infeasible(Box)") is None
    assert refusal_step("infeasible( the apple )").argument == "the apple"
    assert refusal_text("red apple") == "Infeasible(Red Apple)"


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([NO_APPLE, NO_BASKET, FEASIBLE, UNREACHABLE]),
    st.lists(st.sampled_from(PLANS), min_size=2, max_size=2),
    st.tuples(*[st.floats(0.01, 1.0)] * 5),
)
def test_the_order_stays_total_with_refusals_for_any_weights(example, pair, weights):
    hprm = HPRM(weights=RewardWeights(*weights))
    a, b = (hprm.score(p, example) for p in pair)
    for x in (a, b):
        assert -1.0 <= x.total <= 1.0
        assert (x.total == 1.0) == (x.error_type is None)
        # where the task cannot be done only a refusal completes it; where it can, no refusal does
        assert not x.completed or (x.refused == x.infeasible)
    if a.infeasible and a.refused and a.error_type is None:
        assert a.total >= b.total
    if not a.infeasible and a.refused and b.error_type in (None, "task", "inefficient"):
        assert a.total < b.total


def test_scene_json_missing_round_trips_and_may_not_name_what_is_there():
    guide = load_domain("navigate_pick_place")
    scene = guide.scene_from_dict(NO_APPLE["scene"])
    assert scene.missing == ("apple",) and guide.scene_from_dict(scene.to_dict()) == scene
    assert scene != guide.scene_from_dict({**NO_APPLE["scene"], "missing": []})
    with pytest.raises(DataError, match=r"scene.missing: 'cup' is in the scene"):
        guide.scene_from_dict({**NO_APPLE["scene"], "missing": ["Cup"]})
    with pytest.raises(DataError, match=r"scene.missing: expected a list of names"):
        guide.scene_from_dict({**NO_APPLE["scene"], "missing": "apple"})


def test_the_fact_engine_knows_refusals_too():
    alfred = load_domain("alfred")
    heat = ["Navigate(CounterTop)", "Pick(Knife)", "Navigate(Apple)", "Slice(Apple)"]
    data = {**alfred.infer_scene(heat).to_dict(), "missing": ["laptop"]}
    scene = alfred.scene_from_dict(data)
    assert scene.missing == ("laptop",) and alfred.scene_from_dict(scene.to_dict()) == scene
    example = {"task": "Slice the laptop", "plan": [], "scene": data}
    hprm = HPRM("alfred")
    assert hprm.score("Infeasible(Laptop)", example).total == 1.0
    assert hprm.score("Navigate(CounterTop), Pick(Laptop)", example).error_type == "hallucination"
    assert hprm.score("Infeasible(Knife)", example).error_type == "task"  # a knife is there
    with pytest.raises(DataError, match="missing: 'knife' is in the scene"):
        alfred.scene_from_dict({**data, "missing": ["knife"]})
