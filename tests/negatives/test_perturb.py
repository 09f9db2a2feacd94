"""Rule-based perturbations: each makes the kind of broken plan its name says, from any reference."""

import random

import pytest

from harp.negatives.perturb import PERTURBATIONS, Reference, candidates
from harp.plan import load_domain, scene_for
from harp.plan.parser import parse_plan
from harp.plan.simulator import simulate
from harp.rewards.hprm import HPRM

DOMAIN = load_domain("navigate_pick_place")
RECORD = {
    "image": "x.png",
    "task": "Put the apple into the bin",
    "plan": ["Navigate(White Table)", "Pick(Apple)", "Navigate(Bin)", "Place(Bin)"],
    "scene": {
        "robot": "start",
        "locations": ["white table", "red table", "bin"],
        "objects": {"apple": "white table", "cup": "red table"},
        "goal": {"apple": "bin"},
    },
}
TEACHER = {
    "image": "x.png",
    "task": "Put the apple into the basket",  # no scene: inferred from the plan
    "plan": ["Navigate(Table)", "Pick(Apple)", "Navigate(Basket)", "Place(Basket)"],
}


def ref(record=RECORD):
    return Reference.from_record(record, DOMAIN)


def trace(text, record=RECORD):
    return simulate(parse_plan(text).steps, scene_for(record, DOMAIN), DOMAIN)


def test_reference_reads_scene_entities():
    r = ref()
    assert r.objects == ["Apple", "Cup"]
    assert r.locations == ["White Table", "Red Table", "Bin"]
    assert ref(TEACHER).locations == ["Table", "Basket"]  # teacher record: entities the plan names


def test_dropped_comma_is_a_missing_comma_format_error():
    texts = PERTURBATIONS["dropped_comma"](ref())
    assert len(texts) == 3  # one per gap between the four steps
    for text in texts:
        assert {e.kind for e in parse_plan(text).errors} == {"missing_comma"}


def test_place_before_pick_places_with_an_empty_hand():
    (text,) = PERTURBATIONS["place_before_pick"](ref())
    assert text == "Navigate(White Table), Place(Bin), Pick(Apple), Navigate(Bin)"
    assert trace(text).first_invalid == 1  # Place(Bin) with nothing held


def test_wrong_object_picks_the_distractor():
    texts = PERTURBATIONS["wrong_object"](ref())
    assert "Navigate(White Table), Pick(Cup), Navigate(Bin), Place(Bin)" in texts
    # the cup is on the red table, not where the robot is
    assert trace("Navigate(White Table), Pick(Cup), Navigate(Bin), Place(Bin)").first_invalid == 1


def test_redundant_navigate_still_completes_but_longer():
    texts = PERTURBATIONS["redundant_navigate"](ref())
    assert texts and all(len(parse_plan(t).steps) == 5 for t in texts)
    assert all(trace(t).completed for t in texts)


def test_dropped_step_is_valid_but_misses_the_goal():
    for text in PERTURBATIONS["dropped_step"](ref()):
        result = trace(text)
        assert result.first_invalid is None and not result.completed


PROCESSING = ("skipped_processing", "undone_processing")  # beyond pick-and-place: heat, slice, toggle...
ALFRED = {
    "image": "x.png",
    "task": "Look at the bowl under the lamp",
    "plan": ["Navigate(Desk)", "Pick(Bowl)", "Navigate(DeskLamp)", "Toggle(DeskLamp)"],
}


def test_processing_perturbations_leave_out_or_undo_a_step():
    from harp.plan import load_domain
    from harp.rewards.hprm import HPRM

    domain = load_domain("alfred")
    reference = Reference.from_record(ALFRED, domain)
    assert PERTURBATIONS["skipped_processing"](reference) == ["Navigate(Desk), Pick(Bowl), Navigate(DeskLamp)"]
    (twice,) = PERTURBATIONS["undone_processing"](reference)
    assert HPRM(domain).score(twice, ALFRED).error_type == "task"  # the lamp is off again


REFUSALS = ("refused_feasible", "confident_plan")  # one for tasks that can be done, one for those that cannot


@pytest.mark.parametrize("name", sorted(set(PERTURBATIONS) - set(PROCESSING) - set(REFUSALS)))
def test_every_perturbation_changes_the_plan(name):
    for record in (RECORD, TEACHER):
        reference = ", ".join(record["plan"])
        texts = PERTURBATIONS[name](ref(record))
        assert texts, f"{name} made nothing"
        assert reference not in texts


def test_candidates_prefer_the_scarce_type_and_are_seeded():
    first = candidates(ref(), random.Random(1), prefer="task")
    assert first[0][0] == "dropped_step"
    assert first == candidates(ref(), random.Random(1), prefer="task")


def test_a_task_that_cannot_be_done_gets_confident_plans_and_one_that_can_a_refusal():
    hprm = HPRM(load_domain("navigate_pick_place"))
    domain = load_domain("navigate_pick_place")
    infeasible = {
        "task": "Put the apple from the red table into the basket",
        "plan": ["Infeasible(Basket)"],
        "scene": {
            "robot": "start",
            "locations": ["red table", "white table", "box"],
            "objects": {"apple": "red table"},
            "goal": {"apple": "basket"},
            "missing": ["basket"],
        },
    }
    plans = PERTURBATIONS["confident_plan"](Reference.from_record(infeasible, domain))
    assert plans == ["Navigate(Red Table), Pick(Apple), Navigate(Basket), Place(Basket)"]  # the apple is there
    assert hprm.score(plans[0], infeasible).error_type == "hallucination"
    assert PERTURBATIONS["refused_feasible"](Reference.from_record(infeasible, domain)) == []
    feasible = {**infeasible, "plan": ["Navigate(Red Table)", "Pick(Apple)", "Navigate(Box)", "Place(Box)"]}
    feasible["scene"] = {**infeasible["scene"], "goal": {"apple": "box"}, "missing": []}
    (refusal,) = PERTURBATIONS["refused_feasible"](Reference.from_record(feasible, domain))
    assert refusal == "Infeasible(Apple)" and hprm.score(refusal, feasible).error_type == "refusal"
    assert PERTURBATIONS["confident_plan"](Reference.from_record(feasible, domain)) == []
