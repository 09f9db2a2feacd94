"""Resuming from Trainer checkpoints: the newest *complete* one, with the weights actually loaded.

A kill during a save leaves a `checkpoint-N` folder with only some of its files. The Trainer writes
the weights, then `optimizer.pt`/`scheduler.pt` (or DeepSpeed's `global_step*`), the RNG state and
last `trainer_state.json`, so a checkpoint is complete when all of these are there and the state
file parses (`missing_parts`). `newest_complete_checkpoint` skips incomplete ones, saying which
and why; resuming from an incomplete one by path is refused, since it would go on with a reset
optimizer or schedule without a word.

Full fine-tuning weights:

transformers 5.23's `Trainer._load_from_checkpoint` reads `model.safetensors` as a raw state dict and
loads it with `strict=False`. Qwen2.5-VL checkpoints are written with the legacy key names
(`model.layers.0...`, `visual.blocks...`) that `from_pretrained` converts back to the module names
(`model.language_model.layers.0...`, `model.visual.blocks...`), but that raw load does not: only
`lm_head` matches, a warning scrolls by, and the "resumed" run goes on from the base weights with the
checkpoint's optimizer state. `ResumableMixin` loads such a checkpoint through `from_pretrained`
(which knows the conversion) and copies the weights in strictly. LoRA checkpoints (adapter files),
DeepSpeed and FSDP keep the Trainer's own loading.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "adapter_model.safetensors",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
    "adapter_model.bin",
)
CHECKPOINT_NAME = re.compile(r"^checkpoint-(\d+)$")


def missing_parts(checkpoint: str | Path) -> list[str]:
    """What a Trainer checkpoint folder lacks to resume exactly (empty when it is complete)."""
    folder = Path(checkpoint)
    missing = []
    if not any((folder / name).is_file() for name in WEIGHT_FILES):
        missing.append("model weights")
    deepspeed = any(folder.glob("global_step*"))  # DeepSpeed keeps optimizer and scheduler there
    for name in ("optimizer.pt", "scheduler.pt"):
        if not deepspeed and not (folder / name).is_file():
            missing.append(name)
    state = folder / "trainer_state.json"
    try:
        json.loads(state.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        missing.append("trainer_state.json" if not state.is_file() else "a readable trainer_state.json")
    return missing


def newest_complete_checkpoint(output_dir: str | Path, warn) -> str | None:
    """The complete `checkpoint-N` with the highest N in `output_dir`; `warn(line)` for each newer one skipped."""
    folder = Path(output_dir)
    found = []
    for path in folder.iterdir() if folder.is_dir() else ():
        match = CHECKPOINT_NAME.match(path.name)
        if match and path.is_dir():
            found.append((int(match.group(1)), path))
    for _, path in sorted(found, reverse=True):
        missing = missing_parts(path)
        if not missing:
            return str(path)
        warn(f"resume: skipped {path} (incomplete, a save was interrupted: no {', no '.join(missing)})")
    return None


def load_full_checkpoint(model, checkpoint: str | Path) -> None:
    """Copy the weights saved in `checkpoint` (a save_pretrained folder) into `model`, every key checked."""
    loaded = type(model).from_pretrained(str(checkpoint), dtype=model.dtype)
    model.load_state_dict(loaded.state_dict(), strict=True)


class ResumableMixin:
    """Put before the Trainer class: `class MyTrainer(ResumableMixin, SFTTrainer)`.

    It also ends a resumed run that had already reached `max_steps` without another step: the
    Trainer checks `max_steps` only after a step, so resuming from a run's last checkpoint (killed
    while saving `final/`, or run again) trained one step more and ended with other weights.
    """

    def train(self, resume_from_checkpoint=None, **kwargs):
        if resume_from_checkpoint:
            from transformers import TrainerState
            from transformers.trainer_utils import TrainOutput

            state = TrainerState.load_from_json(str(Path(resume_from_checkpoint) / "trainer_state.json"))
            if 0 < self.args.max_steps <= state.global_step:
                self._load_from_checkpoint(resume_from_checkpoint)
                self.state = state
                return TrainOutput(state.global_step, float("nan"), {})
        return super().train(resume_from_checkpoint=resume_from_checkpoint, **kwargs)

    def _load_from_checkpoint(self, resume_from_checkpoint, model=None):
        model = self.model if model is None else model
        full = (Path(resume_from_checkpoint) / "config.json").is_file() and not hasattr(model, "peft_config")
        if not full or self.is_deepspeed_enabled or self.is_fsdp_enabled:
            return super()._load_from_checkpoint(resume_from_checkpoint, model)
        load_full_checkpoint(model, resume_from_checkpoint)
