"""Bad input of every kind (issue 11, items 8, 9, 11 and the Low list): each is a one-line error
naming the file, line or flag, or a warning where the run can go on; nothing is silently coerced."""

import json
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from harp.data.records import MAX_TASK_CHARS, read_records
from harp.errors import DataError

REPO = Path(__file__).resolve().parents[2]
PLAN = ["Navigate(Table)", "Pick(Apple)", "Navigate(Basket)", "Place(Basket)"]


def record(**extra):
    return {"image": "a_0.png", "task": "Put the apple into the basket", "plan": PLAN, **extra}


def write(path, *rows):
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows))
    return path


# ------------------------------------------------------------------------------- records reader


@pytest.mark.parametrize(
    "line, message",
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),  # was a RecursionError
        (json.dumps(record(task="x" * (MAX_TASK_CHARS + 1))), "'task' is 2,001 characters (limit 2,000)"),
        (json.dumps(record(plan=["Pick(Apple)"] * 1000)), "'plan' has 1,000 steps"),
        (json.dumps(record(plan="Pick(Apple), " * 2000)), "'plan' is 26,000 characters"),
        (json.dumps(record(id=["a"])), "'id' must be a string, got list"),
        (json.dumps(record(id=7)), "'id' must be a string, got int"),
        (json.dumps(record(image={"path": "a.png"})), "'image' must be a string, got dict"),
        ('{"image": "a_0.png", "task": "Put the \\ud800 away", "plan": ["Pick(Apple)"]}', "lone surrogate"),
    ],
    ids=["deep", "long-task", "many-steps", "long-plan", "list-id", "int-id", "dict-image", "surrogate"],
)
def test_a_bad_record_line_is_one_line_naming_it(tmp_path, line, message):
    path = write(tmp_path / "r.jsonl", record(), line)
    with pytest.raises(DataError) as caught:
        read_records(path)
    assert str(caught.value).startswith(f"{path}:2: ") and message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_non_utf8_and_unreadable_records_are_one_line(tmp_path, monkeypatch):
    path = tmp_path / "r.jsonl"
    path.write_bytes(json.dumps(record()).encode() + b"\n" + b'{"task": "caf\xe9"}\n')
    with pytest.raises(DataError, match=r"r\.jsonl:2: not UTF-8 text"):
        read_records(path)
    write(path, record())
    real_open = Path.open

    def refuse(self, *args, **kwargs):  # chmod 000 does not stop root, who runs CI here
        if self == path:
            raise PermissionError(13, "Permission denied")
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refuse)
    with pytest.raises(DataError, match=r"r\.jsonl: cannot be read \(Permission denied\)"):
        read_records(path)


def test_a_teacher_task_over_the_cap_is_rejected_as_malformed():
    from harp.data.build import check_plan, parse_task_answer
    from harp.plan import load_domain

    with pytest.raises(ValueError, match="limit 2,000"):
        parse_task_answer(json.dumps({"task": "put it away " * 1_000_000}))  # 12 MB
    check = check_plan(["Pick(Apple)"] * 5000, load_domain("navigate_pick_place"))
    assert check.reason == "plan_format" and "5,000 steps" in check.detail


# ------------------------------------------------------------------------------------ harp score


def score(tmp_path, predictions, records, capsys):
    from harp.cli import main

    code = main(
        [
            "score",
            "--predictions",
            str(write(tmp_path / "p.jsonl", *predictions)),
            "--records",
            str(write(tmp_path / "r.jsonl", *records)),
            "--summary",
        ]
    )
    return code, capsys.readouterr()


def test_score_with_an_unmatched_id_names_it_instead_of_pairing_by_line(tmp_path, capsys):
    records = [record(id="scene_1"), record(id="scene_2", plan=PLAN[:2] + ["Navigate(Box)", "Place(Box)"])]
    predictions = [{"id": "scene_1", "prediction": ", ".join(PLAN)}, {"id": "scene_2x", "prediction": ", ".join(PLAN)}]
    code, out = score(tmp_path, predictions, records, capsys)
    assert code == 1 and "1 prediction(s) match no record" in out.err and "line 2 ('scene_2x')" in out.err
    assert len(out.err.strip().splitlines()) == 1


def test_score_refuses_ambiguous_ids_and_warns_of_repeated_records(tmp_path, capsys):
    code, out = score(tmp_path, [{"id": "a", "prediction": "x"}], [record(id="a"), record(id="a")], capsys)
    assert code == 1 and "id 'a' is also on line 1" in out.err
    code, out = score(tmp_path, [{"prediction": "x"}, {"prediction": "y"}], [record(), record()], capsys)
    assert code == 0 and "1 duplicate record(s), each scored again (line 2 repeats line 1)" in out.err


def test_score_prints_a_lone_surrogate_instead_of_crashing(capsys):
    from harp.cli import main

    code = main(["score", "--plan", "Navigate(Table\udc80), Pick(Apple)", "--reference", json.dumps(PLAN)])
    out = capsys.readouterr().out
    assert code == 0 and "\\udc80" in out
    out.encode("utf-8")  # printable


def test_score_refuses_a_megabyte_plan_at_once(capsys):
    from harp.cli import main

    assert main(["score", "--plan", "Pick(Apple), " * 100_000, "--reference", json.dumps(PLAN)]) == 1
    assert "--plan: is 1,300,000 characters" in capsys.readouterr().err


# ----------------------------------------------------------------------------------- image files


def test_a_symlink_to_an_image_is_one_image(tmp_path, fakes):
    from harp.data.images import find_images

    bdv2 = tmp_path / "bdv2"
    fakes.write_test_image(bdv2 / "a_0.png", 1)
    (bdv2 / "link_0.png").symlink_to(bdv2 / "a_0.png")
    (bdv2 / "linked").symlink_to(bdv2, target_is_directory=True)  # a folder link back to the top: no loop
    assert find_images(bdv2) == [bdv2 / "a_0.png"]


def test_odd_names_and_unreadable_folders_are_warned_about(tmp_path, fakes, monkeypatch):
    from harp.data.images import find_images

    bdv2 = tmp_path / "bdv2"
    fakes.write_test_image(bdv2 / "ok_0.png", 1)
    fakes.write_test_image(bdv2 / "two\nlines_0.png", 2)
    (bdv2 / "locked").mkdir()
    real_scandir = os.scandir

    def scandir(path):  # chmod 000 does not stop root: refuse as the kernel would
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    warnings = []
    assert find_images(bdv2, warn=warnings.append) == [bdv2 / "ok_0.png"]
    assert any("line break" in w for w in warnings) and any("locked: folder skipped" in w for w in warnings)


# ------------------------------------------------------------------------------------ data flags


@pytest.mark.parametrize(
    "flag, value",
    [
        ("--backoff", "-1"),
        ("--timeout", "0"),
        ("--timeout", "nan"),
        ("--image-size", "-5"),
        ("--limit", "-1"),
        ("--max-retries", "-1"),
        ("--concurrency", "0"),
        ("--num-scenes", "0"),
    ],
)
def test_impossible_build_flags_are_refused_by_name(capsys, flag, value):
    from harp.data.cli import BUILD

    with pytest.raises(SystemExit) as caught:
        BUILD.main("data_build.py", [flag, value])
    assert caught.value.code == 2 and f"argument {flag}" in capsys.readouterr().err


def test_output_dir_that_is_a_file_is_one_line(tmp_path, capsys):
    from harp.data.cli import BUILD

    (tmp_path / "out").write_text("")
    assert BUILD.main("data_build.py", ["--source", "synthetic", "--output-dir", str(tmp_path / "out")]) == 1
    assert "--output-dir" in capsys.readouterr().err


# ----------------------------------------------------------------------------------- the rest


def test_a_scene_field_of_the_wrong_type_is_not_coerced():
    from harp.plan import GuideScene

    base = {"locations": ["table", "drawer"], "objects": {"apple": "table"}, "goal": {"apple": "drawer"}}
    with pytest.raises(DataError, match=r"scene\.openable\.drawer: expected true or false, got 'no'"):
        GuideScene.from_dict({**base, "openable": {"drawer": "no"}})
    with pytest.raises(DataError, match=r"scene\.locations: expected names"):
        GuideScene.from_dict({**base, "locations": ["table", ["drawer"]]})


def test_negatives_from_an_empty_file_are_an_error(tmp_path):
    from harp.negatives.mine import generate_negatives

    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(DataError, match="no records"):
        generate_negatives(None, tmp_path / "empty.jsonl", tmp_path / "neg.jsonl", sampler=lambda b, n: [[] for _ in b])


def test_resuming_from_an_older_checkpoint_drops_the_later_eval_rows(tmp_path, capsys):
    from harp.train.grpo_eval import HISTORY_FILE, ValidationCallback

    rows = [{"step": s, "avg_reward": 0.1 * s, "best": s > 0} for s in (0, 2, 4, 6)]
    (tmp_path / HISTORY_FILE).write_text(
        "".join(json.dumps(r) + "\n" for r in rows) + '{"step": 8, "avg'
    )  # cut by a kill
    callback = ValidationCallback([], None, None, tmp_path, 2)
    callback.on_train_begin(None, SimpleNamespace(global_step=2, is_world_process_zero=True), None)
    kept = [json.loads(line)["step"] for line in (tmp_path / HISTORY_FILE).read_text().splitlines()]
    assert kept == [0, 2] and [r["step"] for r in callback.history] == [0, 2]
    assert "dropped 2 later row(s)" in capsys.readouterr().err


def test_predict_refuses_a_megabyte_task_before_tokenising_it():
    from harp.eval.predict import Planner

    planner = object.__new__(Planner)  # no model needed: the task is checked first
    with pytest.raises(DataError, match=r"task: is 1,000,000 characters \(limit 2,000\)"):
        planner.plan_batch([None], ["x" * 1_000_000])
