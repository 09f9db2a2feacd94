"""The kitchen world (harp/data/kitchen.py): determinism, plans the alfred domain certifies, every task
type, held-out phrasing kept apart, `harp data build --world kitchen`, and one-line errors.

Each kitchen costs the exact planner ~0.3 s, so the file samples one per task type (shared by the
tests) and a handful more; the planner caches each scene's search, so sampling a kitchen again is
free (the seeds `7:0` and `7:1` are the CLI test's kitchens).
"""

import json
import random
import re

import pytest
from PIL import Image

from harp.cli import main
from harp.data import kitchen_language
from harp.data.images import find_images
from harp.data.kitchen import (
    COMPOSITIONS,
    SLOTS,
    TASK_TYPES,
    build_kitchen,
    kitchen_record,
    lookup_tasks,
    plan_name,
    sample_kitchen,
)
from harp.data.kitchen_render import IMAGE_SIZE, SLOT_CENTRES, render
from harp.data.records import read_records
from harp.data.world import png_bytes
from harp.errors import DataError
from harp.plan import load_domain, optimal_length, parse_plan, simulate

DOMAIN = load_domain("alfred")
DONE = {"heat": "heated", "cool": "cooled", "clean": "cleaned", "slice": "sliced"}
OBJECTS = {"pick_two_obj_and_place": 2, "pick_three_obj_and_place": 3, "two_modified_then_place": 2}  # else 1
# The seed of each type's kitchen (`kitchen-test:TYPE:SEED`): small kitchens, so the file stays fast,
# and a two_modified_then_place of 16 steps.
SEEDS = dict(zip(TASK_TYPES, (4, 4, 2, 5, 5, 4, 3, 5, 2, 0, 3, 3)))


@pytest.fixture(scope="module")
def samples():
    """One kitchen of each task type."""
    return {t: sample_kitchen(random.Random(f"kitchen-test:{t}:{SEEDS[t]}"), DOMAIN, task_type=t) for t in TASK_TYPES}


def test_same_seed_same_scene_task_plan_and_bytes():
    one, two = (sample_kitchen(random.Random("7:0"), DOMAIN) for _ in range(2))  # the CLI test's first kitchen
    assert (one.scene, one.task, one.plan, one.meta) == (two.scene, two.task, two.plan, two.meta)
    assert png_bytes(render(one)) == png_bytes(render(two))
    other = sample_kitchen(random.Random("7:1"), DOMAIN)
    assert (other.scene, png_bytes(render(other))) != (one.scene, png_bytes(render(one)))


def test_every_task_type_is_planned_optimally_in_the_alfred_domain(samples):
    for task_type, sample in samples.items():
        scene = DOMAIN.scene_from_dict(sample.scene)
        trace = simulate(sample.plan, scene, DOMAIN)
        assert trace.completed, (task_type, sample.plan)
        assert len(sample.plan) == optimal_length(scene, DOMAIN) == sample.meta["plan_length"]
        assert sample.meta["task_type"] == task_type and sample.meta["composition"] == (task_type in COMPOSITIONS)
        assert sample.meta["num_objects"] == OBJECTS.get(task_type, 1) == len(sample.jobs)
        assert parse_plan(", ".join(sample.plan)).ok and len(sample.plan) >= 4
        # The goal is the task: each object where it goes, changed as said, what was opened closed.
        goal = sample.scene["goal"]
        for job in sample.jobs:
            if job.destination:
                assert ["in", job.carrier or job.obj, job.destination] in goal
            for modifier in job.modifiers:
                assert [DONE[modifier], job.obj] in goal
        opened = [f"Open({plan_name(name)})" for name in sample.meta["opens"]]
        assert [step for step in sample.plan if step.startswith("Open(")] == opened
        assert all(["not", "opened", name.lower()] in goal for name in sample.meta["opens"])
    assert samples["look_at_obj_in_light"].plan[-1] == "Toggle(DeskLamp)"
    assert "Slice(" in " ".join(samples["slice_then_place"].plan)
    assert samples["pick_from_closed"].plan[1].startswith("Open(")


def test_a_composition_plans_sixteen_steps_in_the_task_s_order(samples):
    sample = samples["two_modified_then_place"]
    assert len(sample.plan) >= 16 and sample.meta["plan_source"] == "mention_order"
    assert all(s.meta["plan_source"] == "mention_order" for s in samples.values())


def test_only_what_the_task_moves_can_be_picked(samples):
    for sample in samples.values():
        pickable = {f[1] for f in sample.scene["init"] if f[0] == "pickable"}
        moved = {job.obj for job in sample.jobs} | {job.carrier for job in sample.jobs if job.carrier}
        assert moved <= pickable <= moved | {"knife"}


def test_held_out_templates_are_never_seen(samples):
    tables = [*kitchen_language.CLAUSES.values(), *kitchen_language.FRAMES.values()]
    tables += kitchen_language.JOINERS.values()
    for table in tables:
        assert table["seen"] and table["held_out"] and not set(table["seen"]) & set(table["held_out"])
    for sample in samples.values():
        words = kitchen_language.Words(
            {f.name: (f.kind, f.number, f.colour) for f in sample.furniture}
            | {i.name: (i.kind, i.number, None) for i in sample.items}
        )
        sources = {i.name: i.inside for i in sample.items}
        for held_out in (False, True):
            for draw in range(4):
                rng = random.Random(f"{sample.meta['task_type']}:{draw}")
                words.said.clear()
                text, phrasing, _ = kitchen_language.say(
                    sample.meta["task_type"], sample.jobs, sources, words, rng, held_out
                )
                parts = phrasing.split("/")
                assert all((":held_out:" in part) == held_out for part in parts), phrasing
                if len(parts) == 1:  # the sentence is the template it names
                    name, *_, index = parts[0].split(":")
                    table = {**kitchen_language.CLAUSES, **kitchen_language.FRAMES}[name]
                    template = table["held_out" if held_out else "seen"][int(index)]
                    pattern = re.escape(template[:1].upper() + template[1:])
                    assert re.fullmatch(re.sub(r"\\\{\w+\\\}", ".+", pattern), text), (template, text)
    assert all(s.meta["language"] == "seen" for s in samples.values())


def test_the_picture_holds_every_item_the_slots_allow():
    assert all(SLOTS[kind] == len(SLOT_CENTRES.get(kind, ())) for kind in SLOTS)
    sample = sample_kitchen(random.Random("7:0"), DOMAIN)
    image = render(sample)
    assert image.size == (IMAGE_SIZE, IMAGE_SIZE) and IMAGE_SIZE % 28 == 0
    assert render(sample, 224).size == (224, 224)


def test_harp_data_build_world_kitchen(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert (
        main(["data", "build", "--source", "synthetic", "--world", "kitchen", "--num-scenes", "2", "--seed", "7"]) == 0
    )
    out = capsys.readouterr().out
    assert "kitchens: 2" in out and "domain alfred" in out
    records = read_records(tmp_path / "actions.jsonl")
    tasks = read_records(tmp_path / "tasks.jsonl", required=("image", "task"))
    processed = (tmp_path / "processed" / "processed_images.txt").read_text().splitlines()
    assert [r["image"] for r in records] == [t["image"] for t in tasks] == processed
    assert processed[0] == "./bdv2/kitchen/kitchen_00000_0.png"
    for index, record in enumerate(records):
        with Image.open(record["image"]) as image:
            assert image.size == (IMAGE_SIZE, IMAGE_SIZE)
        expected, _ = kitchen_record(index, 7, DOMAIN, record["image"])
        assert json.loads(json.dumps(expected)) == record  # the builder writes what the sampler draws
        scene = DOMAIN.scene_from_dict(record["scene"])
        assert simulate(record["plan"], scene, DOMAIN).completed
    assert find_images(tmp_path / "bdv2") == []  # the teacher leaves the renders alone
    # held-out phrasing: the same scenes, pictures and plans
    build_kitchen(2, 7, tmp_path / "held" / "kitchen", tmp_path / "held", progress=False, language="held_out")
    held = read_records(tmp_path / "held" / "actions.jsonl")
    assert [(r["scene"], r["plan"]) for r in held] == [(r["scene"], r["plan"]) for r in records]
    assert all(r["meta"]["language"] == "held_out" for r in held)
    assert (tmp_path / "held" / "kitchen" / "kitchen_00001_0.png").read_bytes() == (
        tmp_path / "bdv2" / "kitchen" / "kitchen_00001_0.png"
    ).read_bytes()


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--infeasible", "0.2"], "--infeasible: only with --world tabletop"),
        (["--three-objects", "0.5"], "--three-objects: only with --world tabletop"),
        (["--language", "varied", "--phrasings", "2"], "--phrasings: only with --world tabletop"),
        (["--domain", "drawers"], "--domain drawers: the kitchen world plans in the alfred domain"),
    ],
)
def test_kitchen_refuses_what_it_cannot_do_in_one_line(tmp_path, capsys, monkeypatch, flags, message):
    monkeypatch.chdir(tmp_path)
    assert main(["data", "build", "--source", "synthetic", "--world", "kitchen", "--num-scenes", "1", *flags]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not (tmp_path / "actions.jsonl").exists()


def test_bad_world_and_bad_arguments(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as caught:
        main(["data", "build", "--source", "synthetic", "--world", "house"])
    assert caught.value.code == 2 and "invalid choice: 'house'" in capsys.readouterr().err
    assert main(["data", "build", "--world", "kitchen"]) == 1  # the teacher labels the user's images
    assert "--world: only with --source synthetic" in capsys.readouterr().err
    with pytest.raises(DataError, match="--num-scenes must be at least 1"):
        build_kitchen(0, progress=False)
    with pytest.raises(DataError, match="--language must be one of"):
        build_kitchen(1, language="klingon", progress=False)
    with pytest.raises(DataError, match="unknown kitchen task type 'juggle'"):
        sample_kitchen(random.Random(0), DOMAIN, task_type="juggle")


def test_lookups_go_where_the_picture_shows_each_item_and_are_optimal(samples):
    rng = random.Random(0)
    for task_type in ("pick_from_closed", "pick_two_obj_and_place", "two_modified_then_place"):
        sample = samples[task_type]
        record = {"image": "x.png", "task": sample.task, "plan": sample.plan, "scene": sample.scene, "meta": {}}
        rows = lookup_tasks(record, rng, DOMAIN)
        items = [name for name, kind in sample.scene["entities"].items() if kind == "item"]
        kinds = [name.partition(" ")[0] for name in items]
        assert len(rows) == sum(kinds.count(kind) == 1 for kind in kinds) > 0  # each item of a kind held once
        for row in rows:
            scene = DOMAIN.scene_from_dict(row["scene"])
            assert simulate(row["plan"], scene, DOMAIN).completed
            assert optimal_length(scene, DOMAIN) == len(row["plan"])  # exact: no shorter plan
            assert not any(word in row["task"] for word in ("counter", "cabinet", "fridge", "drawer", "table", "sink"))
            assert row["meta"]["source_named"] is False and row["image"] == "x.png"
        closed = [row for row in rows if row["plan"][1].startswith("Open(")]
        if task_type == "pick_from_closed":  # its object comes out of a closed container: opened, then closed
            assert closed and all(row["plan"][-1] == row["plan"][1].replace("Open", "Close") for row in closed)
