"""H-PRM's words, defined once: the five components, the error types, the config's weight keys
and their defaults.

Every other module (the GRPO reward functions and metrics, the negatives file, the config, the
evaluator) imports these, so a component or error type is spelled in one place.
"""

COMPONENTS = ("format", "action", "transition", "task", "efficiency")  # H-PRM's levels, lowest first
ERROR_TYPES = ("format", "action", "state_transition", "task", "inefficient")  # a plan's first failing level
WEIGHT_KEYS = tuple(f"w_{name}" for name in COMPONENTS)  # the GRPO config's `reward.w_*` keys, in COMPONENTS order
# The default weight of each component, by config key: both RewardWeights' and the GRPO config's `reward.w_*`.
DEFAULT_WEIGHTS = {"w_format": 0.1, "w_action": 0.25, "w_transition": 0.25, "w_task": 0.25, "w_efficiency": 0.15}
