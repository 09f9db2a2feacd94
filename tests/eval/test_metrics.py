"""Metric definitions on hand-made predictions: each metric moves when, and only when, it should."""

import pytest

from harp.eval.metrics import GUIDE_KEYS, details, passes, step_f1, summarize


def row(error_type, plan_length=4, total=0.0, num_objects=1, source_named=False, exact=False, f1=0.0):
    return {"error_type": error_type, "plan_length": plan_length, "total": total, "num_objects": num_objects,
            "source_named": source_named, "exact_match": exact, "step_f1": f1}


def test_levels_are_nested():
    assert passes(None, "task")  # complete and optimal: every level holds
    assert passes("inefficient", "task")  # complete but long still completes the task
    assert passes("task", "state_transition") and not passes("task", "task")
    assert passes("state_transition", "action") and not passes("state_transition", "state_transition")
    assert passes("action", "format") and not passes("action", "action")
    assert not passes("format", "format")
    with pytest.raises(ValueError):
        passes("typo", "format")


@pytest.mark.parametrize("error_type, expected", [
    (None, (1, 1, 1, 1)),
    ("inefficient", (1, 1, 1, 1)),
    ("task", (1, 1, 1, 0)),
    ("state_transition", (1, 1, 0, 0)),
    ("action", (1, 0, 0, 0)),
    ("format", (0, 0, 0, 0)),
])
def test_each_accuracy_fails_at_its_level(error_type, expected):
    metrics = summarize([row(error_type)])
    assert (metrics["format_accuracy"], metrics["action_accuracy"],
            metrics["transition_accuracy"], metrics["task_completion"]) == expected


def test_summary_has_exactly_the_guide_keys_in_order():
    metrics = summarize([row(None, 4, 1.0), row("format", 0, -1.0), row("task", 6, 0.2), row("action", 3, -0.4)])
    assert tuple(metrics) == GUIDE_KEYS
    assert metrics["format_accuracy"] == 0.75
    assert metrics["action_accuracy"] == 0.5
    assert metrics["transition_accuracy"] == 0.5
    assert metrics["task_completion"] == 0.25
    assert metrics["avg_steps"] == 3.25  # (4 + 0 + 6 + 3) / 4: unparseable plans count as 0 steps
    assert metrics["avg_reward"] == pytest.approx(-0.05)


@pytest.mark.parametrize("predicted, reference, expected", [
    ([("Pick", "apple")], [("Pick", "apple")], 1.0),  # identical
    ([], [], 1.0),  # both empty agree
    ([], [("Pick", "apple")], 0.0),  # nothing predicted
    ([("Pick", "pear")], [("Pick", "apple")], 0.0),  # wrong object
    # 2 of 3 predicted steps are in the 4-step reference: P = 2/3, R = 1/2, F1 = 4/7
    ([("Navigate", "table"), ("Pick", "apple"), ("Place", "bin")],
     [("Navigate", "table"), ("Pick", "apple"), ("Navigate", "basket"), ("Place", "basket")], 4 / 7),
    # repeated steps count as often as they occur
    ([("Navigate", "table"), ("Navigate", "table")], [("Navigate", "table")], 2 / 3),
])
def test_step_f1(predicted, reference, expected):
    assert step_f1(predicted, reference) == pytest.approx(expected)


def test_details_break_down_by_error_type_and_task_kind():
    rows = [row(None, exact=True, f1=1.0), row("format", num_objects=2),
            row("task", num_objects=2, source_named=True, f1=0.5), row(None, source_named=None, f1=1.0)]
    extra = details(rows)
    assert extra["num_samples"] == 4
    assert extra["exact_match"] == 0.25
    assert extra["step_f1"] == 0.625
    assert extra["by_error_type"] == {"none": {"count": 2, "share": 0.5}, "format": {"count": 1, "share": 0.25},
                                      "task": {"count": 1, "share": 0.25}}
    kinds = extra["by_task_kind"]
    assert set(kinds) == {"1 object, source not named", "1 object, source unknown",
                          "2 objects, source named", "2 objects, source not named"}
    assert kinds["2 objects, source named"]["task_completion"] == 0.0
    assert kinds["2 objects, source named"]["transition_accuracy"] == 1.0
    assert kinds["2 objects, source not named"]["format_accuracy"] == 0.0
