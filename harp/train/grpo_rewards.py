"""H-PRM as TRL reward functions: one per component, so TRL weights and logs each on its own.

TRL calls every reward function with the batch's completions and the dataset's extra columns,
here `example` (the prompt's record as JSON: task, reference plan, scene). The five functions
`format`, `action`, `transition`, `task` and `efficiency` share one scorer that runs H-PRM once
per completion and keeps the last batch's breakdowns, so the other four calls, and FTCA after
them, reuse them instead of scoring again.

With the weights normalised to sum 1 (`reward_weights`), TRL's weighted sum equals H-PRM's
`total`, so `train/reward` reads on the same scale as the evaluator's `avg_reward`.

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

    def __init__(self, hprm, binary_task: bool = False):
        self.hprm = hprm
        self.binary_task = binary_task  # `task` is 1 / -1: the goal reached or not (no credit for progress)
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

    def _component(self, name: str) -> Callable:
        def reward(completions, example, **kwargs) -> list[float]:
            breakdowns = self.score(completions, example)
            if name == "task" and self.binary_task:
                return [1.0 if b.completed else -1.0 for b in breakdowns]
            return [float(getattr(b, name)) for b in breakdowns]

        reward.__name__ = name
        reward.__doc__ = f"H-PRM's `{name}` component of each completion, in [-1, 1]."
        return reward
