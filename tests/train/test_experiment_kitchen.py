"""The learning benchmark in the kitchen world: its data, its compositional split, its checks and the
plan-length table that holds the reward ablation's question. Training is stubbed (as in
test_experiment_hardening.py): what is tested is what the runner builds, trains on and reports."""

import json
import re
from pathlib import Path

import pytest

from harp.errors import ConfigError
from harp.recipes import experiment
from harp.recipes.experiment import load_experiment, run_experiment, stage_configs, summary_table


@pytest.fixture
def trained(monkeypatch):
    """SFT and GRPO stubbed: each records the config the real stage would have loaded."""
    configs = {}

    def sft(config, regime, root, seed, base):
        sft_config, _ = stage_configs(config)
        configs["sft", regime.name] = sft_config
        out = root / f"seed{seed}" / "sft" / "final"
        out.mkdir(parents=True, exist_ok=True)
        return out

    def grpo(config, root, seed, variant, sft_path):
        configs[variant] = stage_configs(config, variant)[1]
        out = root / f"seed{seed}" / f"grpo_{variant}" / "final"
        out.mkdir(parents=True, exist_ok=True)
        return out

    def evaluate(config, root, seed, models):
        return {name: {"task_completion": 0.5, "avg_reward": 0.1, "num_samples": 2} for name in models}

    def copy(out, source):
        configs["copied"].append(source)
        Path(out).mkdir(parents=True)
        (Path(out) / "config.json").write_text("{}")

    configs["copied"] = []
    monkeypatch.setattr(experiment, "copy_grounded", copy)
    monkeypatch.setattr(experiment, "run_sft", sft)
    monkeypatch.setattr(experiment, "run_grpo", grpo)
    monkeypatch.setattr(experiment, "evaluate_models", evaluate)
    return configs


def write(tmp_path, body):
    path = tmp_path / "kitchen.yaml"
    path.write_text(
        f"workdir: {tmp_path / 'run'}\nworld: kitchen\nnum_scenes: 10\nseeds: [1]\nvariants: [outcome]\n"
        f"base_model: grounded\n{body}"
    )
    return path


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_a_kitchen_experiment_builds_kitchens_and_trains_in_the_alfred_domain(tmp_path, trained, monkeypatch):
    shipped = tmp_path / "kitchen model"  # as `harp model pretrain --world kitchen` would ship it
    shipped.mkdir()
    (shipped / "config.json").write_text("{}")
    monkeypatch.setitem(experiment.SHIPPED, "kitchen", shipped)
    path = write(tmp_path, "regimes: [{name: compositional, sft_compositions: false}]\nbase_model: kitchen\n")
    path.write_text(path.read_text().replace("base_model: grounded\n", "", 1))
    run_experiment(load_experiment(path))
    root = tmp_path / "run" / "compositional"
    records = lines(root / "actions.jsonl")
    assert all(record["meta"]["world"] == "kitchen" for record in records)
    assert (root / "bdv2" / "kitchen").is_dir()
    assert trained["sft", "compositional"].model.domain == "alfred" and trained["outcome"].model.domain == "alfred"
    assert trained["copied"] == [shipped]  # base_model: kitchen, the model grounded in kitchens
    # the compositional split: SFT's labels hold no composition, GRPO's prompts and the test keep them
    labelled = lines(root / "data" / "sft_train_labelled.jsonl")
    prompts = lines(root / "data" / "sft_train.jsonl")
    assert labelled and not any(record["meta"]["composition"] for record in labelled)
    assert len(labelled) == sum(not record["meta"]["composition"] for record in prompts) < len(prompts)
    assert any(record["meta"]["composition"] for record in lines(root / "eval.jsonl") + prompts)


@pytest.mark.parametrize(
    "body, message",
    [
        ("regimes: [{name: r, label_noise: 0.3}]\n", "regimes[0].label_noise: only in the tabletop world"),
        ("regimes: [{name: r, three_objects: 0.3}]\n", "regimes[0].three_objects: only in the tabletop world"),
        ("regimes: [{name: r, infeasible: 0.2}]\n", "regimes[0].infeasible: only in the tabletop world"),
        ("regimes: [{name: r}]\nworld: attic\n", "world: expected one of tabletop, kitchen, got 'attic'"),
        ("regimes: [{name: r}]\neval_max_new_tokens: 0\n", "eval_max_new_tokens: must be at least 1"),
    ],
)
def test_what_the_kitchen_world_has_no_tasks_for_is_a_one_line_error(tmp_path, body, message):
    path = write(tmp_path, body)
    text = path.read_text()
    if "world: attic" in body:  # the key given twice is a YAML error: replace the first
        path.write_text(text.replace("world: kitchen\n", "", 1))
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_experiment(path)


def test_a_base_model_not_built_yet_is_a_one_line_error_naming_its_command(tmp_path, monkeypatch):
    monkeypatch.setitem(experiment.SHIPPED, "kitchen", tmp_path / "nowhere")
    path = write(tmp_path, "regimes: [{name: r}]\n")
    path.write_text(path.read_text().replace("base_model: grounded", "base_model: kitchen"))
    with pytest.raises(ConfigError, match=re.escape("harp model pretrain --world kitchen --out")):
        load_experiment(path)


def test_sft_compositions_belongs_to_the_kitchen_world(tmp_path):
    path = tmp_path / "tabletop.yaml"
    path.write_text(f"workdir: {tmp_path / 'run'}\nregimes: [{{name: r, sft_compositions: false}}]\n")
    with pytest.raises(ConfigError, match=re.escape("regimes[0].sft_compositions: only in the kitchen world")):
        load_experiment(path)


def test_the_world_is_part_of_a_regime_s_settings(tmp_path):
    kitchen = load_experiment(write(tmp_path, "regimes: [{name: r}]\n"))
    tabletop = load_experiment(write(tmp_path, "regimes: [{name: r}]\n").rename(tmp_path / "t.yaml"))
    tabletop.world = "tabletop"
    keys = {experiment.settings_key(experiment.regime_settings(c, c.regimes[0])) for c in (kitchen, tabletop)}
    assert len(keys) == 2  # results of one world are never read as the other's


def test_the_summary_sets_long_plans_and_compositions_beside_each_arm_with_gains_over_outcome():
    def row(seed, model, short, long, compositions):
        lengths = {"1-4 steps": short, "5-9 steps": 0.5, "10+ steps": long}
        return {
            "regime": "k", "seed": seed, "model": model, "num_samples": 50, "task_completion": 0.6,
            "avg_reward": 0.2, "plan_lengths": lengths, "compositions": compositions,
        }  # fmt: skip

    rows = [
        row(1, "sft", 0.9, 0.1, 0.2), row(2, "sft", 0.8, 0.2, 0.2),
        row(1, "outcome", 0.9, 0.2, 0.3), row(2, "outcome", 0.8, 0.3, 0.3),
        row(1, "full", 0.9, 0.5, 0.4), row(2, "full", 0.8, 0.6, 0.4),
    ]  # fmt: skip
    table = summary_table(rows, ["outcome", "full"])
    assert "10+ steps, - outcome" in table and "compositions" in table
    full = next(line for line in table.splitlines() if line.strip().startswith("full") and "0.550" in line)
    # long plans 0.55 ± 0.32 over seeds; paired gains +0.4 over SFT and +0.3 over the outcome arm, no spread
    assert full.split()[-6:] == ["0.400", "±", "0.000", "0.300", "±", "0.000"]
    no_long = [{**r, "plan_lengths": {"1-4 steps": 0.9}} for r in rows]
    assert "10+ steps, - SFT" not in summary_table(no_long, ["outcome", "full"])
