"""ALFRED expert plans through the importer and H-PRM (the issue-10 figure, in CI), and the import
rules that figure rests on: Heat/Cool/Clean act on the held object, a place where the expert
heats, cools or cleans has the appliance, a cup picked and put into the sink without moving stood
beside the sink."""

from pathlib import Path

import pytest

from harp.data.alfred_import import convert
from harp.eval.alfred_check import expert_figures
from harp.plan import load_domain, optimal_length
from harp.rewards.hprm import HPRM

DATA = Path(__file__).parent / "data" / "alfred_high_level_plans.jsonl"


@pytest.fixture(scope="module")
def alfred():
    return load_domain("alfred")


def row(*steps):
    """An ALFRED row from ("GotoLocation", "countertop") ... steps."""
    return {
        "trial": "hand",
        "task_descs": ["a hand case"],
        "high_pddl": [{"action": a, "args": list(args)} for a, *args in steps] + [{"action": "NoOp", "args": []}],
    }


def test_expert_plans_pass_and_broken_copies_score_lower():
    figures = expert_figures(str(DATA))
    assert figures.experts == 131
    assert figures.accepted / figures.experts >= 0.97  # the target (128/131)
    assert figures.broken_lower / figures.broken >= 0.97
    # three plans needed the held-object repair; each is then accepted and its broken copies score lower
    assert len(figures.repaired) == 3 and all(accepted for _, accepted, _, _ in figures.repaired)
    assert sum(lower for *_, lower in figures.repaired) / sum(n for _, _, n, _ in figures.repaired) >= 0.97
    # the plans still rejected are only longer than needed, and the planner shows the shorter plan
    for trial, kind, why, shorter in figures.rejected:
        assert kind == "inefficient" and shorter, (trial, why)
        assert why == f"{why.split()[0]} steps where {len(shorter)} suffice"


def test_a_blank_heat_cool_clean_argument_is_the_held_object(alfred):
    record = convert(
        row(
            ("GotoLocation", "countertop"),
            ("PickupObject", "soapbar"),
            ("CleanObject", ""),
            ("GotoLocation", "cabinet"),
            ("PutObject", "soapbar", "cabinet"),
        ),
        alfred,
    )
    assert record["plan"][2] == "Clean(SoapBar)"
    assert record["meta"]["repaired"] == [
        {"step": 2, "alfred": "CleanObject()", "harp": "Clean(SoapBar)", "why": "ALFRED cleans the held object"}
    ]
    # the expert cleaned at the counter, so the counter has the sink: the plan is valid and optimal
    assert HPRM(alfred).score(record["plan"], record).error_type is None


def test_a_wrong_heat_argument_is_repaired_and_listed(alfred):
    record = convert(
        row(
            ("GotoLocation", "countertop"),
            ("PickupObject", "tomato"),
            ("GotoLocation", "microwave"),
            ("HeatObject", "knife"),
            ("GotoLocation", "countertop"),
            ("PutObject", "tomato", "countertop"),
        ),
        alfred,
    )
    assert record["plan"][3] == "Heat(Tomato)"
    assert record["meta"]["repaired"] == [
        {"step": 3, "alfred": "HeatObject(knife)", "harp": "Heat(Tomato)", "why": "ALFRED heats the held object"}
    ]
    hprm = HPRM(alfred)
    expert = hprm.score(record["plan"], record)
    assert expert.error_type is None
    # the repair is an import rule, not a scoring one: a plan heating the knife (not in this scene) is wrong
    wrong = hprm.score(record["plan"][:3] + ["Heat(Knife)"] + record["plan"][4:], record)
    assert wrong.error_type == "hallucination" and wrong.total < expert.total


def test_a_right_or_unrepairable_argument_is_left_as_written(alfred):
    right = convert(
        row(
            ("GotoLocation", "countertop"),
            ("PickupObject", "apple"),
            ("GotoLocation", "fridge"),
            ("CoolObject", "apple"),
        ),
        alfred,
    )
    assert right["plan"][3] == "Cool(Apple)" and "repaired" not in right["meta"]
    empty_hand = convert(row(("GotoLocation", "microwave"), ("HeatObject", "apple")), alfred)
    assert empty_hand["plan"][1] == "Heat(Apple)" and "repaired" not in empty_hand["meta"]


def test_an_object_picked_and_put_into_furniture_without_moving_stood_beside_it(alfred):
    record = convert(
        row(
            ("GotoLocation", "cup"),
            ("PickupObject", "cup"),
            ("PutObject", "cup", "sinkbasin"),
            ("GotoLocation", "butterknife"),
            ("PickupObject", "butterknife"),
            ("GotoLocation", "cup"),
            ("PutObject", "butterknife", "cup"),
        ),
        alfred,
    )
    scene = alfred.infer_scene(record["plan"])
    # the cup did not start in the sink (putting it back would be pointless): the goal has it there
    assert ("in", "cup", "sinkbasin") in scene.goal_true and ("in", "butterknife", "cup") in scene.goal_true
    assert optimal_length(scene, alfred) == 6  # knife into the cup first, then the cup into the sink
    assert HPRM(alfred).score(record["plan"], record).error_type == "inefficient"
