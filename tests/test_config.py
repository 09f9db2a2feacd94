"""Configs: the guide's files load key for key; mistakes are one-line errors naming the key."""

from pathlib import Path

import pytest

from harp.config import load_grpo_config, load_sft_config
from harp.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"


def write(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_guide_sft_config_loads_key_for_key():
    config = load_sft_config(CONFIGS / "sft_config.yaml", check_files=False)
    assert config.model.name == "Qwen/Qwen2.5-VL-7B-Instruct"
    assert config.lora.rank == 64 and config.lora.alpha == 128
    assert config.training.learning_rate == pytest.approx(2e-5)  # YAML reads `2e-5` as a string
    assert config.training.report_to == ["tensorboard", "wandb"]
    assert config.training.gradient_accumulation_steps == 8


def test_guide_grpo_config_loads_key_for_key():
    config = load_grpo_config(CONFIGS / "grpo_config.yaml", check_files=False)
    assert config.training.num_candidates == 4
    assert config.training.kl_coef == pytest.approx(0.1)
    assert config.training.learning_rate == pytest.approx(1e-6)
    weights = [
        config.reward.w_format,
        config.reward.w_action,
        config.reward.w_transition,
        config.reward.w_task,
        config.reward.w_efficiency,
    ]
    assert sum(weights) == pytest.approx(1.0)
    assert config.reward.use_ftca is True
    assert config.reward.slip_penalty == pytest.approx(0.1)  # beyond the guide: the measured default (results §9)


@pytest.mark.parametrize("path", sorted(CONFIGS.rglob("*.yaml")), ids=lambda p: str(p.relative_to(CONFIGS)))
def test_every_shipped_yaml_validates(path):
    if path.parent.name == "experiments":  # learning-benchmark files (benchmarks/learning.py), not run configs
        from harp.recipes.experiment import load_experiment

        config = load_experiment(path)
        for run_config, loader in ((config.sft_config, load_sft_config), (config.grpo_config, load_grpo_config)):
            loader(
                run_config,
                config.sft_overrides if loader is load_sft_config else config.grpo_overrides,
                check_files=False,
            )
        return
    loader = load_grpo_config if "grpo" in path.name else load_sft_config
    loader(path, check_files=False)


def test_typo_names_key_and_close_match(tmp_path):
    path = write(tmp_path, "training:\n  learning_rte: 1e-5\n")
    with pytest.raises(
        ConfigError, match=r"training\.learning_rte: unknown key \(did you mean 'training\.learning_rate'\?\)"
    ):
        load_sft_config(path, check_files=False)


def test_unknown_section(tmp_path):
    path = write(tmp_path, "modle:\n  name: x\n")
    with pytest.raises(ConfigError, match=r"modle: unknown key \(did you mean 'model'\?\)"):
        load_sft_config(path, check_files=False)


@pytest.mark.parametrize(
    "line, message",
    [
        ("training:\n  bf16: 'yes'\n", r"training\.bf16: expected true or false"),
        ("training:\n  num_candidates: four\n", r"training\.num_candidates: expected an integer"),
        ("training:\n  temperature: hot\n", r"training\.temperature: expected a number"),
        ("training:\n  num_candidates: 1\n", r"training\.num_candidates: GRPO needs at least 2"),
        ("reward:\n  w_task: -1\n", r"reward\.w_task: weights must be >= 0"),
        ("training:\n  report_to: [tensorbord]\n", r"training\.report_to: must be one of"),
        ("training: [1, 2]\n", r"training: expected a mapping"),
    ],
)
def test_wrong_types_and_ranges(tmp_path, line, message):
    with pytest.raises(ConfigError, match=message):
        load_grpo_config(write(tmp_path, line), check_files=False)


def test_sft_lr_scheduler_is_one_of_two(tmp_path):
    with pytest.raises(ConfigError, match=r"training\.lr_scheduler: must be one of linear, constant, got 'cosine'"):
        load_sft_config(write(tmp_path, "training:\n  lr_scheduler: cosine\n"), check_files=False)


def test_error_is_one_line_and_names_file(tmp_path):
    path = write(tmp_path, "training:\n  max_length: many\n")
    with pytest.raises(ConfigError) as info:
        load_sft_config(path, check_files=False)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_missing_data_file_named_before_any_model_loads(tmp_path):
    path = write(tmp_path, f"data:\n  train_path: {tmp_path}/nope.jsonl\n  val_path: null\n")
    with pytest.raises(ConfigError, match=r"data\.train_path: .*nope\.jsonl does not exist"):
        load_sft_config(path)


def test_missing_negatives_only_matter_when_used(tmp_path):
    train = tmp_path / "train.jsonl"
    train.write_text("")
    sft = tmp_path / "sft"
    sft.mkdir()
    base = f"model:\n  sft_model_path: {sft}\ndata:\n  train_path: {train}\n  negative_path: {tmp_path}/neg.jsonl\n"
    with pytest.raises(ConfigError, match=r"data\.negative_path"):
        load_grpo_config(write(tmp_path, base))
    config = load_grpo_config(write(tmp_path, base + "training:\n  negatives_per_group: 0\n"))
    assert config.training.negatives_per_group == 0


def test_yaml_syntax_error_names_line(tmp_path):
    path = write(tmp_path, "training:\n  lr: [1,\n")
    with pytest.raises(ConfigError, match=r"line \d+"):
        load_sft_config(path, check_files=False)


def test_overrides(tmp_path):
    config = load_sft_config(
        CONFIGS / "sft_config.yaml", ["training.num_epochs=1", "model.use_lora=false"], check_files=False
    )
    assert config.training.num_epochs == 1 and config.model.use_lora is False
    with pytest.raises(ConfigError, match=r"training\.num_epoch: unknown key"):
        load_sft_config(CONFIGS / "sft_config.yaml", ["training.num_epoch=1"], check_files=False)
