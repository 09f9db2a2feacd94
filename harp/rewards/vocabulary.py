"""H-PRM's words, defined once: the five components, the error types and the config's weight keys.

Every other module (the GRPO reward functions and metrics, the negatives file, the config, the
evaluator) imports these, so a component or error type is spelled in one place.
"""

COMPONENTS = ("format", "action", "transition", "task", "efficiency")  # H-PRM's levels, lowest first
ERROR_TYPES = ("format", "action", "state_transition", "task", "inefficient")  # a plan's first failing level
WEIGHT_KEYS = tuple(f"w_{name}" for name in COMPONENTS)  # the GRPO config's `reward.w_*` keys, in COMPONENTS order
