"""Tasks that cannot be done (`harp data build --infeasible P`): what the task asks for is not in the picture,
the label is the refusal naming it, and the feasible scenes are those of P = 0."""

import json
import random

from harp.data import world
from harp.data.synthetic import synthetic_record
from harp.plan import load_domain
from harp.plan.refusal import refusal_step
from harp.rewards.hprm import HPRM

DOMAIN = load_domain("navigate_pick_place")


def test_an_infeasible_task_asks_for_what_the_picture_lacks_and_is_labelled_with_its_refusal():
    hprm = HPRM(DOMAIN)
    kinds = set()
    for index in range(200):
        record, sample = synthetic_record(index, 7, DOMAIN, f"scene_{index}.png", infeasible=0.3)
        plain, _ = synthetic_record(index, 7, DOMAIN, f"scene_{index}.png")
        kind = record["meta"].get("infeasible")
        if kind is None:  # feasible: the very record of P = 0
            assert record == plain
            continue
        kinds.add(kind)
        (missing,) = record["scene"]["missing"]
        drawn = {p.name for p in sample.objects + sample.receptacles + sample.tables}
        assert missing not in drawn and missing in record["task"]  # asked for, not drawn
        assert refusal_step(record["plan"]).argument.lower() == missing
        assert hprm.score(record["plan"], record).total == 1.0
        if kind in ("unknown_object", "unknown_destination"):
            assert missing in world.OUTSIDE_OBJECTS + world.OUTSIDE_PLACES
    assert kinds == set(world.INFEASIBLE_KINDS)


def test_make_infeasible_keeps_the_mention_order_of_the_goal():
    rng = random.Random(3)
    for _ in range(100):
        sample = world.sample_scene(rng)
        changed = world.make_infeasible(sample, random.Random(rng.random()))
        before, after = list(sample.scene["goal"].values()), list(changed.scene["goal"])
        assert len(after) == len(before)
        if changed.meta["infeasible"] == "unknown_object":
            task = changed.task
            assert [task.index(o) for o in after] == sorted(task.index(o) for o in after)


def test_a_held_out_word_renames_a_never_drawn_thing_everywhere_and_leaves_other_records_alone():
    hprm = HPRM(DOMAIN)
    words = set(world.HELD_OUT_OBJECTS + world.HELD_OUT_PLACES)
    known = set(world.OBJECTS) | set(world.RECEPTACLES) | set(world.OUTSIDE_OBJECTS + world.OUTSIDE_PLACES)
    assert not words & known and not any(word in colour for word in words for colour in world.TABLE_COLOURS)
    renamed = 0
    for index in range(200):
        record, _ = synthetic_record(index, 7, DOMAIN, f"scene_{index}.png", infeasible=0.3)
        held_out = world.with_held_out_word(record, index)
        if record["meta"].get("infeasible") not in ("unknown_object", "unknown_destination"):
            assert held_out == record
            continue
        renamed += 1
        (old,) = record["scene"]["missing"]
        (new,) = held_out["scene"]["missing"]
        assert new in words and old not in held_out["task"] and new in held_out["task"]
        assert old not in json.dumps(held_out["scene"]["goal"]) and new in json.dumps(held_out["scene"]["goal"])
        assert refusal_step(held_out["plan"]).argument.lower() == new
        assert hprm.score(held_out["plan"], held_out).total == 1.0  # the renamed refusal is still the answer
        assert held_out["image"] == record["image"] and record["scene"]["missing"] == [old]  # the input is untouched
    assert renamed > 10
