"""The range checks of the training configs, run by their `validate()` (harp.config), which the loaders
call: at load, before any model loads.

Each failing check is a ConfigError naming the file and the key. What they catch, and what it
used to cost: a non-positive learning rate, epoch count or LoRA rank, a negative weight decay,
warm-up, KL coefficient, FTCA alpha or gradient-norm cap, a seed numpy cannot take, a LoRA target
the model does not have, a dropout outside [0, 1), `max_pixels` <= 0, an `output_dir` that is a
file or cannot be written, and `use_vllm` without vLLM installed: each trained an untrained or
broken model, or stopped with a traceback after the model loaded. (Types and non-finite numbers are
checked in harp.config, as the YAML is read and again by `validate()`.)
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from harp import paths
from harp.errors import ConfigError
from harp.rewards.vocabulary import WEIGHT_KEYS

# TRL's GRPO losses (trl 1.16 GRPOConfig.loss_type); see the README's "TRL's GRPO options".
GRPO_LOSS_TYPES = ("grpo", "dr_grpo", "dapo", "bnpo", "cispo", "sapo", "luspo", "vespo")
SCALE_REWARDS_CHOICES = ("group", "batch", "none")
REPORT_TO_CHOICES = ("tensorboard", "wandb", "none")
VLLM_MODES = ("colocate", "server")
SEED_RANGE = (0, 2**32 - 1)  # what numpy, torch and random all accept
# Qwen2.5-VL's linear layers, by the last part of their names: language model, then vision tower.
LANGUAGE_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
VISION_LINEAR = ("qkv", "proj")


def positive(source: str, section: str, obj, names: list[str]) -> None:
    """Each `section.name` is > 0 (None, where a key allows it, passes)."""
    for name in names:
        value = getattr(obj, name)
        if value is not None and value <= 0:
            raise ConfigError(f"{source}: {section}.{name}: must be > 0, got {value}")


def choice(source: str, key: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{source}: {key}: must be one of {', '.join(choices)}, got {value!r}")


def exists(source: str, key: str, path: str | None) -> None:
    """A data, model or DeepSpeed file the run reads is there (None or empty: the key is off)."""
    if path and not Path(path).exists():
        raise ConfigError(f"{source}: {key}: {path} does not exist")


def check_training(source: str, t, check_files: bool) -> None:
    """The keys SFT and GRPO share in `training` (harp.config.TrainingBase)."""
    for item in t.report_to:
        choice(source, "training.report_to", item, REPORT_TO_CHOICES)
    positive(
        source,
        "training",
        t,
        ["per_device_train_batch_size", "gradient_accumulation_steps", "learning_rate", "logging_steps", "save_steps"],
    )
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
        raise ConfigError(
            f"{source}: training.save_total_limit: must be > 0 (or null to keep all), got {t.save_total_limit}"
        )
    if check_files:
        exists(source, "training.deepspeed", t.deepspeed)
        check_output_dir(source, t.output_dir)


def check_output_dir(source: str, output_dir: str) -> None:
    """The folder exists or can be made, and can be written."""
    paths.check_output_dir(output_dir, f"{source}: training.output_dir", ConfigError)


def check_lora(source: str, lora, freeze_vision_encoder: bool) -> None:
    positive(source, "lora", lora, ["rank", "alpha"])
    if not 0 <= lora.dropout < 1:
        raise ConfigError(f"{source}: lora.dropout: must be in [0, 1), got {lora.dropout}")
    allowed = LANGUAGE_LINEAR if freeze_vision_encoder else LANGUAGE_LINEAR + VISION_LINEAR
    if not lora.target_modules:
        raise ConfigError(f"{source}: lora.target_modules: empty; list some of {', '.join(allowed)}")
    for name in lora.target_modules:
        if name not in allowed:
            where = " outside the frozen vision tower" if freeze_vision_encoder and name in VISION_LINEAR else ""
            raise ConfigError(
                f"{source}: lora.target_modules: {name!r} is not a linear layer of Qwen2.5-VL{where}; "
                f"choose from {', '.join(allowed)}"
            )


def check_max_pixels(source: str, max_pixels) -> None:
    if max_pixels is not None and max_pixels <= 0:
        raise ConfigError(f"{source}: model.max_pixels: must be > 0 (or null for the processor's), got {max_pixels}")


def check_grpo_groups(source: str, t, reward) -> None:
    """What makes GRPO's groups and their rewards: sizes, sampling, TRL's options, negatives, reward weights."""
    positive(source, "training", t, ["num_candidates", "max_new_tokens"])
    if t.num_candidates < 2:
        raise ConfigError(
            f"{source}: training.num_candidates: GRPO needs at least 2 candidates per prompt, got {t.num_candidates}"
        )
    if t.temperature <= 0:
        raise ConfigError(f"{source}: training.temperature: must be > 0, got {t.temperature}")
    if not 0 < t.top_p <= 1:
        raise ConfigError(f"{source}: training.top_p: must be in (0, 1], got {t.top_p}")
    check_trl_grpo_options(source, t)
    if t.negatives_per_group < 0 or t.negatives_per_group >= t.num_candidates:
        raise ConfigError(
            f"{source}: training.negatives_per_group: must be in [0, num_candidates), got {t.negatives_per_group}"
        )
    weights = {key: getattr(reward, key) for key in WEIGHT_KEYS}
    for key, value in weights.items():
        if value < 0:
            raise ConfigError(f"{source}: reward.{key}: weights must be >= 0, got {value}")
    if sum(weights.values()) <= 0:
        raise ConfigError(f"{source}: reward: at least one weight must be > 0")


def check_grpo(source: str, t, reward) -> None:
    """GRPO's own keys: penalties, clipping, vLLM."""
    for section, obj, key in (
        ("training", t, "kl_coef"),
        ("training", t, "max_grad_norm"),
        ("training", t, "grammar_leak_weight"),
        ("reward", reward, "ftca_alpha"),
    ):
        if getattr(obj, key) < 0:
            raise ConfigError(f"{source}: {section}.{key}: must be >= 0, got {getattr(obj, key)}")
    for key in ("eval_steps", "max_eval_samples"):
        value = getattr(t, key)
        if value is not None and value <= 0:
            raise ConfigError(f"{source}: training.{key}: must be > 0 (or null), got {value}")
    if reward.slip_penalty is not None and not 0 <= reward.slip_penalty <= 2:
        raise ConfigError(f"{source}: reward.slip_penalty: must be in [0, 2] (or null), got {reward.slip_penalty}")
    if t.grammar_leak_weight > 0 and not t.constrained_sampling:
        raise ConfigError(
            f"{source}: training.grammar_leak_weight: only with constrained_sampling: true (it keeps the policy "
            "inside the grammar that sampling uses)"
        )
    if t.refusal_probe_names and not t.refusal_probe:
        raise ConfigError(f"{source}: training.refusal_probe_names: only with refusal_probe: true (it names the probe)")
    if t.first_token_temperature is not None:
        if t.first_token_temperature <= 0:
            raise ConfigError(
                f"{source}: training.first_token_temperature: must be > 0 (or null), got {t.first_token_temperature}"
            )
        if not t.constrained_sampling:
            raise ConfigError(
                f"{source}: training.first_token_temperature: only with constrained_sampling: true (the first "
                "token is scored at it under the grammar's mask)"
            )
    if t.use_vllm and t.constrained_sampling:
        raise ConfigError(
            f"{source}: training.constrained_sampling: not with use_vllm (vLLM samples without the plan grammar, "
            "and the update scores tokens under it); set one of them to false"
        )
    if t.use_vllm and importlib.util.find_spec("vllm") is None:
        raise ConfigError(
            f"{source}: training.use_vllm: vLLM is not installed (pip install vllm, on a GPU machine); "
            "set it to false to generate with transformers"
        )


def check_trl_grpo_options(source: str, t) -> None:
    """TRL's GRPO knobs, as TRL reads them."""
    choice(source, "training.loss_type", t.loss_type, GRPO_LOSS_TYPES)
    if isinstance(t.scale_rewards, bool):
        t.scale_rewards = "group" if t.scale_rewards else "none"  # TRL's own reading of true/false
    choice(source, "training.scale_rewards", t.scale_rewards, SCALE_REWARDS_CHOICES)
    choice(source, "training.vllm_mode", t.vllm_mode, VLLM_MODES)
    positive(source, "training", t, ["num_iterations", "epsilon", "epsilon_high"])
    if not 0 < t.vllm_gpu_memory_utilization <= 1:
        raise ConfigError(
            f"{source}: training.vllm_gpu_memory_utilization: must be in (0, 1], got {t.vllm_gpu_memory_utilization}"
        )
