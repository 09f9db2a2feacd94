"""FTCA: token types, step assignment, mass kept, identity when disabled."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harp.plan.parser import parse_plan
from harp.rewards.ftca import (
    ACTION_WEIGHT,
    ARGUMENT_WEIGHT,
    OTHER_WEIGHT,
    group_mean_step_score,
    token_advantages,
    token_steps,
    token_weights,
)

TEXT = "Navigate(Table), Place(Basket)"


def word_offsets(text):
    """A stand-in tokenizer: words, single punctuation marks and spaces, plus an end token (n, n)."""
    return [m.span() for m in re.finditer(r"[A-Za-z]+|\s+|.", text)] + [(len(text), len(text))]


def test_token_types_and_steps():
    steps = parse_plan(TEXT).steps
    offsets = word_offsets(TEXT)
    pieces = [TEXT[a:b] for a, b in offsets]
    assigned = dict(zip(pieces, token_steps(offsets, steps)))
    assert assigned["Navigate"] == (0, ACTION_WEIGHT)
    assert assigned["Table"] == (0, ARGUMENT_WEIGHT)
    assert assigned["Basket"] == (1, ARGUMENT_WEIGHT)
    assert assigned[","] == (-1, OTHER_WEIGHT)  # between steps: in no step
    assert assigned[""] == (-1, OTHER_WEIGHT)  # the end-of-sequence token


def test_a_token_spanning_two_steps_goes_to_the_one_it_overlaps_most():
    steps = parse_plan("Pick(A),Place(B)").steps
    assert token_steps([(5, 9)], steps) == [(0, ARGUMENT_WEIGHT)]  # "A),P": 2 chars of step 0, 1 of step 1
    assert token_steps([(6, 10)], steps) == [(1, ACTION_WEIGHT)]  # "),Pl": 1 char of step 0, 2 of step 1


def test_bad_step_is_pushed_down_good_step_spared():
    steps = parse_plan(TEXT).steps
    offsets = word_offsets(TEXT)
    pieces = [TEXT[a:b] for a, b in offsets]
    ftca = dict(zip(pieces, token_advantages(offsets, steps, [0.0, -3.0], -1.0, -1.0, alpha=0.5)))
    weights_only = dict(zip(pieces, token_advantages(offsets, steps, [0.0, -3.0], -1.0, -1.0, alpha=0.0)))
    assert ftca["Place"] == min(ftca.values())  # the invalid step's action name is pushed down hardest
    assert ftca["Navigate"] > weights_only["Navigate"]  # the valid step of the failed plan is spared
    assert ftca["Place"] < weights_only["Place"]
    assert ftca[","] == weights_only[","]  # tokens in no step get no step term


def test_no_tokens_and_no_steps():
    assert token_advantages([], (), [], 1.0, 0.0) == []
    assert token_advantages([(0, 3), (3, 5)], (), [], 0.5, -1.0) == [0.5, 0.5]  # unparseable: plain A


def test_mismatched_scores_are_a_bug():
    with pytest.raises(ValueError):
        token_advantages([(0, 1)], parse_plan(TEXT).steps, [0.0], 1.0, 0.0)


def test_group_mean_step_score():
    assert group_mean_step_score([[0.0, -3.0], [], [0.0, 0.0]]) == pytest.approx(-0.75)
    assert group_mean_step_score([[], []]) == 0.0


_plans = st.lists(
    st.sampled_from(["Navigate(Table)", "Pick(Apple)", "Place(Basket)", "Grab(X)", "junk", ")"]), max_size=6
).map(", ".join)


@settings(max_examples=200, deadline=None)
@given(_plans, st.floats(-3, 3), st.floats(-3, 0), st.floats(0, 2), st.data())
def test_weights_keep_the_advantage_mass(text, advantage, mean_score, alpha, data):
    steps = parse_plan(text).steps
    offsets = word_offsets(text)
    scores = data.draw(st.lists(st.sampled_from([0.0, -1.0, -2.0, -3.0]), min_size=len(steps), max_size=len(steps)))
    weights = token_weights(offsets, steps)
    assert sum(weights) / len(weights) == pytest.approx(1.0)
    values = token_advantages(offsets, steps, scores, advantage, mean_score, alpha=alpha)
    assert len(values) == len(offsets)
    step_of = [index for index, _ in token_steps(offsets, steps)]
    step_term = sum(alpha * w * (scores[i] - mean_score) for w, i in zip(weights, step_of) if i >= 0)
    # Σ A_t = T·A (mass kept) plus the group-centred step term; alpha = 0 keeps it exactly.
    assert sum(values) == pytest.approx(len(values) * advantage + step_term, abs=1e-9)
    zero_alpha = token_advantages(offsets, steps, scores, advantage, mean_score, alpha=0.0)
    assert sum(zero_alpha) == pytest.approx(len(values) * advantage, abs=1e-9)


def test_docstring_example_runs():
    import doctest

    from harp.rewards import ftca

    result = doctest.testmod(ftca)
    assert result.attempted >= 2 and result.failed == 0  # the example is there and runs
