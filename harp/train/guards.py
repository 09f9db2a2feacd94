"""Stopping a training run whose numbers stopped being numbers.

A learning rate far too high (or a bad batch) makes the loss NaN or infinite; the optimiser then
writes NaN into every weight it touches, and without a check the run goes on and saves that
model as `checkpoint-N/`, `best/` and `final/`, exiting 0. `FiniteGuard` checks the trainable
weights after every optimiser step (one fused reduction, before the Trainer saves anything at
that step) and the logged loss and gradient norm (`logging_nan_inf_filter` is off, so the Trainer
logs them as they are); the first non-finite value stops the run with one line. Checkpoints of
earlier steps, and any earlier `best/`/`final/`, are left as they were.

Under DeepSpeed ZeRO-3 each process holds a shard of the weights; the check then covers that
shard (and the loss), not the whole model.
"""

from __future__ import annotations

import math

from transformers import TrainerCallback

from harp.errors import HarpError

ADVICE = ("stopped before saving anything from it (earlier checkpoints, best/ and final/ are as they were); "
          "lower training.learning_rate or training.max_grad_norm, or check the data")


class NonFiniteTraining(HarpError):
    """The loss or the weights became NaN or infinite."""


class FiniteGuard(TrainerCallback):
    """Raise NonFiniteTraining at the first non-finite loss, gradient norm or trainable weight."""

    def __init__(self):
        self._params = None

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self._params = [p for p in model.parameters() if p.requires_grad] if model is not None else []

    def on_step_end(self, args, state, control, model=None, **kwargs):
        import torch

        if not self._params:
            return
        with torch.no_grad():
            finite = torch.stack([torch.isfinite(p).all() for p in self._params]).all()
        if not bool(finite):
            raise NonFiniteTraining(f"training: the weights became NaN or infinite at step {state.global_step}; {ADVICE}")

    def on_log(self, args, state, control, logs=None, **kwargs):
        for key in ("loss", "grad_norm"):
            value = (logs or {}).get(key)
            if isinstance(value, (int, float)) and not math.isfinite(value):
                raise NonFiniteTraining(f"training: the {key.replace('_', ' ')} became {value} at step "
                                        f"{state.global_step}; {ADVICE}")
