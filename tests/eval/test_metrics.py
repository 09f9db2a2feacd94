"""Metric definitions on hand-made predictions: each metric moves when, and only when, it should."""

import pytest

from harp.eval.metrics import GUIDE_KEYS, details, passes, step_f1, summarize


def row(error_type, plan_length=4, total=0.0, num_objects=1, source_named=False, exact=False, f1=0.0):
    return {
        "error_type": error_type,
        "plan_length": plan_length,
        "total": total,
        "num_objects": num_objects,
        "source_named": source_named,
        "exact_match": exact,
        "step_f1": f1,
    }


def test_levels_are_nested():
    assert passes(None, "task")  # complete and optimal: every level holds
    assert passes("inefficient", "task")  # complete but long still completes the task
    assert passes("task", "state_transition") and not passes("task", "task")
    assert passes("state_transition", "action") and not passes("state_transition", "state_transition")
    assert passes("action", "format") and not passes("action", "action")
    assert not passes("format", "format")
    with pytest.raises(ValueError):
        passes("typo", "format")


@pytest.mark.parametrize(
    "error_type, expected",
    [
        (None, (1, 1, 1, 1)),
        ("inefficient", (1, 1, 1, 1)),
        ("task", (1, 1, 1, 0)),
        ("state_transition", (1, 1, 0, 0)),
        ("action", (1, 0, 0, 0)),
        ("format", (0, 0, 0, 0)),
    ],
)
def test_each_accuracy_fails_at_its_level(error_type, expected):
    metrics = summarize([row(error_type)])
    assert (
        metrics["format_accuracy"],
        metrics["action_accuracy"],
        metrics["transition_accuracy"],
        metrics["task_completion"],
    ) == expected


def test_summary_has_exactly_the_guide_keys_in_order():
    metrics = summarize([row(None, 4, 1.0), row("format", 0, -1.0), row("task", 6, 0.2), row("action", 3, -0.4)])
    assert tuple(metrics) == GUIDE_KEYS
    assert metrics["format_accuracy"] == 0.75
    assert metrics["action_accuracy"] == 0.5
    assert metrics["transition_accuracy"] == 0.5
    assert metrics["task_completion"] == 0.25
    assert metrics["avg_steps"] == 3.25  # (4 + 0 + 6 + 3) / 4: unparseable plans count as 0 steps
    assert metrics["avg_reward"] == pytest.approx(-0.05)


@pytest.mark.parametrize(
    "predicted, reference, expected",
    [
        ([("Pick", "apple")], [("Pick", "apple")], 1.0),  # identical
        ([], [], 1.0),  # both empty agree
        ([], [("Pick", "apple")], 0.0),  # nothing predicted
        ([("Pick", "pear")], [("Pick", "apple")], 0.0),  # wrong object
        # 2 of 3 predicted steps are in the 4-step reference: P = 2/3, R = 1/2, F1 = 4/7
        (
            [("Navigate", "table"), ("Pick", "apple"), ("Place", "bin")],
            [("Navigate", "table"), ("Pick", "apple"), ("Navigate", "basket"), ("Place", "basket")],
            4 / 7,
        ),
        # repeated steps count as often as they occur
        ([("Navigate", "table"), ("Navigate", "table")], [("Navigate", "table")], 2 / 3),
    ],
)
def test_step_f1(predicted, reference, expected):
    assert step_f1(predicted, reference) == pytest.approx(expected)


def test_details_break_down_by_error_type_and_task_kind():
    rows = [
        row(None, exact=True, f1=1.0),
        row("format", num_objects=2),
        row("task", num_objects=2, source_named=True, f1=0.5),
        row(None, source_named=None, f1=1.0),
    ]
    extra = details(rows)
    assert extra["num_samples"] == 4
    assert extra["exact_match"] == 0.25
    assert extra["step_f1"] == 0.625
    assert extra["by_error_type"] == {
        "none": {"count": 2, "share": 0.5},
        "format": {"count": 1, "share": 0.25},
        "task": {"count": 1, "share": 0.25},
    }
    kinds = extra["by_task_kind"]
    assert set(kinds) == {
        "1 object, source not named",
        "1 object, source unknown",
        "2 objects, source named",
        "2 objects, source not named",
    }
    assert kinds["2 objects, source named"]["task_completion"] == 0.0
    assert kinds["2 objects, source named"]["transition_accuracy"] == 1.0
    assert kinds["2 objects, source not named"]["format_accuracy"] == 0.0


# --------------------------------------------------------------- hand-made predictions through H-PRM

RECORD = {
    "image": "scene_0.png",
    "task": "Put the apple into the basket",
    "plan": ["Navigate(White Table)", "Pick(Apple)", "Navigate(Basket)", "Place(Basket)"],
    "scene": {
        "robot": "start",
        "locations": ["white table", "red table", "basket"],
        "objects": {"apple": "white table", "cup": "red table"},
        "goal": {"apple": "basket"},
    },
}

# (prediction, first failed level, exact match, steps)
HAND_CASES = [
    ("Navigate(White Table), Pick(Apple), Navigate(Basket), Place(Basket)", None, True, 4),  # the reference
    (
        "navigate(white table), pick(the apple), Navigate( Basket ), Place(Basket)",
        None,
        True,
        4,
    ),  # same after normalising
    ("Navigate(White Table) Pick(Apple), Navigate(Basket), Place(Basket)", "format", False, 4),  # missing comma
    ("", "format", False, 0),  # nothing at all
    ("Navigate(White Table), Grab(Apple), Navigate(Basket), Place(Basket)", "action", False, 4),  # not a domain action
    (
        "Navigate(White Table), Pick(Banana), Navigate(Basket), Place(Basket)",
        "hallucination",
        False,
        4,
    ),  # not in the scene
    ("Navigate(Basket), Place(Basket)", "state_transition", False, 2),  # places with an empty hand
    ("Navigate(White Table), Pick(Apple)", "task", False, 2),  # stops holding the apple
    ("Navigate(White Table), Pick(Apple), Navigate(Red Table), Place(Red Table)", "task", False, 4),  # wrong place
    (
        "Navigate(Red Table), Navigate(White Table), Pick(Apple), Navigate(Basket), Place(Basket)",
        "inefficient",
        False,
        5,
    ),
]


@pytest.fixture(scope="module")
def scored_rows():
    from harp.eval.metrics import sample_row
    from harp.plan import load_domain, scene_for
    from harp.rewards.hprm import HPRM

    domain = load_domain("navigate_pick_place")
    hprm = HPRM(domain)
    scene = scene_for(RECORD, domain)
    return [
        sample_row(RECORD, prediction, hprm.score(prediction, RECORD), domain, scene) for prediction, *_ in HAND_CASES
    ]


def test_rows_carry_what_the_predictions_file_needs(scored_rows):
    for row, (prediction, error_type, exact, steps) in zip(scored_rows, HAND_CASES):
        assert row["prediction"] == prediction and row["task"] == RECORD["task"]
        assert row["reference"] == RECORD["plan"]
        assert row["error_type"] == error_type, prediction
        assert row["exact_match"] is exact, prediction
        assert row["plan_length"] == steps
        assert (row["failure"] is None) == (error_type is None)
        assert row["failure"] is None or row["failure"].startswith(error_type)
        assert row["hprm"]["total"] == row["total"]
        assert (row["num_objects"], row["source_named"]) == (1, False)  # the task does not say "white table"
    assert "step 2 Place(Basket)" in scored_rows[6]["failure"]  # names the step that broke the plan


def test_guide_metrics_on_hand_made_predictions(scored_rows):
    metrics = summarize(scored_rows)
    assert metrics["format_accuracy"] == 0.8  # all but the missing comma and the empty answer
    assert metrics["action_accuracy"] == 0.6  # minus Grab and Banana
    assert metrics["transition_accuracy"] == 0.5  # minus the empty-hand Place
    assert metrics["task_completion"] == 0.3  # the two optimal plans and the long one
    assert metrics["avg_steps"] == 3.3
    optimal = scored_rows[0]["total"]
    assert optimal == 1.0 and metrics["avg_reward"] < optimal
    # H-PRM orders failures: lower levels total less
    totals = {row["error_type"]: row["total"] for row in scored_rows}
    assert (
        totals["format"] < totals["action"] < totals["state_transition"] < totals["task"] < totals["inefficient"] < 1.0
    )


def test_exact_match_and_step_f1_on_hand_made_predictions(scored_rows):
    extra = details(scored_rows)
    assert extra["exact_match"] == 0.2
    assert scored_rows[2]["step_f1"] == 1.0  # repaired steps of a malformed plan still match
    assert scored_rows[6]["step_f1"] == pytest.approx(2 / 3)  # both steps in the reference: P = 1, R = 1/2
    assert scored_rows[3]["step_f1"] == 0.0  # nothing predicted


# --------------------------------------------------------------- shortcut baselines beside image-only accuracy


def scene_of(objects, goal, locations=("white table", "red table", "blue table", "basket")):
    from harp.plan import GuideScene

    return GuideScene("start", locations, objects, goal)


def test_shortcut_baselines_know_everything_but_where_the_objects_are():
    from harp.eval.metrics import shortcut_baselines

    # three tables, the apple alone on the white one, two objects on the red one
    scene = scene_of({"apple": "white table", "cup": "red table", "ball": "red table"}, {"apple": "basket"})
    assert shortcut_baselines(scene, False) == {"uniform": pytest.approx(1 / 3), "most_loaded": 0.0}
    assert shortcut_baselines(scene, True) == {"uniform": 1.0, "most_loaded": 1.0}  # the sentence tells
    assert shortcut_baselines(None, False) == {"uniform": None, "most_loaded": None}
    busiest = scene_of({"apple": "red table", "cup": "red table", "ball": "white table"}, {"apple": "basket"})
    assert shortcut_baselines(busiest, False)["most_loaded"] == 1.0
    tie = scene_of(
        {"apple": "red table", "cup": "white table"},
        {"apple": "basket", "cup": "basket"},
        locations=("white table", "red table", "basket"),
    )
    assert shortcut_baselines(tie, False) == {"uniform": 0.25, "most_loaded": 0.25}  # two guesses, each 1/2


def test_task_kinds_carry_the_baselines_and_the_shortcut_wrong_group():
    from harp.eval.metrics import SHORTCUT_WRONG

    rows = [
        dict(row(None), baselines={"uniform": 0.5, "most_loaded": 0.0}),
        dict(row("task"), baselines={"uniform": 0.5, "most_loaded": 1.0}),
        dict(row(None, source_named=True), baselines={"uniform": 1.0, "most_loaded": 1.0}),
    ]
    kinds = details(rows)["by_task_kind"]
    image_only = kinds["1 object, source not named"]
    assert (image_only["baseline_uniform"], image_only["baseline_most_loaded"]) == (0.5, 0.5)
    assert kinds[SHORTCUT_WRONG]["num_samples"] == 1 and kinds[SHORTCUT_WRONG]["task_completion"] == 1.0
    assert details([row(None)])["by_task_kind"]["1 object, source not named"]["baseline_uniform"] is None


def test_refusal_figures_count_refusals_against_the_tasks_that_cannot_be_done():
    from harp.eval.metrics import refusal_summary

    def row(infeasible, refused, error_type=None):
        return {"infeasible": infeasible, "refused": refused, "error_type": error_type}

    rows = [
        row(True, True),  # refused where it cannot be done
        row(True, True, "task"),  # refused, naming the wrong thing: still a refusal
        row(True, False, "hallucination"),  # planned what cannot be done
        row(False, True, "refusal"),  # refused what can be done
        row(False, False),
        row(False, False, "task"),
    ]
    figures = refusal_summary(rows)
    assert figures["refusal_precision"] == round(2 / 3, 4) and figures["refusal_recall"] == round(2 / 3, 4)
    assert figures["refusal_f1"] == round(2 / 3, 4) and figures["infeasible_tasks"] == 3
    assert figures["feasible_task_completion"] == round(1 / 3, 4)
    never = refusal_summary([row(True, False, "hallucination"), row(False, False)])
    assert never["refusal_precision"] == never["refusal_f1"] == 0.0 and never["feasible_task_completion"] == 1.0
    assert refusal_summary([row(False, False)]) == {}  # nothing to refuse: the guide's keys only


def test_details_break_completion_down_by_the_reference_plan_s_length_and_task_type():
    def row(steps, completed, task_type=None):
        return {
            "error_type": None if completed else "task", "plan_length": steps, "total": 0.0,
            "reference": ["Navigate(X)"] * steps, "exact_match": False, "step_f1": 0.0, "num_objects": 1,
            "source_named": True, "task_type": task_type, "baselines": None,
        }  # fmt: skip

    rows = [
        row(4, True, "pick_and_place_simple"),
        row(9, True),
        row(10, False, "pick_three_obj_and_place"),
        row(16, True),
    ]
    figures = details(rows)
    assert list(figures["by_plan_length"]) == ["1-4 steps", "5-9 steps", "10+ steps"]
    assert figures["by_plan_length"]["10+ steps"]["num_samples"] == 2
    assert figures["by_plan_length"]["10+ steps"]["task_completion"] == 0.5
    assert set(figures["by_task_type"]) == {"pick_and_place_simple", "pick_three_obj_and_place"}
    assert figures["by_task_type"]["pick_three_obj_and_place"]["task_completion"] == 0.0
