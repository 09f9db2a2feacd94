"""The learning benchmark: statistics, the experiment file, and a 1-seed few-step smoke run end to end."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harp.config import read_run_config
from harp.errors import ConfigError
from harp.recipes.experiment import (
    VARIANTS,
    load_experiment,
    mean_ci,
    plot_series,
    regime_settings,
    stage_configs,
    steps_to_gain,
    summary_plot,
    summary_table,
)

ROOT = Path(__file__).resolve().parents[2]


def test_mean_ci_is_the_student_t_interval():
    mean, half = mean_ci([0.5, 0.6, 0.7])
    assert mean == pytest.approx(0.6)
    assert half == pytest.approx(4.303 * 0.1 / 3**0.5)
    assert mean_ci([0.4]) == (0.4, 0.0)


def test_summary_pairs_each_variant_with_its_seed_s_sft():
    rows = [
        {"regime": "r", "seed": s, "model": m, "task_completion": c, "avg_reward": 0.1, "num_samples": 10}
        for s, m, c in [(1, "sft", 0.5), (2, "sft", 0.7), (1, "full", 0.6), (2, "full", 0.8)]
    ]
    table = summary_table(rows, ["full", "both_off"])
    line = next(line for line in table.splitlines() if line.strip().startswith("full"))
    assert "0.100 ± 0.000" in line  # the paired gain has no spread: +0.1 on both seeds
    assert "both_off" not in table  # no runs, no row


@pytest.mark.parametrize(
    "text, message",
    [
        ("seeds: []\n", "seeds: at least one seed"),
        ("variants: [full, typo]\n", "variants[1]: unknown 'typo'"),
        ("regimes: [{label_noise: 0.3}]\n", "regimes[0].name: missing"),
        ("epochs: 3\n", "epochs: unknown key"),
        ("base_model: pretrained\n", "base_model: expected one of random, grounded"),
        ("regimes: [{name: r, language: held_out}]\n", "regimes[0].language: expected one of templates, varied"),
        ("regimes: [{name: r, three_objects: 1.5}]\n", "regimes[0].three_objects: must be a number in [0, 1]"),
        ("regimes: [{name: r, sft_max_objects: 0}]\n", "regimes[0].sft_max_objects: must be at least 1"),
        ("regimes: [{name: r, sft_held_out_records: 5}]\n", "regimes[0].sft_held_out_records: needs a split"),
        ("regimes: [{name: r, phrasings: 3}]\n", "regimes[0].phrasings: needs language: varied"),
        ("regimes: [{name: r, language: varied, phrasings: 0}]\n", "regimes[0].phrasings: must be at least 1"),
        (
            "regimes: [{name: r, sft_max_objects: 2, sft_held_out_records: -1}]\n",
            "regimes[0].sft_held_out_records: must be at least 0",
        ),
        ("held_out_words: true\n", "held_out_words: no regime has tasks that cannot be done"),
        (
            "regimes: [{name: r, label_noise: 0.6, label_noise_kinds: [wrong_tabel]}]\n",
            "regimes[0].label_noise_kinds: unknown label-noise kind 'wrong_tabel'",
        ),
    ],
)
def test_bad_experiment_files_are_one_line_errors(tmp_path, text, message):
    path = tmp_path / "experiment.yaml"
    path.write_text(f"workdir: {tmp_path / 'run'}\n{text}")
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_experiment(path)


def test_regimes_picks_regimes_by_name_and_names_a_missing_one(tmp_path):
    path = tmp_path / "experiment.yaml"
    path.write_text(
        "workdir: run\nregimes: [{name: clean}, {name: noisy, label_noise: 0.3}, {name: few, sft_records: 10}]\n"
    )
    assert [r.name for r in load_experiment(path, regimes=["few", "clean"]).regimes] == ["clean", "few"]
    assert len(load_experiment(path).regimes) == 3
    with pytest.raises(ConfigError, match=re.escape("no regime named typo (the file has clean, noisy, few)")):
        load_experiment(path, regimes=["typo"])
    variants = load_experiment(path, variants=["both_off", "full"]).variants
    assert variants == ["full", "both_off"]  # the file's order, of those named
    with pytest.raises(ConfigError, match=re.escape("no variant named outcome (the file has full, ftca_off")):
        load_experiment(path, variants=["outcome"])
    path.write_text("workdir: run\nregimes: [{name: blind, label_noise: 0.6, label_noise_kinds: wrong_table}]\n")
    assert load_experiment(path).regimes[0].label_noise_kinds == ["wrong_table"]  # one name is a list of one


def test_the_settings_hold_every_stage_key_at_whatever_value():
    """Every resolved key is in the settings, at its default too (a new key's older rows are matched by
    `regime_key`, tests/train/test_experiment_hardening.py), and a set one with its value."""
    plain = load_experiment(ROOT / "configs" / "experiments" / "smoke.yaml")
    training = regime_settings(plain, plain.regimes[0])["grpo"]["training"]
    assert training["refusal_probe"] is False and training["grammar_leak_weight"] == 0.0
    assert regime_settings(plain, plain.regimes[0])["grpo"]["reward"]["slip_penalty"] == 0.1  # the demo's config


def test_every_variant_names_its_slip_reading_whatever_the_config_defaults_to():
    """The shipped GRPO configs score a slipped plan by its prefix; the ablation's arms keep H-PRM's strict
    order unless the variant says otherwise, so their figures reproduce under that default."""
    config = load_experiment(ROOT / "configs" / "experiments" / "smoke.yaml")
    slip = {variant: stage_configs(config, variant)[1].reward.slip_penalty for variant in VARIANTS}
    assert {variant for variant, value in slip.items() if value is not None} == {"slip_prefix", "full_slip"}
    assert slip["slip_prefix"] == slip["full_slip"] == stage_configs(config)[1].reward.slip_penalty == 0.1


@pytest.mark.slow
def test_smoke_run_trains_sft_and_every_grpo_variant_and_resumes(tmp_path):
    config = (ROOT / "configs" / "experiments" / "smoke.yaml").read_text()
    experiment = tmp_path / "smoke.yaml"
    experiment.write_text(config.replace('workdir: ".experiments/smoke"', f'workdir: "{tmp_path / "run"}"'))
    command = [sys.executable, str(ROOT / "benchmarks" / "learning.py"), "--config", str(experiment)]
    env = {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    first = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    assert first.returncode == 0, first.stderr[-2000:]
    rows = [json.loads(line) for line in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]
    assert [row["model"] for row in rows] == ["sft", "full", "both_off", "outcome", "outcome_progress"]
    assert all(0.0 <= row["task_completion"] <= 1.0 and row["num_samples"] == 6 for row in rows)
    assert all(0.0 <= row["blank"]["task_completion"] <= 1.0 for row in rows) and "sft blank images" in first.stdout
    assert (
        all(0.0 <= row["held_out"]["task_completion"] <= 1.0 for row in rows)
        and "gap (held-out - seen)" in first.stdout
    )
    assert all(0.0 <= row["constrained"]["task_completion"] <= 1.0 for row in rows) and "plan grammar" in first.stdout
    grammar = json.loads(
        (tmp_path / "run" / "noisy_few" / "seed1" / "eval_constrained" / "evaluation_details.json").read_text()
    )
    assert all(run["metrics"]["format_accuracy"] == 1.0 for run in grammar["models"] if run["constrained"])
    assert "regime noisy_few (seeds 1; test+val, 6 scenes)" in first.stdout
    noisy = [json.loads(line) for line in (tmp_path / "run" / "noisy_few" / "actions.jsonl").read_text().splitlines()]
    assert any("label_noise" in record["meta"] for record in noisy)
    assert all(record["meta"]["language"] == "seen" for record in noisy)  # the regime's varied phrasing
    held_out = [json.loads(line) for line in (tmp_path / "run" / "noisy_few" / "eval_held_out.jsonl").open()]
    assert len(held_out) == 6 and all(record["meta"]["language"] == "held_out" for record in held_out)
    sft = read_run_config(tmp_path / "run" / "noisy_few" / "seed1" / "sft" / "final")
    assert sft["data"]["max_train_records"] == 12  # few labels: SFT on the first 12 training records
    labelled = Path(sft["data"]["train_path"])  # of those moving at most two objects (sft_max_objects)
    assert labelled.name == "sft_train_labelled.jsonl"  # and one that moves three (sft_held_out_records)
    assert sum(len(json.loads(line)["scene"]["goal"]) > 2 for line in labelled.open()) == 1
    assert any(len(json.loads(line)["scene"]["goal"]) == 3 for line in labelled.with_name("sft_train.jsonl").open())
    assert "by objects moved" in first.stdout
    train = [json.loads(line) for line in labelled.with_name("sft_train.jsonl").open()]  # phrasings: 2
    ids = [record["id"] for record in train]
    assert len(ids) == 2 * len(set(ids)) and len({(r["id"], r["task"]) for r in train}) > 1.5 * len(set(ids))
    again = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)
    assert again.returncode == 0 and "SFT done" not in again.stdout  # nothing left to run
    assert (tmp_path / "run" / "summary.png").is_file()
    assert len((tmp_path / "run" / "results.jsonl").read_text().splitlines()) == 5


def test_summary_shows_grounding_with_its_baselines_and_the_blank_image_control():
    def row(seed, one, blank_one):
        figures = {
            "task_completion": 0.9,
            "avg_reward": 0.5,
            "one_object_image_only": one,
            "shortcut_wrong": one,
            "image_only_completion": one,
            "baselines_one_object_image_only": {"uniform": 0.43, "most_loaded": 0.76},
        }
        blank = dict(figures, task_completion=0.4, one_object_image_only=blank_one, shortcut_wrong=0.0)
        return {"regime": "clean", "seed": seed, "model": "sft", "num_samples": 100, **figures, "blank": blank}

    table = summary_table([row(1, 1.0, 0.4), row(2, 0.9, 0.5)], [])
    assert "uniform guess 0.43, most-loaded table 0.76" in table
    line = next(line for line in table.splitlines() if line.strip().startswith("sft blank images"))
    assert "0.450 ± " in line and line.split()[-1] == "0.000"  # blank: the mean of 0.4 and 0.5; shortcut-wrong 0
    assert any(
        line.split()[:1] == ["sft"] and "0.950 ± " in line and "blank" not in line for line in table.splitlines()
    )


def test_summary_sets_held_out_phrasing_beside_the_training_data_s(tmp_path):
    def row(seed, model, seen, held_out):
        figures = {"task_completion": seen, "avg_reward": 0.5, "one_object": 1.0, "two_objects": seen - 0.1}
        out = dict(figures, task_completion=held_out, two_objects=None)
        return {"regime": "varied", "seed": seed, "model": model, "num_samples": 50, **figures, "held_out": out}

    rows = [row(1, "sft", 0.9, 0.7), row(2, "sft", 0.8, 0.6), row(1, "full", 0.95, 0.9), row(2, "full", 0.9, 0.9)]
    table = summary_table(rows, ["full"])
    assert "phrasing (the same test+val tasks" in table
    sft = next(line for line in table.splitlines() if line.strip().startswith("sft") and "-0.200" in line)
    assert sft.split()[-3:] == ["-0.200", "±", "0.000"]  # the paired gap, the same on both seeds
    full = next(line for line in table.splitlines() if line.strip().startswith("full") and " - " in line)
    assert "-0.025 ± " in full  # gaps -0.05 and 0.0; the held-out two-object cell is unknown: "-"
    assert "phrasing" not in summary_table([{k: v for k, v in rows[0].items() if k != "held_out"}], [])
    assert summary_plot(rows, ["full"], tmp_path / "summary.png") and (tmp_path / "summary.png").stat().st_size > 1000
    assert not summary_plot([], ["full"], tmp_path / "none.png") and not (tmp_path / "none.png").exists()
    assert [label for label, _, _ in plot_series(rows)] == ["seen phrasing", "held-out"]


def test_the_plot_shows_refusal_f1_where_tasks_cannot_be_done(tmp_path):
    rows = [
        {"regime": "r", "seed": seed, "model": model, "task_completion": 0.8, "avg_reward": 0.5, "num_samples": 10}
        | {"refusal_f1": f1, "refusal_precision": f1, "refusal_recall": f1, "feasible_task_completion": 0.8}
        for seed, model, f1 in ((1, "sft", 0.0), (2, "sft", 0.2), (1, "full", 0.6), (2, "full", 0.8))
    ]
    series = plot_series(rows)
    assert [label for label, _, _ in series] == ["task completion", "refusal F1"]
    assert [series[1][1](row) for row in rows] == [0.0, 0.2, 0.6, 0.8]
    assert [label for label, _, _ in plot_series([dict(rows[0], refusal_f1=None)])] == ["task completion"]
    none_impossible = [dict(row, refusal_f1=0.0, infeasible_tasks=0) for row in rows]  # F1 0 by definition
    assert [label for label, _, _ in plot_series(none_impossible)] == ["task completion"]
    assert "refusals" not in summary_table(none_impossible, ["full"])
    assert "refusals (3 tasks" in summary_table([dict(row, infeasible_tasks=3) for row in rows], ["full"])
    three = [dict(row, three_objects=0.1, refusal_f1=None) for row in rows]
    assert [label for label, _, _ in plot_series(three)] == ["task completion", "3 objects"]
    assert summary_plot(rows, ["full"], tmp_path / "summary.png")
    grammar = [dict(row, constrained={"refusal_f1": row["refusal_f1"] + 0.1}) for row in rows]
    series = plot_series(grammar)
    assert [label for label, _, _ in series] == ["task completion", "refusal F1", "refusal F1, grammar"]
    assert [series[2][1](row) for row in grammar] == pytest.approx([0.1, 0.3, 0.7, 0.9])


def test_summary_sets_refusals_on_new_words_beside_those_on_the_training_data_s():
    def refusals(f1, recall):
        return {"refusal_f1": f1, "refusal_precision": 1.0, "refusal_recall": recall, "feasible_task_completion": 1.0}

    def row(seed, model, f1, new_f1):
        figures = {"task_completion": 0.8, "avg_reward": 0.5, "infeasible_tasks": 16, **refusals(f1, f1)}
        held_out = {"task_completion": 0.7, **refusals(new_f1, new_f1)}
        return {"regime": "r", "seed": seed, "model": model, "num_samples": 100, **figures, "held_out_words": held_out}

    rows = [row(1, "sft", 0.8, 0.6), row(2, "sft", 0.9, 0.7), row(1, "full", 0.9, 0.9), row(2, "full", 0.9, 0.8)]
    lines = summary_table(rows, ["full"]).splitlines()
    new = next(line for line in lines if line.strip().startswith("sft, new words"))
    assert new.split()[3:6] == ["0.650", "±", "0.635"]  # F1 on new words: mean of 0.6 and 0.7, t(1) interval
    full = next(line for line in lines if line.strip().startswith("full, new words"))
    assert full.split()[-3:] == ["0.200", "±", "1.271"]  # paired gain on new words: +0.3 and +0.1
    trained = next(
        line for line in lines if line.strip().startswith("full ") and "refusal" not in line and "1.000" in line
    )
    assert trained.split()[-3:] == ["0.050", "±", "0.635"]  # on the training data's words: +0.1 and 0.0
    without = [{k: v for k, v in r.items() if k != "held_out_words"} for r in rows]
    assert "new words" not in summary_table(without, ["full"])


def test_summary_breaks_completion_down_by_objects_moved_when_some_tasks_move_three():
    def row(seed, model, three):
        figures = {"task_completion": 0.8, "avg_reward": 0.5, "one_object": 1.0, "two_objects": 0.9}
        return {"regime": "c", "seed": seed, "model": model, "num_samples": 50, **figures, "three_objects": three}

    rows = [row(1, "sft", 0.0), row(2, "sft", 0.1), row(1, "outcome", 0.2), row(2, "outcome", 0.3)]
    table = summary_table(rows, ["outcome"])
    line = next(line for line in table.splitlines() if line.strip().startswith("outcome") and "1.000" in line)
    assert line.split()[-3:] == ["0.200", "±", "0.000"]  # +0.2 on three-object tasks in both seeds, paired
    assert "by objects moved" not in summary_table([{**r, "three_objects": None} for r in rows], ["outcome"])


def test_steps_to_gain_is_the_first_val_evaluation_at_sft_plus_0_05(tmp_path):
    history = tmp_path / "eval_history.jsonl"
    rows = [(0, 0.60), (10, 0.62), (20, 0.65), (30, 0.70)]
    history.write_text("".join(json.dumps({"step": s, "task_completion": c}) + "\n" for s, c in rows))
    assert steps_to_gain(history) == 20
    history.write_text(json.dumps({"step": 0, "task_completion": 0.9}) + "\n")
    assert steps_to_gain(history) is None and steps_to_gain(tmp_path / "absent.jsonl") is None
    table_rows = [
        {"regime": "r", "seed": s, "model": m, "task_completion": 0.5, "avg_reward": 0.1, "num_samples": 10}
        for s in (1, 2)
        for m in ("sft", "full")
    ]
    table_rows[1]["steps_to_gain"], table_rows[3]["steps_to_gain"] = 40, None
    line = next(line for line in summary_table(table_rows, ["full"]).splitlines() if line.strip().startswith("full"))
    assert line.endswith("40, never")


def test_summary_sets_decoding_through_the_grammar_beside_free_decoding():
    def row(seed, model, free, grammar, f1):
        figures = {"task_completion": free, "avg_reward": 0.5, "refusal_f1": f1, "infeasible_tasks": 10}
        figures.update(refusal_precision=f1, refusal_recall=f1, feasible_task_completion=free)
        return {
            **figures,
            "regime": "r",
            "seed": seed,
            "model": model,
            "num_samples": 50,
            "constrained": dict(figures, task_completion=grammar, refusal_f1=f1 + 0.5),
        }

    rows = [row(1, "sft", 0.7, 0.8, 0.0), row(2, "sft", 0.9, 1.0, 0.2)]
    table = summary_table(rows, [])
    assert "through the plan grammar" in table
    line = next(line for line in table.splitlines() if line.strip().startswith("sft") and "0.600" in line)
    assert [line.split()[i] for i in (1, 4, 7, 10)] == ["0.800", "0.900", "0.100", "0.600"]
    assert "grammar" not in summary_table([{k: v for k, v in r.items() if k != "constrained"} for r in rows], [])
