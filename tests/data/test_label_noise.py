"""--label-noise: teacher-like mistakes that the build's check misses, H-PRM (with the true scene) catches."""

import random

import pytest

from harp.data.build import check_plan
from harp.data.label_noise import KINDS, add_label_noise, noisy_plan
from harp.data.synthetic import build_synthetic, synthetic_record
from harp.plan import GuideScene, load_domain, simulate
from harp.rewards.hprm import HPRM

DOMAIN = load_domain("navigate_pick_place")


def records(n=120, infeasible=0.0):
    return [synthetic_record(i, 0, DOMAIN, f"scene_{i}.png", infeasible)[0] for i in range(n)]


def test_every_kind_passes_the_build_check_and_h_prm_sees_what_it_can():
    hprm = HPRM(DOMAIN)
    seen = {kind: 0 for kind in KINDS}
    for index, record in enumerate(records(infeasible=0.2)):
        rng = random.Random(index)
        noisy = add_label_noise(record, 1.0, rng, DOMAIN)
        kind = noisy["meta"]["label_noise"]
        seen[kind] += 1
        assert noisy["scene"] == record["scene"]  # the true scene stays
        assert noisy["plan"] != record["plan"]
        assert check_plan(noisy["plan"], DOMAIN).reason is None  # the teacher build would accept it
        score = hprm.score(", ".join(noisy["plan"]), noisy)
        if kind in ("wrong_table", "wrong_receptacle"):
            assert not score.completed, noisy  # with the true scene: the task fails
        elif kind == "redundant_step":
            assert score.completed and score.error_type == "inefficient"
        elif kind == "never_refuses":  # a confident plan naming what the picture lacks
            assert record["plan"][0].startswith("Infeasible(") and score.error_type == "hallucination"
        else:  # wrong order: still optimal; only the task's mention order is broken
            assert score.completed and score.plan_length == len(record["plan"])
    assert all(seen.values()), seen


def test_wrong_table_only_where_the_task_does_not_name_it():
    for index, record in enumerate(records()):
        noisy = add_label_noise(record, 1.0, random.Random(index), DOMAIN)
        if noisy["meta"]["label_noise"] == "wrong_table":
            assert not record["meta"]["source_named"]


def test_the_share_is_about_p_and_scenes_do_not_change(tmp_path):
    clean = build_synthetic(60, seed=3, images_dir=tmp_path / "a", output_dir=tmp_path / "a", progress=False)
    noisy = build_synthetic(
        60, seed=3, images_dir=tmp_path / "b", output_dir=tmp_path / "b", progress=False, label_noise=0.5
    )
    assert clean["label_noise"] == {} and 18 <= sum(noisy["label_noise"].values()) <= 42
    for name in ("scene_00007_0.png", "scene_00042_0.png"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_one_kind_errs_on_a_share_of_the_records_where_it_can_happen():
    """A teacher's blind spot (`--label-noise-kinds wrong_table`): only that mistake, only where it can
    happen, on about a share P of those records; every other record keeps its plan."""
    applicable = noisy = 0
    for index, record in enumerate(records(200)):
        out = add_label_noise(record, 0.6, random.Random(index), DOMAIN, ("wrong_table",))
        tables = [place for place in record["scene"]["locations"] if place.endswith("table")]
        can = not record["meta"]["source_named"] and len(tables) > 1
        applicable += can
        if "label_noise" in out["meta"]:
            assert can and out["meta"]["label_noise"] == "wrong_table" and out["plan"] != record["plan"]
            noisy += 1
        else:
            assert out == record
    assert 0.45 * applicable <= noisy <= 0.75 * applicable, (noisy, applicable)


def test_all_kinds_is_the_default_draw(tmp_path):
    """Naming every kind draws exactly what the default does (the same bytes as before the option)."""
    one = build_synthetic(
        30, seed=5, images_dir=tmp_path / "a", output_dir=tmp_path / "a", progress=False, label_noise=0.4
    )
    two = build_synthetic(
        30,
        seed=5,
        images_dir=tmp_path / "b",
        output_dir=tmp_path / "b",
        progress=False,
        label_noise=0.4,
        label_noise_kinds=tuple(reversed(KINDS)),
    )
    assert one["label_noise"] == two["label_noise"]
    plans = [(tmp_path / d / "actions.jsonl").read_text().replace(f"/{d}/", "/") for d in "ab"]
    assert plans[0] == plans[1]


def test_bad_share_and_kind_are_one_line_errors(tmp_path):
    from harp.errors import DataError

    with pytest.raises(DataError, match="--label-noise must be a share between 0 and 1"):
        build_synthetic(2, label_noise=1.5, images_dir=tmp_path, output_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match="unknown label-noise kind"):
        noisy_plan(records(1)[0], "typo", random.Random(0))
    with pytest.raises(DataError, match="--label-noise-kinds: unknown label-noise kind 'typo'"):
        build_synthetic(
            2, label_noise=0.5, label_noise_kinds=("typo",), images_dir=tmp_path, output_dir=tmp_path, progress=False
        )


def test_simulate_on_true_scene_is_unchanged_for_clean_records():
    for record in records(20):
        assert simulate(record["plan"], GuideScene.from_dict(record["scene"]), DOMAIN).completed
