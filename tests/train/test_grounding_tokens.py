"""benchmarks/grounding_tokens.py: each object's image token is labelled with it and its table's colour; a 2-step run."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import grounding_tokens  # noqa: E402

from harp.data.records import read_records  # noqa: E402
from harp.data.world import OBJECTS  # noqa: E402


@pytest.fixture(scope="module")
def regime(tmp_path_factory):
    from harp.data.split import split_records
    from harp.data.synthetic import build_synthetic

    root = tmp_path_factory.mktemp("grounding")
    build_synthetic(num_scenes=20, seed=3, images_dir=root / "bdv2", output_dir=root, progress=False)
    split_records(root / "actions.jsonl", root / "data")
    return root


def test_each_object_s_token_holds_the_object_and_its_table_s_colour(regime):
    for record in read_records(regime / "actions.jsonl"):
        objects, colours = grounding_tokens.token_labels(record, data_seed=3)
        where = record["scene"]["objects"]
        placed = {OBJECTS[o - 1]: grounding_tokens.COLOURS[c - 1] for o, c in zip(objects, colours) if o}
        assert placed == {obj: table.split()[0] for obj, table in where.items()}
    with pytest.raises(SystemExit, match="not scene"):
        grounding_tokens.token_labels(record, data_seed=4)  # another world: the objects differ


def test_more_training_scenes_leave_out_the_test_and_val_scenes(regime):
    path = grounding_tokens.training_records(regime, data_seed=3, train_scenes=30, every_object=False)
    ids = [record["id"] for record in read_records(path)]
    held_out = {r["id"] for name in ("sft_val.jsonl", "sft_test.jsonl") for r in read_records(regime / "data" / name)}
    assert len(ids) == 30 - len(held_out) and not held_out & set(ids)
    for record in read_records(path):  # the first 20 of the 30 are the regime's own scenes
        grounding_tokens.token_labels(record, data_seed=3)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["aux", "oracle", "oracle_text"])
def test_a_two_step_run_prints_completion_by_task_kind(regime, mode, capsys):
    more = ["--train_scenes", "24", "--every_object"] if mode == "oracle_text" else []
    assert (
        grounding_tokens.main(
            ["--data", str(regime), "--data_seed", "3", "--mode", mode, "--max_steps", "2", "--limit", "4"] + more
        )
        == 0
    )
    out = capsys.readouterr().out
    assert f"mode={mode} seed=1 test+val 4: task completion" in out and "most-loaded" in out
    assert (f"mode={mode} seed=1 test+val 4 blank images: task completion" in out) == (mode == "aux")
