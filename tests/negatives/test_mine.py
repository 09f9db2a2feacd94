"""Negative mining: model samples kept only when H-PRM finds them failing, labelled by H-PRM,
topped up with perturbations, no duplicates, every line re-checked, resumable."""

import json

import pytest

from harp.data.records import read_records
from harp.errors import DataError
from harp.negatives.mine import generate_negatives
from harp.negatives.store import example_of, negative_text, negatives_by_record, record_key
from harp.negatives.verify import verify_file
from harp.rewards.hprm import HPRM
from harp.rewards.vocabulary import ERROR_TYPES

SCENE = {
    "robot": "start",
    "locations": ["white table", "red table", "bin"],
    "objects": {"apple": "white table", "cup": "red table"},
    "goal": {"apple": "bin"},
}
RECORDS = [
    {
        "image": "a.png",
        "task": "Put the apple into the bin",
        "id": "s1",
        "scene": SCENE,
        "plan": ["Navigate(White Table)", "Pick(Apple)", "Navigate(Bin)", "Place(Bin)"],
    },
    {
        "image": "b.png",
        "task": "Put the cup into the bin",
        "id": "s2",
        "scene": dict(SCENE, goal={"cup": "bin"}),
        "plan": ["Navigate(Red Table)", "Pick(Cup)", "Navigate(Bin)", "Place(Bin)"],
    },
    {
        "image": "c.png",
        "task": "Put the apple into the basket",  # teacher-style: no scene, no id
        "plan": ["Navigate(Table)", "Pick(Apple)", "Navigate(Basket)", "Place(Basket)"],
    },
]
# What a fake "model" answers for every record: correct, a missing comma, a repeat, a wrong object.
SAMPLES = [
    "Navigate(White Table), Pick(Apple), Navigate(Bin), Place(Bin)",
    "Navigate(White Table) Pick(Apple), Navigate(Bin), Place(Bin)",
    "Navigate(White Table) Pick(Apple), Navigate(Bin), Place(Bin)",
    "Navigate(White Table), Pick(Banana), Navigate(Bin), Place(Bin)",
]


def fake_sampler(records, n):
    return [SAMPLES[:n] for _ in records]


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    return path


def mine(data, out, **kw):
    kw.setdefault("num_samples_per_image", 3)
    return generate_negatives(None, data, out, sampler=fake_sampler, progress=False, **kw)


def test_every_line_carries_its_label_and_none_repeats(data, tmp_path):
    out = tmp_path / "neg.jsonl"
    summary = mine(data, out, num_samples_per_image=4)
    lines = read_records(out)
    hprm = HPRM("navigate_pick_place")
    for line in lines:
        # the guide's keys, plus the provenance and what GRPO needs to score the line
        assert {"image", "task", "plan", "error_type", "source", "scene", "reference"} <= set(line)
        assert line["source"] in ("model", "perturbation")
        assert hprm.score(negative_text(line), example_of(line)).error_type == line["error_type"]
    keys = [(record_key(line), negative_text(line)) for line in lines]
    assert len(keys) == len(set(keys))
    assert verify_file(out, hprm) == []
    assert summary.written == len(lines) and not summary.problems


def test_model_failures_are_kept_correct_plans_dropped(data, tmp_path):
    out = tmp_path / "neg.jsonl"
    mine(data, out, perturb=False, num_samples_per_image=4)
    lines = read_records(out)
    first = [negative_text(line) for line in lines if line.get("id") == "s1"]
    # the correct sample is dropped, the duplicate missing-comma sample kept once
    assert first == [SAMPLES[1], SAMPLES[3]]
    assert {line["error_type"] for line in lines if line.get("id") == "s1"} == {"format", "hallucination"}


def test_records_the_model_gets_right_are_topped_up_with_scarce_types(data, tmp_path):
    out = tmp_path / "neg.jsonl"
    summary = mine(data, out, num_samples_per_image=3, min_share=0.1)
    by_record = negatives_by_record(out)
    assert all(len(by_record[record_key(r)]) >= 3 for r in RECORDS)
    assert any(line["source"] == "perturbation" for line in read_records(out))
    total = sum(summary.counts.values())
    for kind in ERROR_TYPES:  # every type reaches its share, via perturbations where the model made none
        assert sum(summary.counts[(kind, s)] for s in ("model", "perturbation")) >= 0.1 * total - 1


def test_rerun_resumes_without_repeating(data, tmp_path):
    out = tmp_path / "neg.jsonl"
    mine(data, out)
    before = out.read_text()
    again = mine(data, out)
    assert again.written == 0 and out.read_text() == before
    # a crash after the first line: the rerun fills the rest and repeats nothing
    out.write_text(before.splitlines(keepends=True)[0])
    mine(data, out)
    lines = read_records(out)
    assert len({(record_key(line), negative_text(line)) for line in lines}) == len(lines)
    assert all(len(v) >= 3 for v in negatives_by_record(out).values())


def test_a_mislabelled_line_fails_the_recheck(data, tmp_path):
    out = tmp_path / "neg.jsonl"
    mine(data, out, perturb=False)
    lines = out.read_text().splitlines()
    line = json.loads(lines[0])
    line["error_type"] = "inefficient"
    out.write_text(json.dumps(line) + "\n")
    (problem,) = verify_file(out, HPRM("navigate_pick_place"))
    assert ":1: labelled 'inefficient'" in problem
    with pytest.raises(DataError, match="fail their re-check"):
        mine(data, out, perturb=False)


def test_scarce_types_reach_their_share_and_a_rerun_adds_nothing(tmp_path):
    # The model makes only format errors: every other type comes from the top-up. Topping up one
    # type grows the file, so each type must still hold min_share of the *final* file, and a
    # rerun over the finished file (the resume check uses the same rule) must write nothing.
    records = [dict(RECORDS[0], id=f"s{i}", image=f"{i}.png") for i in range(10)]
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in records))
    formats = [
        "Navigate(White Table) Pick(Apple), Navigate(Bin), Place(Bin)",
        "Navigate(White Table), Pick(Apple) Navigate(Bin), Place(Bin)",
        "Navigate(White Table), Pick(Apple), Navigate(Bin) Place(Bin)",
    ]
    out = tmp_path / "neg.jsonl"
    run = lambda: generate_negatives(
        None,
        data,
        out,
        sampler=lambda recs, n: [formats for _ in recs],
        num_samples_per_image=3,
        min_share=0.1,
        progress=False,
    )
    summary = run()
    total = sum(summary.counts.values())
    for kind in ERROR_TYPES:
        assert sum(summary.counts[(kind, s)] for s in ("model", "perturbation")) >= 0.1 * total, kind
    before = out.read_text()
    assert run().written == 0 and out.read_text() == before
