"""HARP: hierarchical-reward training of vision-language robot planners.

Stages follow the data flow: plan (language, domain, simulator) -> rewards (H-PRM, FTCA)
-> data -> models -> train (SFT, GRPO) -> negatives -> eval. See docs/internals.md.
"""

__version__ = "0.1.0"

from harp.logs import install as _install_logging

_install_logging()  # HARP's messages: one line each, main process only (harp/logs.py)
