"""`harp score`: one plan or a predictions file, JSON out, one-line errors, never a traceback."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harp.cli import main

REFERENCE = '["Navigate(Table)", "Pick(Apple)", "Navigate(Basket)", "Place(Basket)"]'
SCENE = {
    "robot": "start",
    "locations": ["table", "red table", "basket"],
    "objects": {"apple": "table", "cup": "red table"},
    "goal": {"apple": "basket"},
}


def score(capsys, *argv):
    code = main(["score", *argv])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else None), err


def test_one_plan_against_a_reference(capsys):
    code, result, _ = score(
        capsys,
        "--task",
        "Put the apple into the basket",
        "--plan",
        "Navigate(Table), Place(Basket), Pick(Apple)",
        "--reference",
        REFERENCE,
    )
    assert code == 0
    assert result["error_type"] == "state_transition" and result["optimal_length"] == 4
    assert result["steps"][1] == {
        "step": "Place(Basket)",
        "span": [17, 30],
        "score": -3.0,
        "valid": False,
        "reason": "the hand is empty",
    }
    assert set(result) >= {"format", "action", "transition", "task", "efficiency", "total"}


def test_one_plan_against_a_scene_file_or_a_record_file(capsys, tmp_path):
    scene = tmp_path / "scene.json"
    scene.write_text(json.dumps(SCENE))
    code, result, _ = score(capsys, "--plan", "Navigate(Red Table), Pick(Cup)", "--scene", str(scene))
    assert code == 0 and result["error_type"] == "task"  # the cup exists in this scene
    record = tmp_path / "record.json"
    record.write_text(json.dumps({"task": "t", "plan": [], "scene": SCENE}))
    code, result, _ = score(
        capsys,
        "--plan",
        "Navigate(Table), Pick(Apple), Navigate(Basket), Place(Basket)",
        "--scene",
        str(record),
        "--domain",
        "drawers",
    )
    assert code == 0 and result["total"] == 1.0


def test_mistakes_are_one_line_errors(capsys, tmp_path):
    code, _, err = score(capsys, "--plan", "Pick(Apple)")
    assert code == 1 and "give --reference" in err and err.count("\n") == 1
    bad = tmp_path / "scene.json"
    bad.write_text('{"locations": ["a"], "objects": {}, "goal": {"apple": "a"}}')
    code, _, err = score(capsys, "--plan", "Pick(Apple)", "--scene", str(bad))
    assert code == 1 and f"{bad}.goal: 'apple' is not in {bad}.objects" in err
    code, _, err = score(capsys, "--plan", "Pick(Apple)", "--reference", REFERENCE, "--domain", "kitchen")
    assert code == 1 and "no such domain" in err


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


def test_a_predictions_file_against_records(capsys, tmp_path):
    plan = ["Navigate(Table)", "Pick(Apple)", "Navigate(Basket)", "Place(Basket)"]
    records = write_jsonl(
        tmp_path / "test.jsonl",
        [
            {"id": "a", "image": "a.png", "task": "t", "plan": plan},
            {"id": "b", "image": "b.png", "task": "t", "plan": plan, "scene": SCENE},
        ],
    )
    # Out of order, matched by id.
    predictions = write_jsonl(
        tmp_path / "pred.jsonl",
        [
            {"id": "b", "prediction": "Navigate(Red Table), Pick(Cup), Navigate(Basket), Place(Basket)"},
            {"id": "a", "prediction": ", ".join(plan)},
        ],
    )
    code, result, _ = score(capsys, "--predictions", predictions, "--records", records)
    assert code == 0
    assert [s["id"] for s in result["samples"]] == ["b", "a"]
    assert [s["error_type"] for s in result["samples"]] == ["task", None]
    assert result["summary"]["count"] == 2 and result["summary"]["task_completion"] == 0.5
    assert result["summary"]["error_types"] == {"none": 1, "task": 1}
    code, summary, _ = score(capsys, "--predictions", predictions, "--records", records, "--summary")
    assert summary == result["summary"]


def test_a_record_naming_its_domain_is_scored_in_it_unless_domain_says_otherwise(capsys, tmp_path):
    heat = ["Navigate(CounterTop)", "Pick(Apple)", "Navigate(Microwave)", "Heat(Apple)"]
    records = write_jsonl(
        tmp_path / "r.jsonl", [{"id": "a", "image": "", "task": "t", "plan": heat, "domain": "alfred"}]
    )
    predictions = write_jsonl(tmp_path / "p.jsonl", [{"id": "a", "prediction": ", ".join(heat)}])
    code, result, _ = score(capsys, "--predictions", predictions, "--records", records)
    assert code == 0 and result["samples"][0]["error_type"] is None  # Heat is an alfred word
    code, result, _ = score(
        capsys, "--predictions", predictions, "--records", records, "--domain", "navigate_pick_place"
    )
    assert code == 0 and result["samples"][0]["error_type"] == "action"  # as asked: no Heat there
    bad = write_jsonl(tmp_path / "b.jsonl", [{"id": "a", "image": "", "task": "t", "plan": heat, "domain": "moon"}])
    code, _, err = score(capsys, "--predictions", predictions, "--records", bad)
    assert code != 0 and "b.jsonl:1: domain:" in err and len(err.strip().splitlines()) == 1


def test_a_predictions_file_that_does_not_line_up(capsys, tmp_path):
    records = write_jsonl(tmp_path / "test.jsonl", [{"image": "a.png", "task": "t", "plan": ["Pick(A)"]}])
    predictions = write_jsonl(tmp_path / "pred.jsonl", [{"prediction": "x"}, {"prediction": "y"}])
    code, _, err = score(capsys, "--predictions", predictions, "--records", records)
    assert code == 1 and "2 predictions but" in err
    predictions = write_jsonl(tmp_path / "pred.jsonl", [{"answer": "x"}])
    code, _, err = score(capsys, "--predictions", predictions, "--records", records)
    assert code == 1 and "pred.jsonl:1: expected a 'prediction'" in err


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=60))
def test_score_never_raises_on_any_plan_text(capsys, text):
    code, result, _ = score(capsys, f"--plan={text}", "--reference", REFERENCE)
    assert code == 0 and -1.0 <= result["total"] <= 1.0
