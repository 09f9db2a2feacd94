"""HARP: hierarchical-reward training of vision-language robot planners.

Stages follow the data flow: plan (language, domain, simulator) -> rewards (H-PRM, FTCA)
-> data -> models -> train (SFT, GRPO) -> negatives -> eval. See docs/internals.md.
"""

__version__ = "0.1.0"
