"""grammar_log_mass: what the unmasked policy puts inside the plan grammar, the term
`training.grammar_leak_weight` raises."""

import torch

from harp.train.grpo_trainer import grammar_log_mass


def test_the_log_mass_is_what_the_softmax_puts_on_the_allowed_tokens():
    logits = torch.tensor([[[2.0, 0.0, -1.0, 1.0], [0.5, 0.5, 0.5, 0.5]]])
    allowed = torch.tensor([[[True, False, False, True], [True, True, True, True]]])
    token_ids = torch.tensor([[0, 2]])
    mass = grammar_log_mass(logits, allowed, token_ids)
    inside = logits[0, 0].softmax(-1)[[0, 3]].sum()
    assert torch.allclose(mass[0, 0], inside.log())
    assert mass[0, 1] == 0.0  # all allowed: nothing outside


def test_a_token_the_grammar_did_not_allow_counts_zero_with_finite_gradients():
    # a negative read from a file: its token is outside the grammar, and here nothing is allowed at all
    logits = torch.randn(1, 2, 5, requires_grad=True)
    allowed = torch.zeros(1, 2, 5, dtype=torch.bool)
    allowed[0, 0, 1] = True
    mass = grammar_log_mass(logits, allowed, torch.tensor([[3, 4]]))
    assert mass[0, 0] == 0.0 and mass[0, 1] == 0.0
    (-mass.sum()).backward()
    assert torch.isfinite(logits.grad).all()


def test_raising_the_mass_moves_probability_into_the_grammar():
    logits = torch.zeros(1, 1, 4, requires_grad=True)
    allowed = torch.tensor([[[True, True, False, False]]])
    (-grammar_log_mass(logits, allowed, torch.tensor([[0]])).sum()).backward()
    assert (logits.grad[0, 0, :2] < 0).all() and (logits.grad[0, 0, 2:] > 0).all()  # descent raises the allowed
