"""Config mutations that trained a broken model or crashed after the model loaded (issue 11, items 3
and 12): each is now a one-line ConfigError naming the key, raised at load."""

from pathlib import Path

import pytest
import yaml

from harp.config import load_grpo_config, load_sft_config
from harp.errors import ConfigError

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def load(kind, tmp_path, overrides, check_files=False):
    loader = load_sft_config if kind == "sft" else load_grpo_config
    return loader(CONFIGS / f"{kind}_config.yaml", overrides, check_files=check_files)


@pytest.mark.parametrize(
    "kind, override, key",
    [
        ("sft", "training.learning_rate=.inf", "training.learning_rate"),  # item 3: a model of NaNs
        ("sft", "training.learning_rate=.nan", "training.learning_rate"),
        ("sft", "training.learning_rate='1e999'", "training.learning_rate"),
        ("sft", "training.learning_rate=0", "training.learning_rate"),
        ("sft", "training.learning_rate=-1e-5", "training.learning_rate"),
        ("sft", "training.num_epochs=0", "training.num_epochs"),  # an untrained model saved as final/
        ("sft", "training.num_epochs=-1", "training.num_epochs"),
        ("sft", "training.weight_decay=-0.1", "training.weight_decay"),
        ("sft", "training.warmup_steps=-5", "training.warmup_steps"),
        ("sft", "training.seed=-1", "training.seed"),
        ("sft", "training.seed=4294967296", "training.seed"),
        ("sft", "training.max_steps=0", "training.max_steps"),
        ("sft", "training.save_total_limit=0", "training.save_total_limit"),
        ("sft", "lora.rank=0", "lora.rank"),
        ("sft", "lora.alpha=-8", "lora.alpha"),
        ("sft", "lora.dropout=1.5", "lora.dropout"),
        ("sft", "lora.dropout=-0.1", "lora.dropout"),
        ("sft", "lora.target_modules=[]", "lora.target_modules"),
        ("sft", "lora.target_modules=[q_prj]", "lora.target_modules"),
        ("sft", "lora.target_modules=[qkv]", "lora.target_modules"),  # the vision tower is frozen
        ("sft", "model.max_pixels=0", "model.max_pixels"),
        ("grpo", "reward.w_task=.nan", "reward.w_task"),
        ("grpo", "reward.w_task=.inf", "reward.w_task"),
        ("grpo", "reward.w_format=-0.1", "reward.w_format"),
        ("grpo", "training.kl_coef=-0.1", "training.kl_coef"),
        ("grpo", "reward.ftca_alpha=-1", "reward.ftca_alpha"),
        ("grpo", "training.max_grad_norm=-1", "training.max_grad_norm"),
        ("grpo", "training.weight_decay=-0.01", "training.weight_decay"),
        ("grpo", "training.learning_rate=0", "training.learning_rate"),
        ("grpo", "training.num_epochs=0", "training.num_epochs"),
        ("grpo", "training.eval_steps=0", "training.eval_steps"),
        ("grpo", "training.seed=1e30", "training.seed"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_key(tmp_path, kind, override, key):
    with pytest.raises(ConfigError) as caught:
        load(kind, tmp_path, [override])
    message = str(caught.value)
    assert f"{key}:" in message and "\n" not in message, message


def test_use_vllm_without_vllm_is_refused_at_load(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "vllm" else real(name, *a))
    with pytest.raises(ConfigError, match=r"training\.use_vllm: vLLM is not installed"):
        load("grpo", tmp_path, ["training.use_vllm=true"])


def test_sampling_through_the_grammar_is_refused_with_vllm_which_would_sample_without_it(tmp_path):
    with pytest.raises(ConfigError, match=r"training\.constrained_sampling: not with use_vllm"):
        load("grpo", tmp_path, ["training.use_vllm=true", "training.constrained_sampling=true"])


def test_the_grammar_leak_weight_needs_the_grammar_and_is_not_negative(tmp_path):
    with pytest.raises(ConfigError, match=r"training\.grammar_leak_weight: only with constrained_sampling"):
        load("grpo", tmp_path, ["training.grammar_leak_weight=1.0"])
    with pytest.raises(ConfigError, match=r"training\.grammar_leak_weight: must be >= 0"):
        load("grpo", tmp_path, ["training.constrained_sampling=true", "training.grammar_leak_weight=-1"])


def test_the_first_token_temperature_needs_the_grammar_and_is_positive(tmp_path):
    with pytest.raises(ConfigError, match=r"training\.first_token_temperature: only with constrained_sampling"):
        load("grpo", tmp_path, ["training.first_token_temperature=3"])
    with pytest.raises(ConfigError, match=r"training\.first_token_temperature: must be > 0"):
        load("grpo", tmp_path, ["training.constrained_sampling=true", "training.first_token_temperature=0"])
    load("grpo", tmp_path, ["training.constrained_sampling=true", "training.first_token_temperature=3"])


def test_output_dir_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "taken").write_text("a file")
    for value, message in (
        (tmp_path / "taken", "is a file, not a folder"),
        (tmp_path / "taken" / "sub", "is a file, so"),
    ):
        with pytest.raises(ConfigError, match=rf"training\.output_dir: .*{message}"):
            from harp.config_checks import check_output_dir

            check_output_dir("c.yaml", str(value))


def test_non_utf8_yaml_and_a_bad_set_value_are_one_line(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_bytes(b"training:\n  run_name: caf\xe9\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: line 2: not UTF-8"):
        load_sft_config(path, check_files=False)
    with pytest.raises(ConfigError, match=r"override 'training\.report_to=\[a': the value is not valid YAML"):
        load("sft", tmp_path, ["training.report_to=[a"])


def test_grpo_takes_save_total_limit_as_the_readme_says(tmp_path):
    assert load("grpo", tmp_path, ["training.save_total_limit=2"]).training.save_total_limit == 2


def test_the_shipped_values_still_load(tmp_path):
    for kind in ("sft", "grpo"):
        config = load(kind, tmp_path, [])
        assert (
            yaml.safe_load((CONFIGS / f"{kind}_config.yaml").read_text())["training"]["run_name"]
            == config.training.run_name
        )


def test_a_config_with_yaml_aliases_a_fifo_or_an_impossible_date_is_one_line(tmp_path):
    """One hardened reader (harp.files) for configs, experiment files and domains: a "billion laughs"
    alias bomb would expand to gigabytes, a FIFO would block, a date that does not exist raised ValueError."""
    import os

    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(
        'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
        + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)}]\n" for i in range(9))
    )
    with pytest.raises(ConfigError, match=r"bomb\.yaml: line 2: aliases"):
        load_sft_config(bomb, check_files=False)
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match=r"fifo\.yaml: not a regular file"):
        load_sft_config(fifo, check_files=False)
    date = tmp_path / "date.yaml"
    date.write_text("training:\n  run_name: 2024-02-30\n")
    with pytest.raises(ConfigError, match=r"date\.yaml: "):
        load_sft_config(date, check_files=False)
    with pytest.raises(ConfigError, match=r"override 'training\.run_name=\*x': the value is not valid YAML"):
        load_sft_config(_empty(tmp_path), ["training.run_name=*x"], check_files=False)


def _empty(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("training: {}\n")
    return path
