"""Configs as data with one source of truth (issue 24, item 3): the keys SFT and GRPO share are declared
once, a config built or changed in code is checked by `validate()` as a loaded one is, and the default
reward weights live in one table that both the config and H-PRM read."""

import dataclasses
import subprocess
import sys
import typing
from pathlib import Path

import pytest
import yaml

from harp.config import (
    GRPOConfig,
    GRPOModelConfig,
    GRPOTrainingConfig,
    ModelBase,
    RewardConfig,
    SFTConfig,
    SFTModelConfig,
    SFTTrainingConfig,
    TrainingBase,
    load_grpo_config,
    load_sft_config,
    save_run_config,
)
from harp.errors import ConfigError
from harp.rewards.hprm import RewardWeights
from harp.rewards.vocabulary import DEFAULT_WEIGHTS, WEIGHT_KEYS

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"


def names(cls):
    return {f.name for f in dataclasses.fields(cls)}


# ------------------------------------------------------------------------------- one base


@pytest.mark.parametrize(
    "base, sft, grpo, apart",
    [
        (TrainingBase, SFTTrainingConfig, GRPOTrainingConfig, {"eval_steps"}),  # GRPO's may be null, SFT's may not
        (ModelBase, SFTModelConfig, GRPOModelConfig, set()),
    ],
)
def test_every_key_sft_and_grpo_share_is_declared_once_in_the_base(base, sft, grpo, apart):
    assert names(sft) & names(grpo) == names(base) | apart
    for cls in (sft, grpo):  # a subclass changes a shared key's default, never its type
        hints, base_hints = typing.get_type_hints(cls), typing.get_type_hints(base)
        assert {name: hints[name] for name in names(base)} == base_hints, cls


def test_a_saved_config_loads_back_equal(tmp_path):
    for config, loader in ((SFTConfig(), load_sft_config), (GRPOConfig(), load_grpo_config)):
        config.training.seed, config.model.domain = 7, "alfred"
        path = save_run_config(config, tmp_path / type(config).__name__)
        loaded = loader(path, check_files=False)
        loaded.source = ""
        assert loaded == config
        assert set(yaml.safe_load(path.read_text())) == {"model", "lora", "data", "training"} | (
            {"reward"} if loader is load_grpo_config else set()
        )


# ------------------------------------------------------------------------------ validate()


@pytest.mark.parametrize(
    "cls, section, key, value",
    [
        (SFTConfig, "training", "learning_rate", 0.0),
        (SFTConfig, "training", "learning_rate", float("nan")),  # passes `> 0`: only the type check sees it
        (SFTConfig, "training", "per_device_train_batch_size", 0),
        (SFTConfig, "training", "max_length", -1),
        (SFTConfig, "training", "lr_scheduler", "cosine"),
        (SFTConfig, "training", "bf16", "yes"),
        (SFTConfig, "training", "report_to", ["tensorbord"]),
        (SFTConfig, "lora", "target_modules", ["qkv"]),
        (SFTConfig, "data", "on_overlong", "truncate"),
        (GRPOConfig, "training", "num_candidates", 1),
        (GRPOConfig, "training", "negatives_per_group", 4),
        (GRPOConfig, "training", "seed", -1),
        (GRPOConfig, "training", "loss_type", "ppo"),
        (GRPOConfig, "reward", "w_task", -1.0),
        (GRPOConfig, "reward", "ftca_alpha", float("inf")),
    ],
)
def test_a_config_built_in_code_with_a_bad_value_is_refused_by_validate(cls, section, key, value):
    config = cls()
    config.validate(check_files=False)  # the defaults are valid
    setattr(getattr(config, section), key, value)
    with pytest.raises(ConfigError) as caught:
        config.validate(check_files=False)
    message = str(caught.value)
    assert message.startswith(f"{cls.__name__}: {section}.{key}") and "\n" not in message, message


def test_validate_checks_files_only_when_asked(tmp_path):
    config = GRPOConfig()
    config.data.train_path = str(tmp_path / "missing.jsonl")
    assert config.validate(check_files=False) is config
    with pytest.raises(ConfigError, match=r"^GRPOConfig: data\.train_path: .*missing\.jsonl does not exist"):
        config.validate()


# Every kind of check the loaders run (ranges, choices, LoRA, GRPO's groups and TRL options, types,
# finiteness): a value set in code after loading is refused naming the same key as the `--set` override.
PARITY = [
    ("sft", "training.learning_rate", ".nan"),
    ("sft", "training.learning_rate", "'1e999'"),
    ("sft", "training.num_epochs", "0"),
    ("sft", "training.warmup_steps", "-5"),
    ("sft", "training.seed", "-1"),
    ("sft", "training.max_steps", "0"),
    ("sft", "training.save_total_limit", "0"),
    ("sft", "training.eval_steps", "0"),
    ("sft", "training.per_device_eval_batch_size", "0"),
    ("sft", "training.report_to", "[wandb, tensorbord]"),
    ("sft", "lora.rank", "0"),
    ("sft", "lora.dropout", "1.5"),
    ("sft", "lora.target_modules", "[]"),
    ("sft", "model.max_pixels", "0"),
    ("sft", "data.max_train_records", "0"),
    ("sft", "training.num_epochs", "'three'"),
    ("grpo", "training.top_p", "0"),
    ("grpo", "training.temperature", "0"),
    ("grpo", "training.max_new_tokens", "0"),
    ("grpo", "training.kl_coef", "-0.1"),
    ("grpo", "training.max_grad_norm", "-1"),
    ("grpo", "training.eval_steps", "0"),
    ("grpo", "training.max_eval_samples", "0"),
    ("grpo", "training.scale_rewards", "sometimes"),
    ("grpo", "training.vllm_mode", "remote"),
    ("grpo", "training.epsilon", "0"),
    ("grpo", "training.vllm_gpu_memory_utilization", "1.5"),
    ("grpo", "training.gradient_accumulation_steps", "0"),
    ("grpo", "reward.w_format", "-0.1"),
    ("grpo", "training.logging_steps", "0"),
    ("grpo", "model.use_lora", "'yes'"),
]


@pytest.mark.parametrize("kind, key, value", PARITY)
def test_validate_refuses_what_the_loader_refuses(kind, key, value):
    loader = load_sft_config if kind == "sft" else load_grpo_config
    path = CONFIGS / f"{kind}_config.yaml"
    with pytest.raises(ConfigError) as by_loader:
        loader(path, [f"{key}={value}"], check_files=False)
    config = loader(path, check_files=False)
    section, name = key.split(".")
    setattr(getattr(config, section), name, yaml.safe_load(value))
    with pytest.raises(ConfigError) as by_validate:
        config.validate(check_files=False)
    for caught in (by_loader, by_validate):
        assert str(caught.value).startswith(f"{path}: {key}:"), str(caught.value)


def test_grpo_lora_is_checked_only_when_used():
    config = GRPOConfig()
    config.lora.rank = 0
    config.validate(check_files=False)
    config.model.use_lora = True
    with pytest.raises(ConfigError, match=r"lora\.rank: must be > 0"):
        config.validate(check_files=False)


# -------------------------------------------------------------------- default reward weights


def test_the_default_reward_weights_are_one_table():
    assert tuple(DEFAULT_WEIGHTS) == WEIGHT_KEYS
    assert {key: getattr(RewardConfig(), key) for key in WEIGHT_KEYS} == DEFAULT_WEIGHTS
    assert dataclasses.asdict(RewardWeights()) == DEFAULT_WEIGHTS
    # Changed in the table, both follow: neither the config nor H-PRM keeps a copy.
    code = (
        "import harp.rewards.vocabulary as v; v.DEFAULT_WEIGHTS.update(w_format=0.5, w_task=0.0); "
        "from harp.config import RewardConfig; from harp.rewards.hprm import RewardWeights; "
        "print(RewardConfig().w_format, RewardConfig().w_task, RewardWeights().w_format, RewardWeights().w_task)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert out.split() == ["0.5", "0.0", "0.5", "0.0"]
