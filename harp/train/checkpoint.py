"""Resuming full fine-tuning from a Trainer checkpoint with the weights actually loaded.

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

from pathlib import Path


def load_full_checkpoint(model, checkpoint: str | Path) -> None:
    """Copy the weights saved in `checkpoint` (a save_pretrained folder) into `model`, every key checked."""
    loaded = type(model).from_pretrained(str(checkpoint), dtype=model.dtype)
    model.load_state_dict(loaded.state_dict(), strict=True)


class ResumableMixin:
    """Put before the Trainer class: `class MyTrainer(ResumableMixin, SFTTrainer)`."""

    def _load_from_checkpoint(self, resume_from_checkpoint, model=None):
        model = self.model if model is None else model
        full = (Path(resume_from_checkpoint) / "config.json").is_file() and not hasattr(model, "peft_config")
        if not full or self.is_deepspeed_enabled or self.is_fsdp_enabled:
            return super()._load_from_checkpoint(resume_from_checkpoint, model)
        load_full_checkpoint(model, resume_from_checkpoint)
