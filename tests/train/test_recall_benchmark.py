"""benchmarks/recall.py: the text encoding of a scene, the shortcut it is measured against, a 2-step run."""

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import recall  # noqa: E402


def test_a_scene_reads_as_pairs_then_the_question_and_the_answer_is_the_asked_key_s_colour():
    pairs, asked = [(0, 1), (3, 2)], 3
    tokens, extras, answer = recall.encode(pairs, asked)
    k = recall.FIRST_KEY
    assert set(extras) == {recall.PAD} and len(extras) == len(tokens)
    assert tokens[-3:] == [recall.WHERE, k + 3, recall.ASK]
    assert answer == recall.FIRST_COLOUR + 2
    assert recall.shortcut_answer([(0, 1), (3, 2), (4, 2)]) == recall.FIRST_COLOUR + 2  # most listed


def test_test_scenes_list_two_colours_and_copy_examples_list_only_the_asked_pair():
    rng = random.Random(0)
    for _ in range(200):
        pairs, asked = recall.scene_example(rng, mixed_colours=True)
        assert len({c for _, c in pairs}) > 1 and asked in dict(pairs)
        pairs, asked = recall.random_keys_example(rng, 64, copy=True)
        assert [k for k, _ in pairs] == [asked]


def test_a_two_step_run_prints_its_final_accuracy(capsys):
    assert recall.main(["--steps", "2", "--batch_size", "4", "--eval_every", "2", "--train", "curriculum"]) == 0
    out = capsys.readouterr().out
    assert "final scene recall accuracy" in out and "shortcut" in out


def test_multi_query_samples_ask_the_first_question_as_the_test_does_and_put_the_loss_on_every_answer():
    pairs, asked = [(0, 1), (3, 2), (5, 4)], 3
    tokens, _, targets = recall.encode_queries(pairs, asked, random.Random(0), queries=4)
    single, _, answer = recall.encode(pairs, asked)
    assert tokens[: len(single)] == single and tokens[len(single)] == answer  # the test's prompt, then its answer
    asks = [i for i, t in enumerate(tokens) if t == recall.ASK]
    assert len(asks) == 4 and [i for i, t in enumerate(targets) if t != -100] == asks
    colours = dict(pairs)
    for i in asks:  # the target at each question is the asked key's colour, and it is written next
        assert targets[i] == tokens[i + 1] == recall.FIRST_COLOUR + colours[tokens[i - 1] - recall.FIRST_KEY]


def test_a_two_step_multi_query_run_prints_its_final_accuracy(capsys):
    assert (
        recall.main(
            ["--steps", "2", "--batch_size", "4", "--eval_every", "2", "--train", "random_keys", "--queries", "3"]
        )
        == 0
    )
    assert "queries=3" in capsys.readouterr().out


def test_wide_values_run_over_the_colours_then_the_key_tokens():
    rng = random.Random(0)
    values = {v for _ in range(500) for _, v in recall.random_keys_example(rng, 16, num_values=21)[0]}
    assert values == set(range(21))  # 5 colours + 16 keys
    _, _, answer = recall.encode([(2, 7)], 2)
    assert answer == recall.FIRST_KEY + 2  # value 7 is the third key token
    assert (
        recall.main(
            [
                "--steps",
                "2",
                "--batch_size",
                "4",
                "--eval_every",
                "2",
                "--train",
                "random_keys",
                "--num_keys",
                "16",
                "--num_values",
                "21",
            ]
        )
        == 0
    )


def test_a_fused_pair_is_one_position_holding_its_key_and_its_value(monkeypatch, capsys):
    monkeypatch.setattr(recall, "FUSED", True)
    tokens, extras, answer = recall.encode([(0, 1), (3, 2)], 3)
    k, c = recall.FIRST_KEY, recall.FIRST_COLOUR
    assert tokens == [recall.BOS, k + 0, k + 3, recall.WHERE, k + 3, recall.ASK]
    assert extras == [recall.PAD, c + 1, c + 2, recall.PAD, recall.PAD, recall.PAD] and answer == c + 2
    assert (
        recall.main(
            [
                "--steps",
                "2",
                "--batch_size",
                "4",
                "--eval_every",
                "2",
                "--fused",
                "--queries",
                "2",
                "--train",
                "random_keys",
            ]
        )
        == 0
    )
    assert "fused=True" in capsys.readouterr().out


def test_asked_once_the_key_comes_only_before_the_pairs(monkeypatch):
    monkeypatch.setattr(recall, "ASK_ONCE", True)
    tokens, _, answer = recall.encode([(0, 1), (3, 2)], 3)
    k, c = recall.FIRST_KEY, recall.FIRST_COLOUR
    assert tokens == [
        recall.BOS,
        recall.WHERE,
        k + 3,
        recall.ASK,
        k + 0,
        recall.COLON,
        c + 1,
        recall.DOT,
        k + 3,
        recall.COLON,
        c + 2,
        recall.DOT,
        recall.ASK,
    ]
    assert answer == c + 2


def test_a_fixed_pool_of_training_scenes_is_reported_with_its_overlap_with_the_test(capsys):
    assert recall.main(["--steps", "2", "--batch_size", "4", "--eval_every", "2", "--train_scenes", "50"]) == 0
    assert "training pool: 50 scenes (" in capsys.readouterr().out
