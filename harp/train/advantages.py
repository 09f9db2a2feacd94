"""Group advantages when verified negatives share a GRPO group with the sampled candidates.

TRL normalises every row of a group against the mean (and std) of the whole group. With a
negative in the group that is wrong: when the sampled candidates all produce the same wrong plan,
a still-worse negative lowers the group mean, the sampled plans' advantage turns *positive*, and
GRPO reinforces the model's own mistake (and the group never reads as "zero std"). So here:

- the baseline (mean, and the std `scale_rewards` divides by) comes from the **sampled** rows only;
  a negative never moves the sampled rows' advantages;
- a group whose sampled rows all tie gives them advantage exactly 0, whatever its negatives;
- a negative gets its advantage against that baseline, clipped to `[-bound, 0]`: a verified-wrong
  plan is only ever pushed down (a negative that happens to beat a garbage sample is left alone),
  and never harder than the most extreme sampled row could be. With std scaling, that bound is
  the largest |z| a row of `n` sampled values can reach, `(n - 1) / sqrt(n)`; this also gives a
  negative in an all-tie group (std 0) a finite advantage. Without scaling it is 2, the widest
  reward gap (rewards lie in [-1, 1]).
- a refusal probe (`is_probe`, a written row too: harp.train.grpo_trainer) is measured against the
  same baseline within `[-bound, bound]`: a refusal that beats the group's plans is pushed up.

`scale_rewards` follows TRL: "group" divides by the sampled rows' std in each group, "batch" by the
std of all sampled rows in the batch, "none" does not divide.
"""

from __future__ import annotations

import torch

EPSILON = 1e-4  # TRL's: advantages / (std + 1e-4)


def advantage_bound(sampled: torch.Tensor, scale_rewards: str) -> torch.Tensor:
    """The largest advantage a written row may take in a group of `sampled` sampled rows (see above)."""
    if scale_rewards == "none":
        return torch.full_like(sampled, 2.0, dtype=torch.float32)
    n = sampled.to(torch.float32)
    return torch.clamp((n - 1) / torch.sqrt(n), min=1.0)  # a lone sampled row still lets a negative count


def sampled_baseline_advantages(
    rewards: torch.Tensor,
    is_negative: torch.Tensor,
    group_size: int,
    scale_rewards: str = "group",
    is_probe: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row advantages, and a per-group flag "the sampled rows all tie".

    rewards: (B,) total reward of each row, B a multiple of `group_size`; groups are consecutive rows.
    is_negative: (B,) bool, True for a written row (a negative or a probe); every group needs at least
    one sampled row. is_probe: (B,) bool, True for a probe (one of the written rows).

    >>> r = torch.tensor([0.2, 0.2, 0.2, -0.9])  # three identical wrong samples and a worse negative
    >>> a, tie = sampled_baseline_advantages(r, torch.tensor([False, False, False, True]), 4)
    >>> a.tolist()[:3], round(a[3].item(), 4), tie.tolist()
    ([0.0, 0.0, 0.0], -1.1547, [True])
    """
    if scale_rewards not in ("group", "batch", "none"):
        raise ValueError(f"scale_rewards must be 'group', 'batch' or 'none', got {scale_rewards!r}")
    rewards = rewards.to(torch.float32)
    grouped = rewards.view(-1, group_size)
    negative = is_negative.to(torch.bool).view(-1, group_size)
    sampled = ~negative
    counts = sampled.sum(dim=1)
    if bool((counts == 0).any()):
        raise ValueError("every GRPO group needs at least one sampled candidate")
    values = torch.where(sampled, grouped, torch.zeros_like(grouped))
    mean = values.sum(dim=1) / counts
    centred = torch.where(sampled, grouped - mean[:, None], torch.zeros_like(grouped))
    # Bessel-corrected like TRL's nanstd; a lone sampled row has no spread.
    std = torch.sqrt((centred**2).sum(dim=1) / (counts - 1).clamp(min=1))
    tie = (centred.abs() <= 1e-6).all(dim=1)
    advantages = grouped - mean[:, None]
    if scale_rewards != "none":
        if scale_rewards == "batch":
            pool = grouped[sampled]
            batch_std = pool.std() if pool.numel() > 1 else torch.tensor(0.0)
            std = batch_std.expand_as(std)
        advantages = advantages / (std[:, None] + EPSILON)
    bound = advantage_bound(counts, scale_rewards)
    advantages = torch.where(sampled & tie[:, None], torch.zeros_like(advantages), advantages)
    probe = negative & (False if is_probe is None else is_probe.to(torch.bool).view(-1, group_size))
    ceiling = torch.where(probe, bound[:, None], torch.zeros_like(advantages))
    clipped = torch.maximum(torch.minimum(advantages, ceiling), -bound[:, None])
    advantages = torch.where(negative, clipped, advantages)
    return advantages.reshape(-1), tie
