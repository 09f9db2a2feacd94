"""H-PRM's words, defined once: the five components, the error types, the config's weight keys
and their defaults.

Every other module (the GRPO reward functions and metrics, the negatives file, the config, the
evaluator) imports these, so a component or error type is spelled in one place.
"""

COMPONENTS = ("format", "action", "transition", "task", "efficiency")  # H-PRM's levels, lowest first
ERROR_TYPES = ("format", "action", "state_transition", "task", "inefficient")  # a plan's first failing level
# Error types that name a kind of failure at a level: the level they fail at (harp/plan/refusal.py).
REFINED_ERROR_TYPES = {
    "hallucination": "action",  # a step names an entity the scene does not have
    "refusal": "state_transition",  # a refusal where the task can be done: below every plan valid so far
}
ALL_ERROR_TYPES = ("format", "action", "hallucination", "state_transition", "refusal", "task", "inefficient")


def level_name(error_type: str) -> str:
    """The level an error type fails at, by name: `hallucination` -> `action`."""
    return ERROR_TYPES[error_level(error_type)]


def error_level(error_type: str) -> int:
    """The H-PRM level (index into ERROR_TYPES) an error type fails at."""
    level = REFINED_ERROR_TYPES.get(error_type, error_type)
    if level not in ERROR_TYPES:
        raise ValueError(f"unknown H-PRM error type {error_type!r}")
    return ERROR_TYPES.index(level)


WEIGHT_KEYS = tuple(f"w_{name}" for name in COMPONENTS)  # the GRPO config's `reward.w_*` keys, in COMPONENTS order
# The default weight of each component, by config key: both RewardWeights' and the GRPO config's `reward.w_*`.
DEFAULT_WEIGHTS = {"w_format": 0.1, "w_action": 0.25, "w_transition": 0.25, "w_task": 0.25, "w_efficiency": 0.15}
