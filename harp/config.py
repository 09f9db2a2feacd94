"""Validated configs for SFT and GRPO: the guide's YAML files, key for key.

Every field has a comment saying what it does. `load_sft_config` / `load_grpo_config` turn a YAML
file into these dataclasses and fail fast, before any model loads, with one line naming the file
and the key: an unknown or misspelt key (with the close match), a wrong type, a value out of range
or a data file that does not exist. A config built or changed in code gets the same checks from its
`validate()`, which the loaders call.

The keys SFT and GRPO share (same name, same meaning) are declared once, in `ModelBase` and
`TrainingBase`; each config gives the defaults that differ.

Values may be overridden from the command line as `section.key=value` (parsed as YAML), e.g.
`--set training.num_epochs=1`.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import yaml

from harp import config_checks
from harp.errors import ConfigError
from harp.files import load_yaml, read_text
from harp.rewards.vocabulary import DEFAULT_WEIGHTS

LR_SCHEDULERS = {
    "linear": "linear",
    "constant": "constant_with_warmup",
}  # SFT's training.lr_scheduler: the Trainer's name


# -------------------------------------------------------------------------- shared by SFT and GRPO
# A key without a default here has one in each config. kw_only lets it sit among keys with defaults, so
# the keys keep the guide's order.


@dataclass(kw_only=True)
class ModelBase:
    """The `model` keys SFT and GRPO share; each config sets `use_lora`'s default."""

    freeze_vision_encoder: bool = True  # keep the vision tower and its merger frozen
    use_lora: bool  # train LoRA adapters (merged into final/) instead of all weights
    domain: str = (
        "navigate_pick_place"  # planning domain: a name under harp/plan/domains (alfred too), a YAML or PDDL path
    )


@dataclass(kw_only=True)
class TrainingBase:
    """The `training` keys SFT and GRPO share, with one meaning; each config sets the defaults that differ."""

    output_dir: str  # checkpoint-{step}/, final/, runs/ (GRPO: best/ too) go here
    num_epochs: float  # passes over the training set
    per_device_train_batch_size: (
        int  # samples per device per step (GRPO: prompts, each with num_candidates completions)
    )
    gradient_accumulation_steps: int  # steps accumulated per optimiser update
    learning_rate: float  # peak learning rate
    weight_decay: float = 0.01  # AdamW weight decay
    warmup_steps: int  # linear warm-up, in optimiser updates
    logging_steps: int  # log every N updates
    save_steps: int  # checkpoint every N updates
    bf16: bool = True  # bf16 where the hardware has it; fp32 on a CPU (with a note in the log)
    report_to: list[str] = field(
        default_factory=lambda: ["tensorboard"]
    )  # tensorboard and/or wandb (offline fallback), or none
    run_name: str  # run name for the loggers
    gradient_checkpointing: bool = False  # trade compute for memory (the guide's OOM advice)
    deepspeed: str | None = None  # DeepSpeed JSON, e.g. configs/ds_config_zero3.json
    resume_from_checkpoint: bool | str | None = None  # true = latest checkpoint in output_dir, or a path
    seed: int = 42  # seeds data order, sampling and initialisation
    max_steps: int = -1  # > 0 overrides num_epochs (smoke runs)
    save_total_limit: int | None = None  # keep at most N checkpoint-{step}/ folders


# ----------------------------------------------------------------------------------------- SFT


@dataclass
class LoraConfig:
    rank: int = 64  # LoRA rank r
    alpha: int = 128  # LoRA scaling numerator (scale = alpha / rank)
    target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"]
    )  # language-model linear layers that get adapters
    dropout: float = 0.05  # dropout on the adapter input


@dataclass
class SFTModelConfig(ModelBase):
    name: str = "Qwen/Qwen2.5-VL-7B-Instruct"  # hub id or local directory (e.g. models/tiny-qwen2.5-vl)
    use_lora: bool = True  # false = full fine-tuning
    max_pixels: int | None = None  # cap on image pixels for the processor (None = the processor's own)


@dataclass
class SFTDataConfig:
    train_path: str = "data/sft_train.jsonl"  # training records (jsonl: image, task, plan)
    val_path: str | None = "data/sft_val.jsonl"  # validation records; null = no evaluation
    on_overlong: str = "skip"  # a sample longer than max_length: "skip" (reported by index) or "error"
    max_train_records: int | None = None  # SFT on the first N training records only (few labels); null = all


@dataclass
class SFTTrainingConfig(TrainingBase):
    # TrainingBase's keys (their meaning is there) with SFT's defaults:
    output_dir: str = "outputs/sft"
    num_epochs: float = 3
    per_device_train_batch_size: int = 2
    gradient_accumulation_steps: int = 8
    learning_rate: float = 2e-5
    warmup_steps: int = 100
    logging_steps: int = 10
    save_steps: int = 500
    run_name: str = "sft_qwen2.5vl"
    per_device_eval_batch_size: int = 2  # samples per device per evaluation step
    lr_scheduler: str = "linear"  # after warm-up: "linear" decays to 0 at the last step, "constant" holds the rate
    max_length: int = 512  # tokens per sample, image tokens included; longer samples: data.on_overlong
    eval_steps: int = 500  # evaluate on the val split every N updates (GRPO's may be null)


@dataclass
class SFTConfig:
    model: SFTModelConfig = field(default_factory=SFTModelConfig)
    lora: LoraConfig = field(default_factory=LoraConfig)
    data: SFTDataConfig = field(default_factory=SFTDataConfig)
    training: SFTTrainingConfig = field(default_factory=SFTTrainingConfig)
    source: str = ""  # the file it was loaded from (set by the loader, not a YAML key)

    def validate(self, check_files: bool = True) -> SFTConfig:
        """Every range, choice and (with `check_files`) path check, as at load: ConfigError naming the key.
        Call it on a config built or changed in code; returns the config."""
        source, t = self.source or type(self).__name__, self.training
        _check_types(self, source)
        config_checks.check_training(source, t, check_files)
        config_checks.positive(source, "training", t, ["per_device_eval_batch_size", "max_length", "eval_steps"])
        config_checks.choice(source, "data.on_overlong", self.data.on_overlong, ("skip", "error"))
        config_checks.choice(source, "training.lr_scheduler", t.lr_scheduler, tuple(LR_SCHEDULERS))
        config_checks.positive(source, "data", self.data, ["max_train_records"])
        config_checks.check_lora(source, self.lora, self.model.freeze_vision_encoder)
        config_checks.check_max_pixels(source, self.model.max_pixels)
        if check_files:
            config_checks.exists(source, "data.train_path", self.data.train_path)
            config_checks.exists(source, "data.val_path", self.data.val_path)
        return self


# ---------------------------------------------------------------------------------------- GRPO


@dataclass
class GRPOModelConfig(ModelBase):
    base_model_name: str = "Qwen/Qwen2.5-VL-7B-Instruct"  # the base model (processor fallback, report label)
    sft_model_path: str = "outputs/sft/final"  # the policy starts here; it is also the KL reference
    use_lora: bool = False  # on the SFT model


@dataclass
class GRPODataConfig:
    train_path: str = "data/sft_train.jsonl"  # prompts (records: image, task, plan[, scene])
    negative_path: str | None = "data/negative_samples.jsonl"  # verified negatives; null = none
    val_path: str | None = (
        None  # records for best/ selection and val metrics; null = sft_val.jsonl beside train_path if it exists
    )


@dataclass
class RewardConfig:
    w_format: float = DEFAULT_WEIGHTS["w_format"]  # H-PRM level 1: the plan parses
    w_action: float = DEFAULT_WEIGHTS["w_action"]  # level 2: domain actions on entities of the scene
    w_transition: float = DEFAULT_WEIGHTS["w_transition"]  # level 3: preconditions hold step after step
    w_task: float = DEFAULT_WEIGHTS["w_task"]  # level 4: the simulated end state satisfies the goal
    w_efficiency: float = DEFAULT_WEIGHTS["w_efficiency"]  # level 5: length against the optimal plan
    use_ftca: bool = True  # token-level credit assignment; false (and no negatives) = exactly TRL's GRPO
    ftca_alpha: float = 0.5  # FTCA: weight of the step-score term (docs/internals.md §4)
    # The task component without partial credit: 1 when the plan reaches the goal, else -1. With
    # the other weights 0 the reward is the outcome alone (the ablation's outcome-only GRPO).
    binary_task: bool = False
    # Training only: a plan whose first failure is an invalid action or transition is scored as its valid
    # prefix stopped there, this taken off its transition component (0 to 2), so a slip after more
    # progress ranks above stopping earlier (harp.train.grpo_rewards). null: H-PRM's strict order.
    slip_penalty: float | None = None


@dataclass
class GRPOTrainingConfig(TrainingBase):
    # TrainingBase's keys (their meaning is there) with GRPO's defaults:
    output_dir: str = "outputs/grpo"
    num_epochs: float = 2
    per_device_train_batch_size: int = 1
    gradient_accumulation_steps: int = 1
    learning_rate: float = 1e-6
    warmup_steps: int = 50
    logging_steps: int = 5
    save_steps: int = 200
    run_name: str = "grpo_qwen2.5vl"
    num_candidates: int = 4  # completions sampled per prompt (TRL's num_generations)
    temperature: float = 0.8  # sampling temperature
    top_p: float = 1.0  # nucleus sampling
    # sample through the plan grammar (harp.eval.constrained): every candidate a well-formed plan, and a
    # refusal the model starts (its first token) is spelt out rather than lost
    constrained_sampling: bool = False
    # with constrained_sampling: the weight of -log P(the tokens the grammar allows) under the unmasked
    # policy, per sampled token; the masked update never sees what the policy puts outside the grammar,
    # and a model so trained may stop writing plans without it (0 = off)
    grammar_leak_weight: float = 0.0
    # with constrained_sampling: the temperature of each candidate's first token (null = `temperature`).
    # Under the grammar that token chooses between a plan and a refusal; hotter, a group holds a refusal
    # more often. It is also scored at this temperature, so the update stays on-policy.
    first_token_temperature: float | None = None
    max_new_tokens: int = 128  # completion length cap
    kl_coef: float = 0.1  # KL penalty against the SFT model (TRL's beta)
    eval_steps: int | None = None  # evaluate on the val split every N updates (None = save_steps)
    max_grad_norm: float = 1.0  # gradient clipping
    negatives_per_group: int = 1  # verified negatives mixed into each prompt's group; 0 = off
    # one written refusal in every prompt's group, whatever its task (harp.train.grpo_trainer, "Refusal
    # probes"): the group always compares refusing with its plans, and the first token learns which wins
    refusal_probe: bool = False
    # with refusal_probe: the probe names, in turn, each thing the prompt's labelled plan names (a teacher
    # that never refuses names what it invents), and a name H-PRM finds right is pushed up on its own tokens
    refusal_probe_names: bool = False
    use_vllm: bool = False  # generate with vLLM (GPU, when installed)
    # TRL's GRPO options, passed through as TRL names them; the defaults are TRL 1.16's.
    loss_type: str = "dapo"  # grpo, dr_grpo, dapo, bnpo, cispo, sapo, luspo or vespo (how token losses are aggregated)
    scale_rewards: bool | str = (
        "group"  # divide advantages by the std of the group, the batch, or none (true = group, false = none)
    )
    num_iterations: int = (
        1  # optimiser passes over each generated batch (TRL's mu); > 1 reuses completions with clipped ratios
    )
    epsilon: float = 0.2  # lower clipping bound of the ratio (1 - epsilon)
    epsilon_high: float | None = None  # upper bound (1 + epsilon_high); None = epsilon (DAPO suggests 0.28)
    mask_truncated_completions: bool = False  # completions cut at max_new_tokens get no loss
    vllm_mode: str = "colocate"  # with use_vllm: colocate (vLLM in the training process) or server (`trl vllm-serve`)
    vllm_gpu_memory_utilization: float = 0.3  # colocate mode: share of GPU memory vLLM may take
    max_eval_samples: int | None = 64  # cap on val records per evaluation (None = all)


@dataclass
class GRPOConfig:
    model: GRPOModelConfig = field(default_factory=GRPOModelConfig)
    lora: LoraConfig = field(default_factory=LoraConfig)
    data: GRPODataConfig = field(default_factory=GRPODataConfig)
    reward: RewardConfig = field(default_factory=RewardConfig)
    training: GRPOTrainingConfig = field(default_factory=GRPOTrainingConfig)
    source: str = ""  # the file it was loaded from (set by the loader, not a YAML key)

    def validate(self, check_files: bool = True) -> GRPOConfig:
        """Every range, choice and (with `check_files`) path check, as at load: ConfigError naming the key.
        Call it on a config built or changed in code; returns the config (`scale_rewards` true/false read
        as TRL reads them)."""
        source, t, r = self.source or type(self).__name__, self.training, self.reward
        _check_types(self, source)
        config_checks.check_training(source, t, check_files)
        config_checks.check_grpo_groups(source, t, r)
        config_checks.check_grpo(source, t, r)
        if self.model.use_lora:
            config_checks.check_lora(source, self.lora, self.model.freeze_vision_encoder)
        if check_files:
            config_checks.exists(source, "data.train_path", self.data.train_path)
            config_checks.exists(source, "data.val_path", self.data.val_path)
            if t.negatives_per_group > 0:
                config_checks.exists(source, "data.negative_path", self.data.negative_path)
            config_checks.exists(source, "model.sft_model_path", self.model.sft_model_path)
        return self


# ------------------------------------------------------------------------------------- loading


def load_sft_config(path: str | Path, overrides: list[str] = (), check_files: bool = True) -> SFTConfig:
    """Load and validate an SFT config; raise ConfigError naming the file and key."""
    return load_config_file(SFTConfig, path, overrides).validate(check_files)


def load_grpo_config(path: str | Path, overrides: list[str] = (), check_files: bool = True) -> GRPOConfig:
    """Load and validate a GRPO config; raise ConfigError naming the file and key."""
    return load_config_file(GRPOConfig, path, overrides).validate(check_files)


def load_config_file(cls: type, path: str | Path, overrides: list[str] = ()) -> Any:
    """A config dataclass from a YAML file (any, e.g. harp.recipes.experiment's): bytes, YAML, unknown keys and
    types checked, each problem one ConfigError line naming the file and key; ranges are the caller's."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: config file not found")
    data = load_yaml(str(path), read_text(path, "config file")) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    for override in overrides or ():
        _apply_override(path, data, override)
    config = _build(cls, data, str(path), "")
    config.source = str(path)
    return config


def _check_types(config: SFTConfig | GRPOConfig, source: str) -> None:
    """Types and finite numbers, as a YAML file's are checked: a config built in code never went through that."""
    _build(
        type(config), {key: value for key, value in dataclasses.asdict(config).items() if key != "source"}, source, ""
    )


def _apply_override(path: Path, data: dict, override: str) -> None:
    key, sep, raw = override.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"{path}: override {override!r}: expected section.key=value")
    *parents, leaf = key.strip().split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{path}: override {override!r}: {part} is not a section")
    node[leaf] = load_yaml(f"{path}: override {override!r}: the value is not valid YAML", raw)


def _build(cls: type, data: Any, source: str, prefix: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: {prefix.rstrip('.') or 'top level'}: expected a mapping, got {type(data).__name__}"
        )
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "source"}
    for key in data:
        if key not in fields:
            if not (isinstance(key, str) and key.isprintable()):
                key = repr(key)  # a line break or a non-string key stays on the one error line
            close = difflib.get_close_matches(str(key), list(fields), n=1, cutoff=0.6)
            hint = f" (did you mean '{prefix}{close[0]}'?)" if close else f" (known keys: {', '.join(fields)})"
            raise ConfigError(f"{source}: {prefix}{key}: unknown key{hint}")
    values = {}
    for name in fields:
        if name not in data:
            continue
        values[name] = _coerce(hints[name], data[name], source, f"{prefix}{name}")
    return cls(**values)


def _coerce(hint: Any, value: Any, source: str, key: str) -> Any:
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, source, key + ".")
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(option, value, source, key)
            except ConfigError as error:
                errors.append(error)
        raise errors[0]
    if origin is list:
        (item_type,) = typing.get_args(hint)
        if isinstance(value, str):  # `report_to: tensorboard` means a list of one
            value = [value]
        if not isinstance(value, list):
            raise ConfigError(f"{source}: {key}: expected a list, got {value!r}")
        return [_coerce(item_type, item, source, f"{key}[{i}]") for i, item in enumerate(value)]
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{source}: {key}: expected true or false, got {value!r}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"{source}: {key}: expected an integer, got {value!r}")
    if hint is float:
        # PyYAML reads `2e-5` (no dot) as a string; accept numeric strings.
        number = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                pass
        if number is None:
            raise ConfigError(f"{source}: {key}: expected a number, got {value!r}")
        if not math.isfinite(number):  # `.inf`, `.nan`, "1e999": a model of NaNs, saved as final/
            raise ConfigError(f"{source}: {key}: expected a finite number, got {value!r}")
        return number
    if hint is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{source}: {key}: expected a string, got {value!r}")
    raise TypeError(f"config field {key} has an unsupported type {hint}")  # a bug in this module


# ------------------------------------------------------------------------------ what a run was

RUN_CONFIG_FILE = "harp_config.yaml"  # written into every output folder of a training run


def save_run_config(config: SFTConfig | GRPOConfig, folder: str | Path) -> Path:
    """Write the resolved config (every key, defaults included) into `folder`, so the folder says what made it
    (an ablation's `outputs/grpo/` says whether FTCA was on). It loads back with load_*_config."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    data = {key: value for key, value in dataclasses.asdict(config).items() if key != "source"}
    header = (
        f"# The resolved HARP {type(config).__name__} of this run (every key, defaults included), "
        f"from {config.source or 'defaults'}.\n"
    )
    path = folder / RUN_CONFIG_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    tmp.replace(path)
    return path


def read_run_config(model_path: str | Path) -> dict | None:
    """The config recorded with a model: `<model_path>/harp_config.yaml`, else its run folder's (the parent of
    `final/`, `best/`, `checkpoint-N/`); None for a model HARP did not train (a hub id, a base model)."""
    path = Path(model_path)
    for candidate in (path / RUN_CONFIG_FILE, path.parent / RUN_CONFIG_FILE):
        if candidate.is_file():
            data = load_yaml(str(candidate), read_text(candidate, "run config"))
            return data if isinstance(data, dict) else None
    return None
