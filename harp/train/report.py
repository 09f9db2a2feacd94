"""Settings both trainers share: which loggers can really run, and which precision the hardware has.

The guide's configs ask for `report_to: ["tensorboard", "wandb"]` and `bf16: true`. On a machine
without a W&B login (or without wandb installed) or without a bf16 GPU, training should still run,
with one warning saying what changed, instead of stopping at a prompt or crashing in the first step.
"""

from __future__ import annotations

import importlib.util
import netrc
import os
import sys
import warnings
from pathlib import Path

# peft and TRL still read transformers 5's deprecated `is_gradient_checkpointing` alias: the
# FutureWarning is theirs, says nothing about the user's run, and printed on every LoRA run.
warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)


def resolve_report_to(report_to: list[str]) -> list[str]:
    """The loggers to pass to the Trainer: W&B goes offline (or away) with one warning when it cannot log in."""
    chosen = [name for name in report_to if name != "none"]
    if "wandb" in chosen:
        if importlib.util.find_spec("wandb") is None:
            warn("report_to: wandb is not installed (pip install wandb); logging to the other loggers only")
            chosen.remove("wandb")
        elif os.environ.get("WANDB_MODE", "").lower() not in ("offline", "disabled") and not wandb_logged_in():
            warn("report_to: no W&B login found (WANDB_API_KEY or `wandb login`); W&B runs offline "
                 "in ./wandb (sync later with `wandb sync`)")
            os.environ["WANDB_MODE"] = "offline"
    return chosen or ["none"]


def wandb_logged_in() -> bool:
    """True when W&B has an API key: the environment or the netrc file `wandb login` writes."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    path = Path(os.environ.get("NETRC", Path.home() / ".netrc"))
    try:
        hosts = netrc.netrc(str(path)).hosts
    except (OSError, netrc.NetrcParseError):
        return False
    return any("wandb" in host for host in hosts)


def use_bf16(requested: bool) -> bool:
    """bf16 only where the hardware computes in it; otherwise fp32 with one warning."""
    from harp.models.load import bf16_available

    if requested and not bf16_available():
        warn("training.bf16: no bf16-capable GPU here; training in fp32")
        return False
    return requested


def warn(message: str) -> None:
    """One line on stderr: a setting was changed so the run can go on."""
    print(f"harp: warning: {message}", file=sys.stderr, flush=True)

