"""Group advantages with negatives: the baseline comes from the sampled candidates only."""

import pytest
import torch

from harp.train.advantages import sampled_baseline_advantages

NEG = torch.tensor([False, False, False, True])


def test_identical_sampled_plans_get_zero_advantage_whatever_the_negative():
    for negative_reward in (-1.0, -0.5, 0.19, 0.9):
        for scale in ("group", "batch", "none"):
            rewards = torch.tensor([0.2, 0.2, 0.2, negative_reward])
            advantages, tie = sampled_baseline_advantages(rewards, NEG, 4, scale)
            assert advantages[:3].tolist() == [0.0, 0.0, 0.0], (negative_reward, scale)
            assert tie.tolist() == [True]


def test_a_negative_is_pushed_down_against_the_sampled_baseline_and_never_up():
    advantages, _ = sampled_baseline_advantages(torch.tensor([0.2, 0.4, 0.6, -0.8]), NEG, 4, "none")
    assert advantages[3].item() == pytest.approx(-0.8 - 0.4)
    # a negative that beats the samples (they are garbage) is not reinforced
    advantages, _ = sampled_baseline_advantages(torch.tensor([-1.0, -0.9, -1.0, 0.5]), NEG, 4, "group")
    assert advantages[3].item() == 0.0
    # in an all-tie group a worse negative still gets a finite push down (the largest sampled |z|)
    advantages, _ = sampled_baseline_advantages(torch.tensor([1.0, 1.0, 1.0, 0.3]), NEG, 4, "group")
    assert advantages[3].item() == pytest.approx(-2 / 3**0.5)


def test_sampled_advantages_do_not_depend_on_the_negative():
    sampled = [0.1, 0.5, 0.9]
    first, _ = sampled_baseline_advantages(torch.tensor(sampled + [-1.0]), NEG, 4, "group")
    second, _ = sampled_baseline_advantages(torch.tensor(sampled + [0.3]), NEG, 4, "group")
    assert first[:3].tolist() == second[:3].tolist()
    expected = (torch.tensor(sampled) - 0.5) / (torch.tensor(sampled).std() + 1e-4)
    assert first[:3].tolist() == pytest.approx(expected.tolist(), abs=1e-6)


def test_groups_are_independent_and_batch_scale_pools_the_sampled_rows():
    rewards = torch.tensor([0.0, 1.0, -1.0, 0.5, 0.5, -1.0])
    flags = torch.tensor([False, False, True, False, False, True])
    advantages, tie = sampled_baseline_advantages(rewards, flags, 3, "batch")
    pooled = torch.tensor([0.0, 1.0, 0.5, 0.5]).std()
    assert advantages[0].item() == pytest.approx(-0.5 / (pooled.item() + 1e-4), abs=1e-5)
    assert advantages[3:5].tolist() == [0.0, 0.0]
    assert tie.tolist() == [False, True]


def test_bad_arguments_are_one_line_errors():
    with pytest.raises(ValueError, match="scale_rewards"):
        sampled_baseline_advantages(torch.zeros(4), NEG, 4, "grouped")
    with pytest.raises(ValueError, match="at least one sampled"):
        sampled_baseline_advantages(torch.zeros(2), torch.tensor([True, True]), 2)


def test_a_refusal_probe_is_measured_against_the_sampled_baseline_both_ways():
    """A probe (a written refusal) is pushed up where it beats the sampled plans, down where it loses,
    never harder than the bound, and it moves no sampled row's advantage."""
    written = torch.tensor([False, False, False, True, True])
    probe = torch.tensor([False, False, False, True, False])
    beaten = torch.tensor([0.2, 0.1, 0.3, 0.45, -0.8])  # an impossible task: the plans get 0.2 at best
    advantages, _ = sampled_baseline_advantages(beaten, written, 5, "none", probe)
    assert advantages[3].item() == pytest.approx(0.45 - 0.2)
    assert advantages[4].item() == pytest.approx(-0.8 - 0.2)  # the negative beside it as before
    plain, _ = sampled_baseline_advantages(beaten, written, 5, "none")
    assert advantages[:3].tolist() == plain[:3].tolist()
    assert plain[3].item() == 0.0  # the same row taken for a negative is never pushed up
    losing, _ = sampled_baseline_advantages(torch.tensor([0.9, 1.0, 0.9, -0.3, 0.0]), written, 5, "group", probe)
    assert losing[3].item() == pytest.approx(-2 / 3**0.5)  # clipped at the largest sampled |z|
    tied, _ = sampled_baseline_advantages(torch.tensor([0.2, 0.2, 0.2, 1.0, 0.0]), written, 5, "group", probe)
    assert tied[3].item() == pytest.approx(2 / 3**0.5)  # all plans tie: the probe still counts
