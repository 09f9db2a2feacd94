"""Reading record files: each malformed line is one error naming file:line (and the column)."""

import pytest

from harp.data.records import iter_records
from harp.errors import DataError


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"image": "./bdv2/s_0.png", "task": "t", "plan": ["Pick(Apple)"]', "(Expecting ',' delimiter at column 65)"),
        ('{"image": "./bdv2/s_0', "(Unterminated string starting at column 11)"),
        ("", None),  # blank lines are skipped
    ],
)
def test_a_malformed_line_names_line_and_column(tmp_path, line, message):
    path = tmp_path / "sft_train.jsonl"
    path.write_text('{"image": "a.png", "task": "t", "plan": ["Pick(Apple)"]}\n' + line + "\n")
    if message is None:
        assert len(list(iter_records(path))) == 1
        return
    with pytest.raises(DataError) as caught:
        list(iter_records(path))
    assert str(caught.value) == f"{path}:2: not valid JSON {message}"


def test_a_record_resolves_its_image_once_by_one_rule_and_writes_back_only_its_keys(tmp_path, monkeypatch):
    import json

    from PIL import Image

    from harp.data.records import Record, load_image, read_records, where, write_records

    data = tmp_path / "data"
    data.mkdir()
    Image.new("RGB", (8, 8), (255, 0, 0)).save(data / "beside.png")  # relative to the records file
    Image.new("RGB", (8, 8), (0, 0, 255)).save(tmp_path / "here.png")  # relative to the working directory
    lines = [
        {"image": "beside.png", "task": "t", "plan": ["Pick(Apple)"]},
        {"image": "here.png", "task": "t", "plan": ["Pick(Apple)"]},
    ]
    (data / "r.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    monkeypatch.chdir(tmp_path)
    beside, here = read_records("data/r.jsonl")
    assert isinstance(beside, Record) and where(here) == "data/r.jsonl:2"
    assert beside.image_path == data / "beside.png" and here.image_path.name == "here.png"
    assert load_image(beside).getpixel((0, 0)) == (255, 0, 0) and load_image(here).getpixel((0, 0)) == (0, 0, 255)
    write_records(tmp_path / "out.jsonl", [beside, here])
    assert [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()] == lines


def test_evaluation_resolves_the_scene_once_and_h_prm_scores_against_that_scene(tmp_path, monkeypatch):
    import json

    from PIL import Image

    from harp.eval.evaluate import load_test_records, score_predictions
    from harp.plan import load_domain
    from harp.rewards.hprm import HPRM

    Image.new("RGB", (8, 8)).save(tmp_path / "s.png")
    line = {
        "image": "s.png",
        "task": "Put the apple into the bin",
        "plan": ["Navigate(Table)", "Pick(Apple)", "Navigate(Bin)", "Place(Bin)"],
    }
    (tmp_path / "test.jsonl").write_text(json.dumps(line) + "\n")
    monkeypatch.chdir("/")  # the image is found beside the records file, not in the working directory
    domain = load_domain("navigate_pick_place")
    (record,) = load_test_records(tmp_path / "test.jsonl", domain)
    hprm = HPRM(domain)
    assert hprm.scene(record) is record.resolved_scene  # H-PRM's scene fast path, reached by evaluation
    (row,) = score_predictions([record], ["Navigate(Table), Pick(Apple), Navigate(Bin), Place(Bin)"], domain, hprm)
    assert row["completed"] is True
