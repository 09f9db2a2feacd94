"""The learning benchmark's runner against careless and hostile experiment files (issue 23).

Stale results after an edit, two regimes with one name, a torn results.jsonl, bad workdirs,
non-UTF-8 and mistyped YAML. The training stages are stubbed: these are about what the runner
decides to run and keep, in a second, not about training."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harp.errors import ConfigError, DataError
from harp.recipes import experiment
from harp.recipes.experiment import load_experiment, read_results, run_experiment
from harp.rewards.hprm import RewardWeights

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def stages(monkeypatch):
    """The four expensive stages replaced by stubs that record what they were asked to run."""
    calls = []

    def model(stage, root, seed):
        calls.append((stage, root.name, seed))
        out = root / f"seed{seed}" / stage / "final"
        out.mkdir(parents=True, exist_ok=True)
        return out

    def evaluate(config, root, seed, models):
        calls.append(("eval", root.name, seed))
        score = {"task_completion": 0.5, "avg_reward": 0.1, "num_samples": 2}
        return {name: dict(score, blank=score) if config.blank_images else dict(score) for name in models}

    monkeypatch.setattr(
        experiment,
        "build_tiny_model",
        lambda out: (Path(out).mkdir(parents=True, exist_ok=True), (Path(out) / "config.json").write_text("{}")),
    )
    monkeypatch.setattr(experiment, "run_sft", lambda config, regime, root, seed, base: model("sft", root, seed))
    monkeypatch.setattr(experiment, "run_grpo", lambda config, root, seed, variant, sft: model(variant, root, seed))
    monkeypatch.setattr(experiment, "evaluate_models", evaluate)
    return calls


def write(tmp_path, body):
    path = tmp_path / "experiment.yaml"
    path.write_text(f"workdir: {tmp_path / 'run'}\nnum_scenes: 10\nseeds: [1]\nvariants: [full]\n{body}")
    return path


# ------------------------------------------------------------------------- item 5: stale results


@pytest.mark.parametrize(
    "before, after, edited",
    [
        ("label_noise: 0.3", "label_noise: 0.5", {"noisy"}),  # one regime's data
        ("training.max_steps=1", "training.max_steps=2", {"noisy", "clean"}),  # every regime's GRPO
    ],
)
def test_an_edited_regime_is_run_again_and_its_old_results_kept_aside(tmp_path, stages, capsys, before, after, edited):
    path = write(
        tmp_path, "regimes: [{name: noisy, label_noise: 0.3}, {name: clean}]\ngrpo_overrides: [training.max_steps=1]\n"
    )
    first = run_experiment(load_experiment(path))
    assert len(first) == 4 and len(stages) == 6  # sft, full and eval per regime
    stages.clear()
    path.write_text(path.read_text().replace(before, after))
    again = run_experiment(load_experiment(path))
    assert {name for _, name, _ in stages} == edited  # the edited regimes run afresh; the others are reused
    assert "were made under other settings: kept there, not reused" in capsys.readouterr().out
    lines = (tmp_path / "run" / "results.jsonl").read_text().splitlines()
    assert len(lines) == 4 + 2 * len(edited) and len(again) == 4  # the old rows kept, not counted
    settings = json.loads((tmp_path / "run" / "noisy" / "settings.json").read_text())["settings"]
    assert settings["label_noise"] == (0.5 if edited == {"noisy"} else 0.3)
    old = list((tmp_path / "run" / "_old").iterdir())
    assert len(old) == len(edited) and all((folder / "eval.jsonl").is_file() for folder in old)  # moved, not deleted


def as_if_recorded_without(run, name, keys, row_count):
    """Rewrite a regime's settings.json and rows as an older HARP would have made them: without the
    stage-config keys `keys` ((stage, section, key) triples), under the key of those settings."""
    recorded = json.loads((run / name / "settings.json").read_text())
    for stage, section, key in keys:
        del recorded["settings"][stage][section][key]
    old_key = experiment.settings_key(recorded["settings"])
    (run / name / "settings.json").write_text(json.dumps({"key": old_key, "settings": recorded["settings"]}))
    rows = [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]
    assert len(rows) == row_count
    (run / "results.jsonl").write_text("".join(json.dumps({**row, "settings": old_key}) + "\n" for row in rows))
    return old_key


def test_a_stage_key_added_since_leaves_earlier_runs_valid_while_at_its_default(tmp_path, stages, capsys):
    """Runs made before `grammar_leak_weight` and `slip_penalty` existed ran as their defaults do: they
    are reused, not redone, until one is set; a recorded key that is gone now never matches."""
    # slip_penalty at its default (the demo's config sets it)
    path = write(tmp_path, "regimes: [{name: clean}]\ngrpo_overrides: [reward.slip_penalty=null]\n")
    run_experiment(load_experiment(path))
    stages.clear()
    run = tmp_path / "run"
    later = [("grpo", "training", "grammar_leak_weight"), ("grpo", "reward", "slip_penalty")]
    old_key = as_if_recorded_without(run, "clean", later, 2)
    rows = run_experiment(load_experiment(path))
    assert stages == [] and len(rows) == 2 and {row["settings"] for row in rows} == {old_key}
    assert "other settings" not in capsys.readouterr().out

    path.write_text(path.read_text().replace("slip_penalty=null", "slip_penalty=0.1"))  # set: not the old runs
    rows = run_experiment(load_experiment(path))
    assert ("sft", "clean", 1) in stages and len(rows) == 2 and old_key not in {row["settings"] for row in rows}
    assert (run / "_old" / f"clean-{old_key}").is_dir()

    config = load_experiment(path)
    assert experiment.regime_key(config, config.regimes[0]) == experiment.settings_key(
        experiment.regime_settings(config, config.regimes[0])
    )
    recorded = json.loads((run / "clean" / "settings.json").read_text())
    recorded["settings"]["grpo"]["training"]["a_key_gone_since"] = 1  # made by a HARP with a key this one lacks
    (run / "clean" / "settings.json").write_text(json.dumps({"key": "0123456789ab", "settings": recorded["settings"]}))
    assert experiment.regime_key(config, config.regimes[0]) == recorded["key"]  # not the gone key's folder


def test_a_folder_from_before_settings_were_recorded_is_not_reused(tmp_path, stages):
    path = write(tmp_path, "regimes: [{name: clean}]\n")
    legacy = tmp_path / "run" / "clean" / "seed1" / "sft" / "final"
    legacy.mkdir(parents=True)
    (legacy / "config.json").write_text("{}")
    (tmp_path / "run" / "results.jsonl").write_text(
        json.dumps(
            {"regime": "clean", "seed": 1, "model": "sft", "task_completion": 1.0, "avg_reward": 1.0, "num_samples": 2}
        )
        + "\n"
    )
    rows = run_experiment(load_experiment(path))
    assert ("sft", "clean", 1) in stages and [row["task_completion"] for row in rows] == [0.5, 0.5]
    assert (tmp_path / "run" / "_old" / "clean-unrecorded" / "seed1").is_dir()


def test_two_regimes_with_one_name_are_refused(tmp_path):
    path = write(tmp_path, "regimes: [{name: noisy, label_noise: 0.3}, {name: noisy, label_noise: 0.5}]\n")
    with pytest.raises(ConfigError, match=re.escape("regimes[1].name: 'noisy' is also regimes[0]'s name")):
        load_experiment(path)


def test_summary_shows_only_the_current_settings(tmp_path, stages):
    path = write(tmp_path, "regimes: [{name: clean}]\n")
    run_experiment(load_experiment(path))
    path.write_text(path.read_text().replace("num_scenes: 10", "num_scenes: 12"))
    command = [sys.executable, str(ROOT / "benchmarks" / "learning.py"), "--config", str(path), "--summary"]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 1 and "no results for these settings" in result.stderr
    assert "2 rows of these regimes were made under other settings" in result.stderr


def test_too_many_sft_records_stop_before_any_training(tmp_path, stages):
    path = write(tmp_path, "regimes: [{name: clean}, {name: few, sft_records: 1000}]\n")
    with pytest.raises(ConfigError, match="sft_records must be 1..8, got 1000"):
        run_experiment(load_experiment(path))
    assert stages == []


# ------------------------------------------------------------------------- item 14: a torn last line


@pytest.mark.parametrize("cut", [-10, -1])  # mid-row, and a whole row but its newline
def test_a_torn_last_line_is_dropped_and_its_run_redone(tmp_path, stages, capsys, cut):
    path = write(tmp_path, "regimes: [{name: clean}]\n")
    run_experiment(load_experiment(path))
    results = tmp_path / "run" / "results.jsonl"
    results.write_bytes(results.read_bytes()[:cut])  # a kill while writing the last row
    rows = read_results(results)
    assert [row["model"] for row in rows] == (["sft"] if cut == -10 else ["sft", "full"])
    stages.clear()
    path.write_text(path.read_text().replace("seeds: [1]", "seeds: [1, 2]"))  # and a seed more to append
    rows = run_experiment(load_experiment(path))
    assert sorted((row["seed"], row["model"]) for row in rows) == [(1, "full"), (1, "sft"), (2, "full"), (2, "sft")]
    assert {seed for stage, _, seed in stages if stage == "eval"} == ({1, 2} if cut == -10 else {2})
    if cut == -10:
        assert "a torn last line" in capsys.readouterr().err
    assert len([json.loads(line) for line in results.read_text().splitlines()]) == 4  # one row each, every line whole


def test_a_bad_line_before_the_last_is_one_line_naming_it(tmp_path):
    results = tmp_path / "results.jsonl"
    results.write_bytes(
        b'{"regime": "r", "seed": 1, "model": "sft"}\n{"regime": \n{"regime": "r", "seed": 1, "model": "full"}\n'
    )
    with pytest.raises(DataError, match=re.escape(f"{results}:2: not valid JSON")):
        read_results(results)


# ------------------------------------------------------------------------- items 9, 10, 11: the file


def test_a_workdir_that_cannot_be_one_is_refused_before_any_work(tmp_path):
    (tmp_path / "file").write_text("x")
    for workdir, problem in [
        (tmp_path / "file", "is a file, not a folder"),
        (tmp_path / "file" / "under", "is a file, so"),
        ("''", "workdir: missing"),
    ]:
        path = tmp_path / "experiment.yaml"
        path.write_text(f"workdir: {workdir}\n")
        with pytest.raises(ConfigError, match=re.escape(problem)) as error:
            load_experiment(path)
        assert str(error.value).startswith(f"{path}: workdir: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["experiment.yaml", "file"]  # no debris


def test_an_unwritable_workdir_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr("harp.paths.os.access", lambda path, mode: False)  # as for a user (root writes anywhere)
    path = tmp_path / "experiment.yaml"
    path.write_text(f"workdir: {tmp_path / 'locked' / 'run'}\n")
    with pytest.raises(ConfigError, match=re.escape(f"{path}: workdir: {tmp_path} is not writable")):
        load_experiment(path)


def test_a_non_utf8_experiment_file_is_one_line(tmp_path):
    path = tmp_path / "experiment.yaml"
    path.write_bytes(b"workdir: run\n# caf\xe9\n")
    with pytest.raises(ConfigError, match=re.escape(f"{path}: line 2: not UTF-8 text")):
        load_experiment(path)


@pytest.mark.parametrize(
    "body, message",
    [
        ('blank_images: "no"\n', "blank_images: expected true or false, got 'no'"),
        ("regimes: [{name: clean}, {name: x, label_noise: x}]\n", "regimes[1].label_noise: expected a number, got 'x'"),
        ("regimes: [{name: x, label_noise: 1.5}]\n", "regimes[0].label_noise: must be a number in [0, 1], got 1.5"),
        ("regimes: [{name: ../../escape}]\n", "regimes[0].name: '../../escape' is not a plain folder name"),
        ("regimes: [{name: a/b}]\n", "regimes[0].name: 'a/b' is not a plain folder name"),
        ("regimes: [{name: results.jsonl}]\n", "regimes[0].name: 'results.jsonl' is not a plain folder name"),
        ("regimes: [{name: 3}]\n", "regimes[0].name: expected a string, got 3"),
        ("regimes: clean\n", "regimes[0]: expected a mapping, got str"),
        ("regimes: []\n", "regimes: name at least one regime"),
        ("regimes: [{name: x, sft_records: 0}]\n", "regimes[0].sft_records: must be at least 1"),
        ("seeds: 1\n", "seeds: expected a list, got 1"),
        ("seeds: [1, -1]\n", "seeds[1]: must be an integer in [0, 4294967295], got -1"),
        ("seeds: [1, 1]\n", "seeds[1]: 1 is there twice"),
        ("num_scenes: 3\n", "num_scenes: must be at least 10"),
        ("num_scenes: ten\n", "num_scenes: expected an integer, got 'ten'"),
        ("eval_batch_size: 0\n", "eval_batch_size: must be at least 1, got 0"),
        ("workdir: [a]\n", "workdir: expected a string"),
        ('grpo_overrides: ["training.max_steps=abc"]\n', "grpo_config with grpo_overrides: "),
        ('sft_overrides: ["training.num_epochs"]\n', "sft_config with sft_overrides: "),
        ('sft_config: "configs/demo/nothing.yaml"\n', "config file not found"),
    ],
)
def test_mistyped_values_are_one_line_naming_the_key(tmp_path, body, message):
    path = tmp_path / "experiment.yaml"
    path.write_text(body if body.startswith("workdir") else f"workdir: {tmp_path / 'run'}\n{body}")
    with pytest.raises(ConfigError) as error:
        load_experiment(path)
    assert message in str(error.value) and str(error.value).startswith(str(path)) and "\n" not in str(error.value)


def test_an_empty_file_runs_nothing(tmp_path):
    path = tmp_path / "experiment.yaml"
    path.write_text("# nothing yet\n")
    with pytest.raises(ConfigError, match=re.escape(f"{path}: workdir: missing")):
        load_experiment(path)


def test_one_variant_given_as_a_string_is_a_list_of_one(tmp_path):
    path = tmp_path / "experiment.yaml"
    path.write_text(f"workdir: {tmp_path / 'run'}\nvariants: full\n")
    assert load_experiment(path).variants == ["full"]


def test_every_model_is_scored_with_the_experiments_own_weights_whatever_arm_comes_last(tmp_path, monkeypatch):
    """`harp evaluate` scores with the last model's training weights; the benchmark passes its own, so an
    `outcome` arm listed last does not change the other models' avg reward (it once did: SFT 0.495 -> 0.177)."""
    path = tmp_path / "experiment.yaml"
    path.write_text(f"workdir: {tmp_path / 'run'}\nregimes: [{{name: clean}}]\nvariants: [full, outcome]\n")
    config = load_experiment(path)
    seen = []

    class Stop(Exception):
        pass

    def fake_evaluate(*args, weights=None, **kwargs):
        seen.append(weights)
        raise Stop

    monkeypatch.setattr(experiment, "evaluate", fake_evaluate)
    with pytest.raises(Stop):
        experiment.evaluate_models(config, tmp_path, 1, {"sft": tmp_path / "a", "outcome": tmp_path / "b"})
    own = RewardWeights.from_config(experiment.stage_configs(config)[1].reward)
    outcome = RewardWeights.from_config(experiment.stage_configs(config, "outcome")[1].reward)
    assert seen == [own] and own != outcome
