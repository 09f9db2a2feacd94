"""The synthetic world: determinism, ground truth that checks out, and the variety the issue asks for."""

import hashlib
import random
from collections import Counter

import pytest

from harp.data import world
from harp.data.records import read_records
from harp.data.synthetic import (
    absent_tasks,
    build_synthetic,
    one_task_per_object,
    two_object_task,
    with_lookup_tasks,
)
from harp.errors import DataError
from harp.plan import GuideScene, load_domain, optimal_length, simulate

DOMAIN = load_domain("navigate_pick_place")


def build(tmp_path, name, n=40, seed=0):
    out = tmp_path / name
    counts = build_synthetic(n, seed, images_dir=out / "bdv2" / "synthetic", output_dir=out, progress=False)
    return out, counts


def digest(folder):
    """One hash over every file's relative path and bytes."""
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def test_same_seed_same_bytes_other_seed_other_scenes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # record paths are relative to the working directory
    a, _ = build(tmp_path, "a", n=20, seed=3)
    b, _ = build(tmp_path, "b", n=20, seed=3)
    c, _ = build(tmp_path, "c", n=20, seed=4)
    # Same bytes, images and jsonl alike (the jsonl differ only in the a/ vs b/ folder of image paths).
    assert digest(a / "bdv2") == digest(b / "bdv2")
    assert (a / "actions.jsonl").read_text().replace("./a/", "./b/") == (b / "actions.jsonl").read_text()
    assert digest(a / "bdv2") != digest(c / "bdv2")


def test_records_are_the_guide_format_with_ground_truth(tmp_path):
    out, counts = build(tmp_path, "out", n=60)
    records = read_records(out / "actions.jsonl")
    tasks = read_records(out / "tasks.jsonl", required=("image", "task"))
    processed = (out / "processed" / "processed_images.txt").read_text().splitlines()
    assert len(records) == len(tasks) == len(processed) == counts["scenes"] == 60
    assert [r["image"] for r in records] == processed == [t["image"] for t in tasks]
    for record in records:
        assert list(record)[:3] == ["image", "task", "plan"]
        assert record["image"].endswith("_0.png")
        scene = GuideScene.from_dict(record["scene"])
        trace = simulate(record["plan"], scene, DOMAIN)
        # every plan is valid, reaches its goal, and is as short as the planner says is possible
        assert trace.completed, record
        assert len(record["plan"]) == optimal_length(scene, DOMAIN)
        assert record["meta"]["num_objects"] == len(scene.goal)
        assert record["scene"]["objects"].keys() >= record["scene"]["goal"].keys()


def test_two_object_plans_move_objects_in_the_order_the_task_names_them(tmp_path):
    # equally short plans exist in both orders; only the task's order is learnable from the input
    out, _ = build(tmp_path, "out", n=60)
    two = [r for r in read_records(out / "actions.jsonl") if r["meta"]["num_objects"] == 2]
    assert two
    for record in two:
        picked = [step[len("Pick(") : -1].lower() for step in record["plan"] if step.startswith("Pick(")]
        named = sorted(picked, key=lambda name: record["task"].lower().index(name))
        assert picked == named, record


def test_source_unnamed_share_and_variety():
    samples = [world.sample_scene(random.Random(f"0:{i}")) for i in range(400)]
    unnamed = [s for s in samples if not s.meta["source_named"]]
    assert len(unnamed) / len(samples) >= 0.30
    for sample in unnamed:  # "not named" means it: no table colour of the object's table in the task
        for obj in sample.scene["goal"]:
            assert sample.scene["objects"][obj] not in sample.task
    for sample in samples:
        if sample.meta["source_named"]:
            for obj in sample.scene["goal"]:
                assert sample.scene["objects"][obj] in sample.task

    kinds = {obj for s in samples for obj in s.scene["objects"]}
    places = {loc for s in samples for loc in s.scene["locations"]}
    phrasings = Counter(s.meta["phrasing"] for s in samples)
    assert len(kinds) >= 8
    assert len(places) >= 5
    assert len(phrasings) >= 6
    assert {s.meta["num_objects"] for s in samples} == {1, 2}
    # two tables of different colours in one scene, and distractors (objects not in the goal)
    assert all(sum(loc.endswith("table") for loc in s.scene["locations"]) >= 2 for s in samples)
    assert sum(len(s.scene["objects"]) > len(s.scene["goal"]) for s in samples) > 100


def test_objects_lie_on_their_table_in_the_picture():
    for i in range(100):
        sample = world.sample_scene(random.Random(f"7:{i}"))
        tables = {t.name: t.box for t in sample.tables}
        for obj in sample.objects:
            x0, y0, x1, y1 = tables[sample.scene["objects"][obj.name]]
            assert x0 <= obj.box[0] and y0 <= obj.box[1] and obj.box[2] <= x1 and obj.box[3] <= y1
        image = world.render(sample)
        for table in sample.tables:  # a table's corner area shows its colour
            colour = world.TABLE_COLOURS[table.name.split()[0]]
            assert image.getpixel((table.box[0] + 6, table.box[1] + 6)) == colour


def test_every_kind_can_be_drawn_and_images_are_small(tmp_path):
    image = world.render(world.sample_scene(random.Random("0:0")))
    assert image.size == (world.IMAGE_SIZE, world.IMAGE_SIZE)
    assert set(world.OBJECT_DRAWERS) == set(world.OBJECTS)
    assert set(world.RECEPTACLE_DRAWERS) == set(world.RECEPTACLES)
    assert len(world.png_bytes(image)) < 20_000


def test_refuses_to_overwrite_teacher_records(tmp_path):
    (tmp_path / "actions.jsonl").write_text('{"image": "./bdv2/x_0.png", "task": "t", "plan": ["Pick(Apple)"]}\n')
    with pytest.raises(DataError, match=r"actions.jsonl:1: holds teacher-labelled records"):
        build_synthetic(3, 0, images_dir=tmp_path / "img", output_dir=tmp_path, progress=False)


def test_every_object_gets_an_image_only_task_whose_plan_fetches_it_from_its_table(tmp_path):
    out, _ = build(tmp_path, "a", n=20, seed=3)
    for record in read_records(out / "actions.jsonl"):
        tasks = one_task_per_object(dict(record), random.Random(0), DOMAIN)
        assert sorted(next(iter(t["scene"]["goal"])) for t in tasks) == sorted(record["scene"]["objects"])
        for task in tasks:
            ((obj, _),) = task["scene"]["goal"].items()
            table = record["scene"]["objects"][obj]
            assert table not in task["task"] and obj in task["task"] and not task["meta"]["source_named"]
            assert task["plan"][:2] == [f"Navigate({table.title()})", f"Pick({obj.title()})"]
            assert simulate(task["plan"], GuideScene.from_dict(task["scene"]), DOMAIN).completed


def test_two_object_task_names_neither_table_and_its_plan_fetches_each_from_its_own(tmp_path):
    out, _ = build(tmp_path, "a", n=30, seed=3)
    seen_apart = 0
    for record in read_records(out / "actions.jsonl"):
        tasks = two_object_task(dict(record), random.Random(0), DOMAIN)
        if len(record["scene"]["objects"]) < 2:
            assert tasks == []
            continue
        (task,) = tasks
        (o1, d1), (o2, d2) = task["scene"]["goal"].items()
        tables = record["scene"]["objects"]
        assert not any(table in task["task"] for table in tables.values())
        assert task["task"].index(o1) < task["task"].index(o2) and task["meta"]["num_objects"] == 2
        assert (
            task["plan"][0] == f"Navigate({tables[o1].title()})"
            and task["plan"][4] == f"Navigate({tables[o2].title()})"
        )
        assert simulate(task["plan"], GuideScene.from_dict(task["scene"]), DOMAIN).completed
        seen_apart += tables[o1] != tables[o2]
    assert seen_apart  # pairs on different tables, the case one-object lookups leave unlearnt


def test_absent_tasks_ask_for_a_thing_of_this_world_the_picture_lacks_and_refuse_naming_it(tmp_path):
    from harp.rewards.hprm import HPRM

    hprm, kinds = HPRM(), Counter()
    out, _ = build(tmp_path, "a", n=20, seed=3)
    for record in read_records(out / "actions.jsonl"):
        tasks = absent_tasks(dict(record), random.Random(0))
        one_absent_object = [
            t for t in tasks if t["meta"]["num_objects"] == 1 and t["scene"]["missing"][0] in world.OBJECTS
        ]
        assert len(one_absent_object) == len(record["scene"]["objects"])  # as many as the lookups that find one
        absent_places = [kind for kind in world.RECEPTACLES if kind not in record["scene"]["locations"]]
        absent_receptacle = [t for t in tasks if t["scene"]["missing"][0] in world.RECEPTACLES]
        assert len(absent_receptacle) == min(len(record["scene"]["objects"]), len(absent_places))
        for task in tasks:
            (missing,) = task["scene"]["missing"]
            drawn = {*record["scene"]["objects"], *record["scene"]["locations"]}
            assert missing not in drawn and missing in task["task"] and missing in {*world.OBJECTS, *world.RECEPTACLES}
            assert not any(table in task["task"] for table in record["scene"]["objects"].values())  # no phrasing cue
            assert task["plan"] == [f"Infeasible({missing.title()})"]
            assert hprm.score(task["plan"], task).total == 1.0  # the refusal is the best answer
            assert hprm.score(record["plan"], task).total < 1.0  # the scene's own feasible plan is not
            kinds[(missing in world.OBJECTS, task["meta"]["num_objects"])] += 1
    assert set(kinds) == {(True, 1), (False, 1), (True, 2)}  # object, receptacle, one of two objects


def test_absent_tasks_with_outside_add_one_thing_no_picture_draws_and_keep_the_rest(tmp_path):
    outside = (world.OUTSIDE_OBJECTS, world.OUTSIDE_PLACES)
    out, _ = build(tmp_path, "a", n=20, seed=3)
    for record in read_records(out / "actions.jsonl"):
        plain, rng = absent_tasks(dict(record), random.Random(0)), random.Random(0)
        with_outside = absent_tasks(dict(record), rng, outside=outside)
        assert with_outside[: len(plain)] == plain  # the same draws first: pretraining's records unchanged
        (extra,) = with_outside[len(plain) :]
        (missing,) = extra["scene"]["missing"]
        assert missing in {*outside[0], *outside[1]} and missing in extra["task"]
        assert extra["plan"] == [f"Infeasible({missing.title()})"]


def test_lookup_tasks_with_absent_add_refusals_and_keep_every_lookup(tmp_path):
    out, _ = build(tmp_path, "a", n=10, seed=3)
    records = [dict(record) for record in read_records(out / "actions.jsonl")]
    rows = with_lookup_tasks(records, random.Random(1), DOMAIN, absent=True)
    refusals = [row for row in rows if row["plan"][0].startswith("Infeasible")]
    assert len(rows) - len(refusals) == len(records) + sum(len(r["scene"]["objects"]) for r in records)
    assert len(refusals) >= 2 * len(records)


def test_lookup_tasks_without_two_object_are_the_one_object_tasks_alone(tmp_path):
    out, _ = build(tmp_path, "a", n=10, seed=3)
    records = [dict(record) for record in read_records(out / "actions.jsonl")]
    rows = with_lookup_tasks(records, random.Random(1), DOMAIN)
    assert len(rows) == len(records) + sum(len(r["scene"]["objects"]) for r in records)
    assert all(row["meta"]["num_objects"] == 1 for row in rows if row not in records)
