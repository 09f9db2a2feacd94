"""Fuzzing the learning benchmark's two readers (issue 23): the experiment file and its results.jsonl.

Whatever the YAML, an experiment file either loads, into a config every later step can use (regime
names that are plain folder names, shares in [0, 1], usable seeds, a workdir that can be made),
creating nothing, or fails with one ConfigError line naming the file. Whatever the bytes,
results.jsonl reads into rows (a torn last line dropped) or fails with one DataError line naming
file:line. Never another exception (a traceback)."""

import json
import math
from pathlib import Path

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from harp.errors import ConfigError, DataError
from harp.recipes.experiment import (
    MAX_SEED,
    REGIME_NAME,
    VARIANTS,
    ExperimentConfig,
    Regime,
    load_experiment,
    read_results,
    regime_settings,
    settings_key,
)

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from(
        [
            "",
            ".",
            "..",
            "../../escape",
            "a/b",
            "clean",
            "noise0.3",
            "full",
            "both_off",
            "wrong_table",
            "random",
            "grounded",
            "file",
            "file/under",
            "no",
            "0.3",
            "1e999",
            "run",
            "training.max_steps=2",
            "training.max_steps=abc",
            "x=",
            "=1",
            "results.jsonl",
            "_old",
            "configs/demo/sft.yaml",
            "\x00",
        ]
    ),
    st.sampled_from([0, 1, 2, 10, 30, -1, 0.5, 1.5, 2**32, float("nan")]),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
fields = [name for name in ExperimentConfig.__dataclass_fields__ if name != "source"]
GOOD = {
    "workdir": "run",
    "num_scenes": 10,
    "seeds": [1, 2],
    "variants": ["full"],
    "regimes": [{"name": "clean"}, {"name": "noisy", "label_noise": 0.3, "sft_records": 4}],
}


def _mutated(changes, regime_changes):
    """GOOD with a few keys of its regimes, then of the file, set to anything."""
    data = json.loads(json.dumps(GOOD))
    for index, key, value in regime_changes:
        data["regimes"][index][key] = value
    for key, value in changes:
        data[key] = value
    return data


experiments = st.one_of(
    st.builds(
        _mutated,
        st.lists(st.tuples(st.sampled_from([*fields, "epochs"]), values), max_size=2),
        st.lists(
            st.tuples(st.integers(0, 1), st.sampled_from([*Regime.__dataclass_fields__, "typo"]), values), max_size=2
        ),
    ),
    st.dictionaries(st.sampled_from([*fields, "epochs"]), values, max_size=6),
)


def _files(root: Path) -> set:
    return {str(path.relative_to(root)) for path in root.rglob("*")}


@FUZZ
@given(
    experiments.map(lambda data: yaml.safe_dump(data).encode())
    | st.binary(max_size=120)
    | st.text(max_size=120).map(str.encode)
)
@example(b"workdir: run\nvariants: full\nblank_images: 'no'\n")
@example(b"workdir: run\nregimes: [{name: ../../escape}]\n")
@example(b'workdir: "run\\0"\n')  # passed the workdir check, then mkdir raised ValueError
@example(b'workdir: "run\\ud800"\n')  # and UnicodeEncodeError
def test_any_experiment_file_loads_usable_or_fails_in_one_line(tmp_path, monkeypatch, content):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file").write_text("x")
    (tmp_path / "existing").mkdir(exist_ok=True)
    path = tmp_path / "experiment.yaml"
    path.write_bytes(content)
    before = _files(tmp_path)
    try:
        config = load_experiment(path)
    except ConfigError as error:
        assert str(error).startswith(str(path)) and "\n" not in str(error), str(error)
        assert _files(tmp_path) == before
        return
    assert _files(tmp_path) == before  # loading checks the workdir, it makes nothing
    assert isinstance(config.workdir, str) and config.workdir.strip() and not Path(config.workdir).is_file()
    assert config.seeds and all(isinstance(s, int) and 0 <= s <= MAX_SEED for s in config.seeds)
    assert len(set(config.seeds)) == len(config.seeds) and set(config.variants) <= set(VARIANTS)
    assert isinstance(config.blank_images, bool) and config.num_scenes >= 10 and config.eval_batch_size >= 1
    names = [regime.name for regime in config.regimes]
    assert names and len(set(names)) == len(names)
    for regime in config.regimes:
        assert REGIME_NAME.fullmatch(regime.name) and ".." not in Path(regime.name).parts
        assert isinstance(regime.label_noise, float) and math.isfinite(regime.label_noise)
        assert 0 <= regime.label_noise <= 1 and (regime.sft_records is None or regime.sft_records >= 1)
        settings_key(regime_settings(config, regime))  # the resume key can be made
    Path(config.workdir).mkdir(parents=True, exist_ok=True)  # and the workdir


row = st.fixed_dictionaries({"regime": st.text(max_size=5), "seed": st.integers(0, 3), "model": st.text(max_size=5)})
lines = st.one_of(
    row.map(lambda r: json.dumps(r).encode()),
    values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=30),
    st.integers(1, 3000).map(lambda depth: b"[" * depth + b"]" * depth),
)


@FUZZ
@given(st.lists(lines, max_size=5), st.booleans())
def test_any_results_file_reads_or_fails_in_one_line(tmp_path, content, newline):
    path = tmp_path / "results.jsonl"
    path.write_bytes(b"\n".join(content) + (b"\n" if newline else b""))
    try:
        rows = read_results(path, repair=True)
    except DataError as error:
        assert str(error).startswith(f"{path}:") and "\n" not in str(error), str(error)
        return
    assert all(isinstance(r, dict) and isinstance(r["seed"], int) and isinstance(r["regime"], str) for r in rows)
    assert read_results(path) == rows  # repaired: it reads the same again, and a row appended starts its own line
    assert not path.read_bytes() or path.read_bytes().endswith(b"\n")
