"""Task sentences that vary (harp.data.language): same scenes in every language, the held-out frames
never in training data, and every sentence names what its plan does, in the plan's order."""

import random
import re

import pytest

from harp.cli import main
from harp.data import language, world
from harp.data.records import read_records
from harp.data.synthetic import build_synthetic
from harp.errors import DataError


def build(tmp_path, name, language_, n=120, infeasible=0.0, three_objects=0.0):
    out = tmp_path / name
    build_synthetic(
        n,
        5,
        images_dir=out / "bdv2" / "synthetic",
        output_dir=out,
        progress=False,
        infeasible=infeasible,
        language=language_,
        three_objects=three_objects,
    )
    return read_records(out / "actions.jsonl")


def test_every_language_says_the_same_scenes_with_the_same_plans_and_pictures(tmp_path):
    said = {name: build(tmp_path, name, name, n=60, infeasible=0.2) for name in language.LANGUAGES}
    for templates, varied, held_out in zip(*said.values()):
        assert templates["scene"] == varied["scene"] == held_out["scene"]
        assert templates["plan"] == varied["plan"] == held_out["plan"]
        assert templates["task"] != varied["task"] != held_out["task"]
    for name in language.LANGUAGES:
        images = sorted((tmp_path / name / "bdv2" / "synthetic").glob("*.png"))
        assert [p.read_bytes() for p in images] == [
            p.read_bytes() for p in sorted((tmp_path / "templates" / "bdv2" / "synthetic").glob("*.png"))
        ]


def test_held_out_frames_are_new_sentence_shapes_never_in_varied_data(tmp_path):
    for _, table in language.SHAPES.values():
        assert not set(table["seen"]) & set(table["held_out"])
    varied, held_out = build(tmp_path, "v", "varied", n=300), build(tmp_path, "h", "held_out", n=300)
    assert all(r["meta"]["language"] == "seen" and "held_out" not in r["meta"]["phrasing"] for r in varied)
    assert all(r["meta"]["language"] == "held_out" and "held_out" in r["meta"]["phrasing"] for r in held_out)
    assert not {r["task"] for r in varied} & {r["task"] for r in held_out}
    # Variety: many frames of each shape are used, and no one sentence dominates.
    assert len({r["meta"]["phrasing"] for r in varied}) >= 20
    assert len({r["task"] for r in varied}) >= 0.95 * len(varied)


def _positions(text: str, words: tuple[str, ...]) -> list[int]:
    return [m.start() for word in words for m in re.finditer(rf"\b{re.escape(word)}\b", text.lower())]


@pytest.mark.parametrize("name", ["varied", "held_out"])
def test_a_sentence_names_each_object_its_destination_and_source_in_the_plan_s_order(tmp_path, name):
    for record in build(tmp_path, name, name, n=200, infeasible=0.2, three_objects=0.2):
        task, goal = record["task"], record["scene"]["goal"]
        firsts = []
        for obj, destination in goal.items():
            found = _positions(task, language.OBJECT_WORDS.get(obj, (obj,)))
            assert found, (obj, task)
            firsts.append(min(found))
            assert _positions(task, language.PLACE_WORDS.get(destination, (destination,))), (destination, task)
            source = record["scene"]["objects"].get(obj)
            if record["meta"]["source_named"] and source:
                assert source in task, (source, task)
        assert firsts == sorted(firsts), task  # mention order = the plan's order
        assert task[0].isupper() and "  " not in task and "{" not in task


def test_same_seed_same_sentences_and_an_unknown_language_is_refused(tmp_path):
    rng = lambda: random.Random("x")  # noqa: E731
    goal, sources = {"apple": "bin", "cup": "shelf"}, {"apple": "red table", "cup": "blue table"}
    assert language.say(goal, sources, True, rng(), False) == language.say(goal, sources, True, rng(), False)
    text, frame = language.say({"laptop": "fridge"}, {}, True, rng(), True)  # names this world never draws
    assert "laptop" in text and "fridge" in text and frame.startswith("one:held_out:")
    with pytest.raises(DataError, match="--language must be one of templates, varied, held_out"):
        build_synthetic(2, output_dir=tmp_path, images_dir=tmp_path / "i", progress=False, language="french")


def test_the_templates_language_is_the_world_s_own_sentences(tmp_path):
    records = build(tmp_path, "t", "templates", n=30)
    own = {template for template, _ in [*world.PHRASINGS_ONE.values(), *world.PHRASINGS_TWO.values()]}
    assert all("language" not in r["meta"] for r in records)
    assert {r["meta"]["phrasing"] for r in records} <= set(world.PHRASINGS_ONE) | set(world.PHRASINGS_TWO)
    assert len(own) == len(world.PHRASINGS_ONE) + len(world.PHRASINGS_TWO)


def test_three_object_tasks_plan_twelve_steps_and_leave_the_other_scenes_as_they_were(tmp_path):
    plain = build(tmp_path, "plain", "templates", n=80)
    three = build(tmp_path, "three", "templates", n=80, three_objects=0.3)
    moved = [r for r in three if r["meta"]["num_objects"] == 3]
    assert 10 <= len(moved) <= 40
    assert all(len(r["plan"]) == 12 and len(r["scene"]["goal"]) == 3 for r in moved)
    assert all(r["meta"]["phrasing"] in world.PHRASINGS_THREE for r in moved)
    others = [(a, b) for a, b in zip(plain, three) if b["meta"]["num_objects"] != 3]
    same = [{**a, "image": ""} == {**b, "image": ""} for a, b in others]  # paths differ by folder
    assert len(others) == 80 - len(moved) and all(same)
    with pytest.raises(DataError, match="--three-objects must be a share between 0 and 1"):
        build_synthetic(2, output_dir=tmp_path, images_dir=tmp_path / "i", progress=False, three_objects=2.0)


def test_another_phrasing_draw_says_the_same_tasks_with_other_words(tmp_path):
    first = build(tmp_path, "first", "varied", n=60, infeasible=0.2)
    out = tmp_path / "second"
    build_synthetic(
        60,
        5,
        images_dir=out / "bdv2" / "synthetic",
        output_dir=out,
        progress=False,
        infeasible=0.2,
        language="varied",
        phrasing_draw=1,
    )
    second = read_records(out / "actions.jsonl")
    assert [r["scene"] for r in first] == [r["scene"] for r in second]
    assert [r["plan"] for r in first] == [r["plan"] for r in second]
    assert sum(a["task"] != b["task"] for a, b in zip(first, second)) >= 50  # a few short tasks may coincide


def test_phrasings_say_each_scene_several_ways_with_one_picture_and_plan(tmp_path):
    out = tmp_path / "three"
    counts = build_synthetic(
        30, 5, images_dir=out / "img", output_dir=out, progress=False, infeasible=0.2, language="varied", phrasings=3
    )
    records = read_records(out / "actions.jsonl")
    first = build(tmp_path, "one", "varied", n=30, infeasible=0.2)
    assert counts["scenes"] == 30 and counts["records"] == len(records) > 80  # a repeated sentence is left out
    assert len({r["id"] for r in records}) == len(records)
    by_image: dict = {}
    for record in records:
        by_image.setdefault(record["image"], []).append(record)
    assert len(by_image) == 30 and len(list((out / "img").iterdir())) == 30  # each picture drawn once
    for base, said in zip(first, by_image.values()):
        assert said[0]["task"] == base["task"]  # the first sentence is the one-phrasing build's
        assert len({r["task"] for r in said}) == len(said)
        assert all(r["plan"] == base["plan"] and r["scene"] == base["scene"] for r in said)
    assert (out / "processed" / "processed_images.txt").read_text().splitlines() == list(by_image)
    with pytest.raises(DataError, match="--phrasings: give --language varied too"):
        build_synthetic(2, output_dir=tmp_path, images_dir=tmp_path / "i", progress=False, phrasings=2)
    with pytest.raises(DataError, match="--phrasings must be at least 1"):
        build_synthetic(2, output_dir=tmp_path, images_dir=tmp_path / "i", progress=False, phrasings=0)


def test_the_build_command_says_how_many_records_the_phrasings_made(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    command = ["data", "build", "--source", "synthetic", "--num-scenes", "4", "--quiet"]
    assert main([*command, "--language", "varied", "--phrasings", "2"]) == 0
    records = read_records(tmp_path / "actions.jsonl")
    said = f"scenes: 4 (images in bdv2/synthetic; {len(records)} records, up to 2 sentences a scene)"
    assert said in capsys.readouterr().out
    assert main([*command, "--phrasings", "2"]) == 1
    assert "--phrasings: give --language varied too" in capsys.readouterr().err
