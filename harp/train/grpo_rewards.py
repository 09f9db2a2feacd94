"""H-PRM as TRL reward functions: one per component, so TRL weights and logs each on its own.

TRL calls every reward function with the batch's completions and the dataset's extra columns,
here `example` (the prompt's record as JSON: task, reference plan, scene). The five functions
`format`, `action`, `transition`, `task` and `efficiency` share one scorer that runs H-PRM once
per completion and keeps the last batch's breakdowns, so the other four calls, and FTCA after
them, reuse them instead of scoring again.

With the weights normalised to sum 1 (`reward_weights`), TRL's weighted sum equals H-PRM's
`total`, so `train/reward` reads on the same scale as the evaluator's `avg_reward`.

Two training-only readings of the components. `binary_task`: the task level is 1 or -1, no credit for
progress. `slip_penalty`: a plan whose first failure is an invalid action or transition is served as
its valid prefix, stopped there (task credit from the prefix's progress, `slip_progress`), with the
penalty taken off its transition component. H-PRM's strict order ranks any valid plan that stops
early above one that tries further and slips, so under it GRPO learns to stop (docs/results.md §8,
§9); with the penalty a slip after more progress ranks above stopping earlier, and a slip where the
plan could have stopped ranks below stopping there. Refusals and plans for impossible tasks keep
H-PRM's scores.

Example:

    >>> scorer = HPRMScorer(hprm)
    >>> format_reward = scorer.functions()[0]
    >>> format_reward([[{"role": "assistant", "content": "Navigate(Table), Pick(Apple)"}]], example=[record_json])
    [1.0]
"""

from __future__ import annotations

import json
from collections.abc import Callable

from harp.rewards.vocabulary import COMPONENTS, WEIGHT_KEYS

SLIPS = ("action", "hallucination", "state_transition")  # error types of a plan that slips (not "refusal")


def completion_text(completion) -> str:
    """The text of a TRL completion: a string, or a conversational `[{"role": "assistant", "content": ...}]`."""
    if isinstance(completion, str):
        return completion
    content = completion[-1]["content"]
    if isinstance(content, list):  # structured content blocks
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content


def reward_weights(reward_config) -> list[float]:
    """The config's five weights, normalised to sum 1 (so the weighted sum is H-PRM's total)."""
    weights = [float(getattr(reward_config, key)) for key in WEIGHT_KEYS]
    total = sum(weights)
    return [w / total for w in weights]


class HPRMScorer:
    """Scores a batch once with H-PRM and serves the five components to TRL."""

    def __init__(self, hprm, binary_task: bool = False, slip_penalty: float | None = None):
        self.hprm = hprm
        self.binary_task = binary_task  # `task` is 1 / -1: the goal reached or not (no credit for progress)
        self.slip_penalty = slip_penalty  # None: H-PRM's order; a number: slipped plans as their prefix
        self._examples: dict[str, dict] = {}  # parsed `example` JSON, by its string
        self._last_key: tuple | None = None
        self.last_breakdowns: list = []  # the last scored batch, one RewardBreakdown per completion

    def example(self, example_json: str) -> dict:
        example = self._examples.get(example_json)
        if example is None:
            example = self._examples[example_json] = json.loads(example_json)
        return example

    def score(self, completions, examples: list[str]) -> list:
        """H-PRM breakdowns for a batch; the same batch again returns the cached list."""
        texts = tuple(completion_text(c) for c in completions)
        key = (texts, tuple(examples))
        if key != self._last_key:
            self.last_breakdowns = [self.hprm.score(text, self.example(ex)) for text, ex in zip(texts, examples)]
            self._last_key = key
        return self.last_breakdowns

    def functions(self) -> list[Callable]:
        """The five reward functions, named after their component (TRL logs `rewards/<name>/mean`)."""
        return [self._component(name) for name in COMPONENTS]

    def components(self, breakdown) -> dict[str, float]:
        """The five values training sees for one breakdown (H-PRM's, under the readings above)."""
        values = breakdown.components()
        if (
            self.slip_penalty is not None
            and breakdown.slip_progress is not None
            and breakdown.error_type in SLIPS
            and not breakdown.infeasible
        ):
            values = {
                "format": 1.0,
                "action": 1.0,
                "transition": 1.0 - self.slip_penalty,
                "task": 2.0 * breakdown.slip_progress - 1.0,
                "efficiency": -1.0,
            }
        if self.binary_task:
            values["task"] = 1.0 if breakdown.completed else -1.0
        return values

    def _component(self, name: str) -> Callable:
        def reward(completions, example, **kwargs) -> list[float]:
            return [float(self.components(b)[name]) for b in self.score(completions, example)]

        reward.__name__ = name
        reward.__doc__ = f"H-PRM's `{name}` component of each completion, in [-1, 1]."
        return reward
