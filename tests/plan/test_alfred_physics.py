"""Expert plans that use AI2-THOR's physics, not ALFRED's shorthand (issue 25, item 3), through H-PRM
with the scene each plan implies (harp/plan/alfred.py): a fixture used from the furniture it stands on
(the counter's coffee machine, the sink basin's faucet, the burner's knob), washing, cooking, heating
and cooling by the simulator's physics, closing what was opened. Each is valid, complete and optimal;
its broken copies score lower; a plan with a real error (`Place()`) still fails."""

import json
import re
from pathlib import Path

import pytest

from harp.eval.alfred_check import not_lower_copies
from harp.plan import load_domain
from harp.rewards.hprm import HPRM

DATA = Path(__file__).parent / "data" / "alfred_physics_plans.jsonl"
RECORDS = [json.loads(line) for line in DATA.read_text().splitlines()]
EXPERTS = [r for r in RECORDS if r["meta"]["kind"] != "error"]
BY_ID = {r["id"]: r for r in RECORDS}


@pytest.fixture(scope="module")
def hprm():
    return HPRM(load_domain("alfred"))


def test_the_set_covers_each_kind_of_failure():
    kinds = {r["meta"]["kind"] for r in RECORDS}
    assert kinds == {"fixture", "physics", "tidy", "shorthand", "error"}
    steps = [step for r in RECORDS for step in r["plan"]]
    for step in ("Toggle(CoffeeMachine)", "Toggle(Faucet)", "Toggle(StoveKnob)", "Toggle(Microwave)", "Close(Fridge)"):
        assert step in steps


@pytest.mark.parametrize("record", EXPERTS, ids=[r["id"] for r in EXPERTS])
def test_each_expert_plan_is_valid_complete_and_optimal(hprm, record):
    score = hprm.score(record["plan"], record)
    assert score.error_type is None, (score.step_reasons, score.known_length)
    assert score.completed and score.plan_length == score.known_length == len(record["plan"])
    assert score.total == 1.0


@pytest.mark.parametrize("record", EXPERTS, ids=[r["id"] for r in EXPERTS])
def test_broken_copies_score_lower_unless_they_are_as_good(hprm, record):
    """Every dropped step, swap of neighbouring steps and wrong `Place` target scores lower, except a
    swap that is as good a plan (the faucet switched on before the apple is put under it)."""
    expert = hprm.score(record["plan"], record)
    count, not_lower = not_lower_copies(hprm, record, expert.total)
    for copy, score in not_lower:  # an equally good plan: it must itself be valid, complete and optimal
        assert score.error_type is None and len(copy) == len(record["plan"]), copy
    assert 1 - len(not_lower) / count >= 0.8


def scene_goal(hprm, record) -> tuple[set, set]:
    scene = hprm.scene(record)
    return set(scene.goal_true), set(scene.goal_false)


def test_the_physics_plan_s_goal_is_the_effect_so_the_shorthand_reaches_it_too(hprm):
    wash = BY_ID["physics-wash-apple-in-sinkbasin"]
    goal_true, goal_false = scene_goal(hprm, wash)
    assert goal_true == {("cleaned", "apple"), ("in", "apple", "countertop")}
    assert goal_false == {("on", "faucet")}  # switched on and off again: off at the end
    shorthand = BY_ID["shorthand-clean-apple"]["plan"]
    score = hprm.score(shorthand, wash)  # shorter than the physics, and judged in its own terms
    assert score.error_type is None and score.completed and score.total == 1.0
    # the shorthand plan's own scene is judged against the shortest plan with the shorthand
    assert hprm.score(shorthand, BY_ID["shorthand-clean-apple"]).known_length == 6


def test_without_a_faucet_only_the_shorthand_cleans_so_it_stays_the_measure(hprm):
    from harp.plan.planner import search

    record = BY_ID["shorthand-clean-apple"]  # its scene has a sink basin and no faucet
    scene, domain = hprm.scene(record), hprm.domain
    assert domain.judging_domain(scene, {"Navigate", "Pick", "Place"}) is domain
    assert search(scene, domain._plain).relevance.unreachable  # proved at once, no search
    skipped = hprm.score([s for s in record["plan"] if not s.startswith("Clean")], record)
    assert skipped.error_type == "task" and skipped.known_length == 6 and not skipped.infeasible


def test_skipping_the_toggle_or_the_appliance_leaves_the_item_untreated(hprm):
    cases = {
        "physics-wash-apple-in-sinkbasin": ("Toggle(Faucet)", ("cleaned", "apple")),
        "physics-cook-egg-in-pan-on-stoveburner": ("Toggle(StoveKnob)", ("heated", "egg")),
        "physics-heat-potato-in-microwave": ("Toggle(Microwave)", ("heated", "potato")),
    }
    for trial, (toggle, fact) in cases.items():
        record = BY_ID[trial]
        assert fact in scene_goal(hprm, record)[0]
        plan = [s for s in record["plan"] if s != toggle]  # both toggles gone: never switched on
        score = hprm.score(plan, record)
        assert score.error_type == "task" and not score.completed, trial
    cool = BY_ID["physics-cool-apple-in-fridge"]
    wrong = cool["plan"][:4] + ["Place(Fridge)"]  # left open: the fridge cools what it closes on
    assert hprm.score(wrong, cool).error_type == "task"


def test_a_fixture_is_used_from_the_furniture_it_stands_on_and_nowhere_else(hprm):
    coffee = BY_ID["fixture-coffeemachine-on-countertop"]
    assert ("beside", "coffeemachine", "countertop") in hprm.scene(coffee).statics
    lamp = BY_ID["fixture-desklamp-on-desk"]
    assert ("beside", "desklamp", "desk") in hprm.scene(lamp).statics
    away = hprm.score(["Navigate(Book)", "Pick(Book)", "Toggle(DeskLamp)"], lamp)  # not from the desk
    assert away.error_type == "state_transition"
    assert away.step_reasons[-1] == "desklamp is not where the robot is (book spot)"


def test_tidying_up_is_part_of_the_task_when_the_expert_does_it(hprm):
    cabinet = BY_ID["tidy-cup-from-cabinet"]
    assert scene_goal(hprm, cabinet)[1] == {("opened", "cabinet")}
    untidy = [s for s in cabinet["plan"] if s != "Close(Cabinet)"]
    assert hprm.score(untidy, cabinet).error_type == "task"


def test_a_place_with_no_argument_still_fails(hprm):
    record = BY_ID["error-place-without-argument"]
    score = hprm.score(record["plan"], record)
    assert score.error_type == "format" and not score.completed
    assert score.step_reasons[-1] == "Place needs an argument (receptacle)"


WIRED = """(define (domain wired)
  (:requirements :strips :typing :negative-preconditions :conditional-effects)
  (:types switch lamp)
  (:predicates (on ?s - switch) (wired ?l - lamp ?s - switch) (lit ?l - lamp))
  (:action flip
    :parameters (?s - switch)
    :precondition (not (on ?s))
    :effect (and (on ?s) (forall (?l - lamp) (when (wired ?l ?s) (lit ?l))))))
"""


def test_the_fact_core_reads_and_plans_with_conditional_effects(tmp_path):
    from harp.plan import optimal_plan, simulate

    path = tmp_path / "wired.pddl"
    path.write_text(WIRED)
    domain = load_domain(str(path))
    entities = {"hall": "switch", "porch": "switch", "a": "lamp", "b": "lamp", "c": "lamp"}
    init = [["wired", "a", "hall"], ["wired", "b", "hall"], ["wired", "c", "porch"]]
    scene = domain.scene_from_dict({"entities": entities, "init": init, "goal": [["lit", "a"], ["lit", "b"]]})
    trace = simulate("Flip(Hall)", scene, domain)
    assert trace.completed and ("lit", "c") not in trace.final_state
    assert optimal_plan(scene, domain) == ["Flip(Hall)"]


@pytest.mark.parametrize(
    "old, new, words",
    [
        (
            "(when (wired ?l ?s) (lit ?l))",
            "(when (wired ?l ?s) (when (on ?s) (lit ?l)))",
            "wired.pddl: line 8: ",
        ),  # pddl's grammar
        ("(forall (?l - lamp)", "(forall (?s - switch)", "forall variable ?s is already bound"),
    ],
)
def test_a_conditional_effect_harp_cannot_read_is_refused_naming_the_file(tmp_path, old, new, words):
    from harp.errors import ConfigError

    path = tmp_path / "wired.pddl"
    path.write_text(WIRED.replace(old, new))
    with pytest.raises(ConfigError, match=re.escape(words)):
        load_domain(str(path))
