"""Stopping a training run whose numbers stopped being numbers.

A learning rate far too high (or a bad batch) makes the loss NaN or infinite; the optimiser then
writes NaN into every weight it touches, and without a check the run goes on and saves that
model as `checkpoint-N/`, `best/` and `final/`, exiting 0. `FiniteGuard` checks the trainable
weights after every optimiser step (one fused reduction, before the Trainer saves anything at
that step) and the logged loss and gradient norm (`logging_nan_inf_filter` is off, so the Trainer
logs them as they are); the first non-finite value stops the run with one line. Checkpoints of
earlier steps, and any earlier `best/`/`final/`, are left as they were.

Several processes: under DeepSpeed ZeRO-3 each process holds a shard of each weight (the parameter
itself is an empty placeholder), so each checks its shard and the verdict is agreed over all
processes; every process stops at the same step, and the main process alone says why.
"""

from __future__ import annotations

import math

from transformers import TrainerCallback

from harp.errors import HarpError
from harp.processes import main_process

ADVICE = (
    "stopped before saving anything from it (earlier checkpoints, best/ and final/ are as they were); "
    "lower training.learning_rate or training.max_grad_norm, or check the data"
)


class NonFiniteTraining(HarpError):
    """The loss or the weights became NaN or infinite."""


def stop(message: str):
    """Raise NonFiniteTraining on the main process; the others exit quietly (status 1), so the line is printed once."""
    if main_process():
        raise NonFiniteTraining(message)
    raise SystemExit(1)


class FiniteGuard(TrainerCallback):
    """Stop at the first non-finite loss, gradient norm or trainable weight (in any process's shard)."""

    def __init__(self):
        self._params = None

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self._params = [p for p in model.parameters() if p.requires_grad] if model is not None else []

    def on_step_end(self, args, state, control, model=None, **kwargs):
        import torch
        import torch.distributed as dist

        if not self._params:
            return
        with torch.no_grad():
            # ZeRO-3 keeps this process's part of a weight in `ds_tensor`
            finite = torch.stack([torch.isfinite(getattr(p, "ds_tensor", p)).all() for p in self._params]).all()
            if dist.is_initialized() and dist.get_world_size() > 1:
                finite = finite.to(args.device, torch.int32)
                dist.all_reduce(finite, op=dist.ReduceOp.MIN)
        if not bool(finite):
            stop(f"training: the weights became NaN or infinite at step {state.global_step}; {ADVICE}")

    def on_log(self, args, state, control, logs=None, **kwargs):
        # The Trainer logs the loss averaged over the processes and the global gradient norm: the same in each.
        for key in ("loss", "grad_norm"):
            value = (logs or {}).get(key)
            if isinstance(value, (int, float)) and not math.isfinite(value):
                stop(f"training: the {key.replace('_', ' ')} became {value} at step {state.global_step}; {ADVICE}")
