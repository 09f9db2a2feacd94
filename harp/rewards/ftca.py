"""FTCA: fine-grained token-level credit assignment for GRPO (docs/internals.md §4).

Standard GRPO gives every completion token the sequence advantage A. FTCA gives token t

    A_t = w_t · A + α · w_t · (p_step(t) − p̄)

- `step(t)`: the parsed step whose character span the token overlaps most (from the tokenizer's
  offsets and the parser's spans); `p_step` is that step's H-PRM step score, `p̄` the mean step
  score over the group's completions.
- `w_t`: a token-type weight, action name (1.5) > argument (1.0) > punctuation and anything else
  (0.5), rescaled so that mean(w_t) over the completion is exactly 1. So Σ_t w_t·A = T·A: the
  sequence's advantage mass is kept and only moved between its tokens. The step term is centred
  on the group mean, so across a group it moves credit between completions' steps rather than
  adding any.
- **Tokens in no step** (separating commas and spaces, stray text, the end-of-sequence token,
  empty offsets of special tokens) have no step score of their own: they take `p̄`, so their
  step term is zero and they get w_t·A with the lowest weight. Stray text is still pushed down
  through A itself, which is low for a plan with format errors (H-PRM's format level).

The on/off switch is the config's `reward.use_ftca`, read by the GRPO trainer alone: off, it leaves
TRL's one advantage per completion untouched (exactly standard GRPO) and never calls this module.
Pure Python, no torch: the GRPO trainer turns the lists into a (B, T) tensor.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence

from harp.plan.parser import Step

ACTION_WEIGHT = 1.5  # the action name decides the step's validity most
ARGUMENT_WEIGHT = 1.0  # the argument picks the entity
OTHER_WEIGHT = 0.5  # parentheses, commas, spaces, stray text, special tokens


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> int:
    return min(a[1], b[1]) - max(a[0], b[0])


def token_steps(token_offsets: Sequence[Sequence[int]], steps: Sequence[Step]) -> list[tuple[int, float]]:
    """For each token: (index of the step it lies in, or -1; its raw type weight before rescaling)."""
    starts = [s.span[0] for s in steps]
    result = []
    for offset in token_offsets:
        start, end = int(offset[0]), int(offset[1])
        best, best_overlap = -1, 0
        if end > start and steps:
            # Steps are in text order and do not overlap: only the step starting at or before the
            # token's start and the ones starting inside the token can overlap it.
            first = max(0, bisect_right(starts, start) - 1)
            for index in range(first, len(steps)):
                if steps[index].span[0] >= end:
                    break
                overlap = _overlap((start, end), steps[index].span)
                if overlap > best_overlap:
                    best, best_overlap = index, overlap
        if best < 0:
            result.append((-1, OTHER_WEIGHT))
            continue
        step = steps[best]
        if _overlap((start, end), step.action_span) > 0:
            result.append((best, ACTION_WEIGHT))
        elif _overlap((start, end), step.argument_span) > 0:
            result.append((best, ARGUMENT_WEIGHT))
        else:
            result.append((best, OTHER_WEIGHT))
    return result


def token_weights(token_offsets: Sequence[Sequence[int]], steps: Sequence[Step]) -> list[float]:
    """The token-type weights w_t, rescaled to mean 1 over the completion."""
    raw = [weight for _, weight in token_steps(token_offsets, steps)]
    if not raw:
        return []
    scale = len(raw) / sum(raw)
    return [w * scale for w in raw]


def token_advantages(
    token_offsets: Sequence[Sequence[int]],
    steps: Sequence[Step],
    step_scores: Sequence[float],
    advantage: float,
    group_mean_step_score: float,
    alpha: float = 0.5,
) -> list[float]:
    """Per-token advantages A_t for one completion (see the module docstring).

    token_offsets: (start, end) character offsets of the completion's tokens in the text that was
    parsed; steps / step_scores: `RewardBreakdown.steps` / `.step_scores` of that text.

    An invalid step (score -3) in a group whose mean step score is -2, sequence advantage 1.0:
    its tokens keep half of A (the step term takes the rest), the action name the most.

    >>> from harp.plan.parser import parse_plan
    >>> plan = parse_plan("Pick(Apple)")  # tokens "Pick", "(", "Apple", ")"
    >>> [round(a, 2) for a in token_advantages([(0, 4), (4, 5), (5, 10), (10, 11)], plan.steps, [-3.0], 1.0, -2.0)]
    [0.86, 0.29, 0.57, 0.29]
    """
    if len(step_scores) != len(steps):
        raise ValueError(f"{len(steps)} steps but {len(step_scores)} step scores")
    assigned = token_steps(token_offsets, steps)
    if not assigned:
        return []
    scale = len(assigned) / sum(weight for _, weight in assigned)
    result = []
    for index, raw in assigned:
        w = raw * scale
        deviation = (step_scores[index] - group_mean_step_score) if index >= 0 else 0.0
        result.append(w * advantage + alpha * w * deviation)
    return result


def group_mean_step_score(step_scores_per_completion: Iterable[Sequence[float]]) -> float:
    """p̄: the mean step score over all steps of a group's completions (0.0 when none has a step)."""
    total, count = 0.0, 0
    for scores in step_scores_per_completion:
        total += sum(scores)
        count += len(scores)
    return total / count if count else 0.0


def mistake_span(steps: Sequence[Step], step_scores: Sequence[float]) -> tuple[int, int | None]:
    """Where a plan first goes wrong, as character positions in its text: the span of its first
    step that H-PRM scores below optimal (wasted, harmful or invalid), else (the end of its last
    step, None): every step was right, so stopping there was the mistake.

    A verified negative is a small change to a right plan: its steps before the mistake are a right
    plan's, and those after it are right moves from where the mistake left the plan. The GRPO
    trainer pushes a negative down on its mistake only.

    >>> from harp.plan.parser import parse_plan
    >>> plan = parse_plan("Navigate(Table), Pick(Apple), Place(Bin)")
    >>> mistake_span(plan.steps, [0.0, -3.0, 0.0]), mistake_span(plan.steps, [0.0, 0.0, 0.0])
    ((17, 28), (40, None))
    """
    if len(step_scores) != len(steps):
        raise ValueError(f"{len(steps)} steps but {len(step_scores)} step scores")
    for step, score in zip(steps, step_scores):
        if score < 0:
            return step.span[0], step.span[1]
    return (steps[-1].span[1] if steps else 0), None


def on_mistake(
    token_offsets: Sequence[Sequence[int]], steps: Sequence[Step], step_scores: Sequence[float]
) -> list[bool]:
    """For each token, whether it overlaps the plan's first mistake (`mistake_span`); an empty
    special token (the end of turn) counts when it lies in it, or after the last step when
    stopping was the mistake.

    >>> from harp.plan.parser import parse_plan
    >>> plan = parse_plan("Pick(Apple), Place(Bin)")  # tokens "Pick(Apple)", ",", " Place(Bin)", end of turn
    >>> on_mistake([(0, 11), (11, 12), (12, 23), (23, 23)], plan.steps, [-1.0, 0.0])
    [True, False, False, False]
    >>> on_mistake([(0, 11), (11, 12), (12, 23), (23, 23)], plan.steps, [0.0, 0.0])
    [False, False, False, True]
    """
    begin, end = mistake_span(steps, step_scores)
    if end is None:
        return [int(start) >= begin for start, _ in token_offsets]  # a token ends where it starts or later
    return [
        (int(start) < end and int(stop) > begin) if int(stop) > int(start) else (begin <= int(start) < end)
        for start, stop in token_offsets
    ]
