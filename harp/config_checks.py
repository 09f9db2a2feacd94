"""The range checks of the training configs (harp.config), done at load, before any model loads.

Each failing check is a ConfigError naming the file and the key. What they catch, and what it
used to cost: a non-positive learning rate, epoch count or LoRA rank, a negative weight decay,
warm-up, KL coefficient, FTCA alpha or gradient-norm cap, a seed numpy cannot take, a LoRA target
the model does not have, a dropout outside [0, 1), `max_pixels` <= 0, an `output_dir` that is a
file or cannot be written, and `use_vllm` without vLLM installed: each trained an untrained or
broken model, or stopped with a traceback after the model loaded. (Non-finite numbers are refused
while the YAML is read, in harp.config.)
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from harp.errors import ConfigError

SEED_RANGE = (0, 2**32 - 1)  # what numpy, torch and random all accept
# Qwen2.5-VL's linear layers, by the last part of their names: language model, then vision tower.
LANGUAGE_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
VISION_LINEAR = ("qkv", "proj")


def check_training(source: str, t, check_files: bool) -> None:
    """The keys SFT and GRPO share in `training`."""
    if t.learning_rate <= 0:
        raise ConfigError(f"{source}: training.learning_rate: must be > 0, got {t.learning_rate}")
    for key in ("weight_decay", "warmup_steps"):
        if getattr(t, key) < 0:
            raise ConfigError(f"{source}: training.{key}: must be >= 0, got {getattr(t, key)}")
    if t.max_steps == 0 or t.max_steps < -1:
        raise ConfigError(f"{source}: training.max_steps: must be > 0, or -1 for num_epochs, got {t.max_steps}")
    if t.max_steps == -1 and t.num_epochs <= 0:
        raise ConfigError(f"{source}: training.num_epochs: must be > 0 (or set training.max_steps), got {t.num_epochs}")
    if not SEED_RANGE[0] <= t.seed <= SEED_RANGE[1]:
        raise ConfigError(f"{source}: training.seed: must be in [0, 2**32 - 1], got {t.seed}")
    if t.save_total_limit is not None and t.save_total_limit <= 0:
        raise ConfigError(f"{source}: training.save_total_limit: must be > 0 (or null to keep all), got {t.save_total_limit}")
    if check_files:
        check_output_dir(source, t.output_dir)


def check_output_dir(source: str, output_dir: str) -> None:
    """The folder exists or can be made, and can be written."""
    path = Path(output_dir)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{source}: training.output_dir: {output_dir} is a file, not a folder")
    parent = path
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"{source}: training.output_dir: {parent} is a file, so {output_dir} cannot be made")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"{source}: training.output_dir: {parent} is not writable")


def check_lora(source: str, lora, freeze_vision_encoder: bool) -> None:
    if lora.rank <= 0:
        raise ConfigError(f"{source}: lora.rank: must be > 0, got {lora.rank}")
    if lora.alpha <= 0:
        raise ConfigError(f"{source}: lora.alpha: must be > 0, got {lora.alpha}")
    if not 0 <= lora.dropout < 1:
        raise ConfigError(f"{source}: lora.dropout: must be in [0, 1), got {lora.dropout}")
    allowed = LANGUAGE_LINEAR if freeze_vision_encoder else LANGUAGE_LINEAR + VISION_LINEAR
    if not lora.target_modules:
        raise ConfigError(f"{source}: lora.target_modules: empty; list some of {', '.join(allowed)}")
    for name in lora.target_modules:
        if name not in allowed:
            where = " outside the frozen vision tower" if freeze_vision_encoder and name in VISION_LINEAR else ""
            raise ConfigError(f"{source}: lora.target_modules: {name!r} is not a linear layer of Qwen2.5-VL{where}; "
                              f"choose from {', '.join(allowed)}")


def check_max_pixels(source: str, max_pixels) -> None:
    if max_pixels is not None and max_pixels <= 0:
        raise ConfigError(f"{source}: model.max_pixels: must be > 0 (or null for the processor's), got {max_pixels}")


def check_grpo(source: str, t, reward) -> None:
    """GRPO's own keys: penalties, clipping, vLLM."""
    for section, obj, key in (("training", t, "kl_coef"), ("training", t, "max_grad_norm"),
                              ("reward", reward, "ftca_alpha")):
        if getattr(obj, key) < 0:
            raise ConfigError(f"{source}: {section}.{key}: must be >= 0, got {getattr(obj, key)}")
    for key in ("eval_steps", "max_eval_samples"):
        value = getattr(t, key)
        if value is not None and value <= 0:
            raise ConfigError(f"{source}: training.{key}: must be > 0 (or null), got {value}")
    if t.use_vllm and importlib.util.find_spec("vllm") is None:
        raise ConfigError(f"{source}: training.use_vllm: vLLM is not installed (pip install vllm, on a GPU machine); "
                          "set it to false to generate with transformers")
