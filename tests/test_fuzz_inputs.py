"""Fuzzing the two doors user files come in by (issue 11): the record reader and the config loader.

Whatever the bytes, a record file either reads or fails with one DataError line naming file:line,
and the records it returns are what every later stage assumes (a task string under the cap, a plan
of strings, string image/id). Whatever the YAML, a config either loads, with finite numbers in
range, or fails with one ConfigError line naming the file. Never another exception (a traceback)."""

import json
import math
from pathlib import Path

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from harp.config import GRPOConfig, SFTConfig, load_grpo_config, load_sft_config
from harp.data.records import MAX_PLAN_STEPS, MAX_TASK_CHARS, read_records
from harp.errors import ConfigError, DataError

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
GOOD = {
    "image": "a_0.png",
    "task": "Put the apple into the basket",
    "plan": ["Navigate(Table)", "Pick(Apple)", "Navigate(Basket)", "Place(Basket)"],
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
# A good record with one key replaced by anything, or dropped, or a wholly random value.
mutated_records = st.one_of(
    st.builds(
        lambda key, value: {**GOOD, key: value}, st.sampled_from(["image", "task", "plan", "id", "scene"]), json_values
    ),
    st.builds(lambda key: {k: v for k, v in GOOD.items() if k != key}, st.sampled_from(list(GOOD))),
    json_values,
)
as_line = st.one_of(
    mutated_records.map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=40),  # raw bytes: bad UTF-8, cut JSON, control characters
    st.integers(1, 3000).map(lambda depth: b"[" * depth + b"]" * depth),  # deep nesting
    st.sampled_from([b'{"image": "a", "task": "\\ud800", "plan": []}', b"\xef\xbb\xbf" + json.dumps(GOOD).encode()]),
)


@FUZZ
@given(st.lists(as_line, min_size=1, max_size=5))
def test_any_record_file_reads_or_fails_in_one_line(tmp_path, lines):
    path = tmp_path / "records.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    try:
        records = read_records(path)
    except DataError as error:
        message = str(error)
        assert message.startswith(str(path)) and "\n" not in message
        return
    for record in records:
        assert isinstance(record["task"], str) and len(record["task"]) <= MAX_TASK_CHARS
        assert isinstance(record["image"], str)
        assert isinstance(record["plan"], str) or (
            isinstance(record["plan"], list) and len(record["plan"]) <= MAX_PLAN_STEPS
        )
        assert record.get("id") is None or isinstance(record["id"], str)
        json.dumps(record, ensure_ascii=False).encode("utf-8")  # writable and printable


def _keys(cls, prefix=""):
    import dataclasses

    out = []
    for f in dataclasses.fields(cls):
        if f.name == "source":
            continue
        if dataclasses.is_dataclass(f.default_factory() if f.default_factory is not dataclasses.MISSING else None):
            out += _keys(type(f.default_factory()), f"{f.name}.")
        else:
            out.append(prefix + f.name)
    return out


SFT_KEYS, GRPO_KEYS = _keys(SFTConfig), _keys(GRPOConfig)
yaml_values = st.one_of(
    st.sampled_from(
        [
            ".inf",
            "-.inf",
            ".nan",
            "1e999",
            "-1",
            "0",
            "-0.5",
            "1e30",
            "null",
            "[]",
            "{}",
            "''",
            "yes",
            "[a",
            "{a: [",
            "!!python/object:os.system x",
            '"\\ud800"',
            "4294967296",
            "2e-5",
            "true",
        ]
    ),
    st.integers(-(10**12), 10**12).map(str),
    st.floats().map(repr),
    st.text(max_size=12).map(json.dumps),
)


def _finite_and_in_range(config):
    t = config.training
    for value in vars(t).values():
        if isinstance(value, float):
            assert math.isfinite(value)
    assert t.learning_rate > 0 and t.weight_decay >= 0 and t.warmup_steps >= 0 and 0 <= t.seed < 2**32


@FUZZ
@given(kind=st.sampled_from(["sft", "grpo"]), data=st.data())
def test_any_config_override_loads_in_range_or_fails_in_one_line(kind, data):
    keys = SFT_KEYS if kind == "sft" else GRPO_KEYS
    overrides = data.draw(st.lists(st.tuples(st.sampled_from(keys), yaml_values), min_size=1, max_size=3))
    loader = load_sft_config if kind == "sft" else load_grpo_config
    path = Path(__file__).resolve().parents[1] / "configs" / f"{kind}_config.yaml"
    try:
        config = loader(path, [f"{key}={value}" for key, value in overrides], check_files=False)
    except ConfigError as error:
        assert str(error).startswith(str(path)) and "\n" not in str(error), str(error)
        return
    _finite_and_in_range(config)


@FUZZ
@given(
    st.binary(max_size=200)
    | st.text(max_size=200).map(str.encode)
    | st.dictionaries(
        st.sampled_from(["model", "training", "lora", "data", "reward"]),
        st.dictionaries(st.text(max_size=10), json_values, max_size=3),
        max_size=3,
    ).map(lambda d: yaml.safe_dump(d).encode())
)
@example(b"model:\n? '\n\n'")  # found by this test: a key holding line breaks was printed raw
def test_any_config_file_loads_or_fails_in_one_line(tmp_path, content):
    path = tmp_path / "c.yaml"
    path.write_bytes(content)
    for loader in (load_sft_config, load_grpo_config):
        try:
            loader(path, check_files=False)
        except ConfigError as error:
            assert str(error).startswith(str(path)) and "\n" not in str(error), str(error)
