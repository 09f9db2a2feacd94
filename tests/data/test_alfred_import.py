"""`harp data import-alfred` on hostile input (issue 23, items 8, 9, 10 and 19): a row that cannot be
imported is one line naming it and nothing is written; whatever it writes reads back with the record
readers, each step as the demonstration has it; it never overwrites its input; long plans are
refused at once instead of taking quadratic time."""

import json
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harp.data.alfred_import import import_alfred
from harp.data.records import read_records
from harp.errors import DataError, HarpError
from harp.plan import load_domain
from harp.plan.parser import parse_plan

REAL = Path(__file__).resolve().parents[1] / "plan" / "data" / "alfred_high_level_plans.jsonl"


def step(action, *args):
    return {"action": action, "args": list(args)}


def row(trial="trial-1", steps=None, **extra):
    steps = (
        steps
        if steps is not None
        else [
            step("GotoLocation", "countertop"),
            step("PickupObject", "apple"),
            step("GotoLocation", "fridge"),
            step("PutObject", "apple", "fridge"),
        ]
    )
    return {"trial": trial, "task_descs": ["Put an apple in the fridge."], "high_pddl": steps + [step("NoOp")], **extra}


def write(path, *rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


BAD = {  # id: (rows, line named, words in the message)
    "300-steps": ([row(steps=[step("GotoLocation", "countertop")] * 300)], 1, "'plan' has 300 steps (limit 200)"),
    "duplicate-trial": ([row("t"), row("t")], 2, "trial 't' is also on line 1"),
    "missing-trial": ([row(None)], 1, "expected a 'trial' string"),
    "number-argument": ([row(steps=[step("GotoLocation", 5)])], 1, "arguments must be strings, got int"),
    "injecting-argument": (
        [row(steps=[step("GotoLocation", "table), PickupObject(apple")])],
        1,
        "argument 'table), PickupObject(apple' is not an ALFRED object type",
    ),
    "comma-argument": ([row(steps=[step("PickupObject", "apple, knife")])], 1, "is not an ALFRED object type"),
    "unknown-action": ([row(steps=[step("FlyObject", "apple")])], 1, "unknown ALFRED action 'FlyObject'"),
    "missing-argument": ([row(steps=[step("GotoLocation")])], 1, "GotoLocation takes 1 argument, got 0"),
    "one-argument-put": (
        [row(steps=[step("PickupObject", "apple"), step("PutObject", "apple")])],
        1,
        "PutObject takes 2 arguments, got 1",
    ),
    "step-after-noop": ([row(steps=[step("NoOp"), step("GotoLocation", "sink")])], 1, "'GotoLocation' after NoOp"),
    "no-step": ([row(steps=[])], 1, "no step besides NoOp"),
    "processor-token": ([row(task_descs=["Put the <|image_pad|> away"])], 1, "'task' holds <|image_pad|>"),
    "long-task": ([row(task_descs=["x" * 2001])], 1, "'task' is 2,001 characters"),
    "non-string-task": ([row(task_descs=[["Put an apple away"]])], 1, "'task_descs' must be a list of strings"),
    "pddl-params-list": ([row(pddl_params=["CounterTop"])], 1, "'pddl_params' must be an object"),
    "nested-scene": ([row(scene={"floor": [1, 2]})], 1, "'scene' must be a string, got dict"),
    "deep": (["[" * 100_000 + "]" * 100_000], 1, "nested too deeply"),  # item 10
    "surrogate": (['{"trial": "t", "task_descs": ["\\ud800"], "high_pddl": []}'], 1, "lone surrogate"),  # item 10
    "blank-heat-empty-hand": (
        [row(steps=[step("GotoLocation", "microwave"), step("HeatObject", "")])],
        1,
        "'Heat()' (step 1), which does not parse",
    ),
}


@pytest.mark.parametrize("rows, line, words", BAD.values(), ids=BAD.keys())
def test_a_row_that_cannot_be_imported_is_one_line_and_nothing_is_written(tmp_path, rows, line, words):
    source = write(tmp_path / "alfred.jsonl", *rows)
    with pytest.raises(DataError) as caught:
        import_alfred(source, tmp_path / "out.jsonl")
    message = str(caught.value)
    assert message.startswith(f"{source}:{line}: ") and words in message and "\n" not in message
    assert [p.name for p in tmp_path.iterdir()] == ["alfred.jsonl"]  # no output, no .tmp


def test_an_empty_input_is_an_error(tmp_path):
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(DataError, match=r"empty\.jsonl: no ALFRED rows"):
        import_alfred(tmp_path / "empty.jsonl", tmp_path / "out.jsonl")
    assert not (tmp_path / "out.jsonl").exists()


def test_import_never_overwrites_its_input(tmp_path, monkeypatch, capsys):
    from harp.data.cli import IMPORT_ALFRED

    monkeypatch.chdir(tmp_path)
    source = write(tmp_path / "alfred.jsonl", row())
    before = source.read_bytes()
    assert IMPORT_ALFRED.main("harp", ["--input", "alfred.jsonl", "--output", "./sub/../alfred.jsonl"]) == 1
    assert (
        capsys.readouterr().err.strip()
        == "harp: error: --output ./sub/../alfred.jsonl: is the --input file; write the records elsewhere"
    )
    assert source.read_bytes() == before
    with pytest.raises(HarpError, match="is the --input file"):
        import_alfred(source, source)


@pytest.mark.parametrize(
    "output", [".", "", "folder", "afile/out.jsonl"], ids=["dot", "empty", "folder", "below-a-file"]
)
def test_import_refuses_an_output_it_cannot_write(tmp_path, monkeypatch, capsys, output):
    from harp.data.cli import IMPORT_ALFRED

    monkeypatch.chdir(tmp_path)
    write(tmp_path / "alfred.jsonl", row())
    (tmp_path / "folder").mkdir()
    (tmp_path / "afile").write_text("")
    assert IMPORT_ALFRED.main("harp", ["--input", "alfred.jsonl", "--output", output]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("harp: error: --output: ")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["afile", "alfred.jsonl", "folder"]


def test_a_plan_far_over_the_cap_is_refused_at_once(tmp_path):
    steps = [
        step("GotoLocation", "countertop"),
        step("PickupObject", "apple"),
        step("GotoLocation", "fridge"),
        step("PutObject", "apple", "fridge"),
    ] * 1500
    source = write(tmp_path / "alfred.jsonl", row(steps=steps))
    load_domain("alfred")  # loaded once per process: not what is timed
    start = time.perf_counter()
    with pytest.raises(DataError, match="'plan' has 6,000 steps"):
        import_alfred(source, tmp_path / "out.jsonl")
    assert time.perf_counter() - start < 2.0  # the scene walk is not linear in the plan: it never sees such a plan


def test_the_real_demonstrations_read_back_as_written(tmp_path):
    count = import_alfred(REAL, tmp_path / "alfred.jsonl")
    records = read_records(tmp_path / "alfred.jsonl")
    assert count == len(records) == 131 and len({r["id"] for r in records}) == 131
    assert all(parse_plan(r["plan"]).ok for r in records)


# ------------------------------------------------------------------------ fuzzing (item 19)

ALFRED_ACTIONS = [
    "GotoLocation",
    "PickupObject",
    "PutObject",
    "OpenObject",
    "CloseObject",
    "ToggleObject",
    "HeatObject",
    "CoolObject",
    "CleanObject",
    "SliceObject",
]
TYPES = ["countertop", "apple", "fridge", "microwave", "knife", "sinkbasin", "cabinet", "desklamp", "tomato", ""]
text = st.lists(st.sampled_from(list('ab (),|<>_-\n\\"') + ["<|image_pad|>", "\ud800", "é"]), max_size=6).map("".join)
good_step = st.builds(
    lambda action, args: {"action": action, "args": args[:2] if action == "PutObject" else args[:1]},
    st.sampled_from(ALFRED_ACTIONS),
    st.lists(st.sampled_from(TYPES), min_size=2, max_size=2),
)
hostile_step = st.one_of(
    st.builds(
        lambda action, args: {"action": action, "args": args},
        st.sampled_from(ALFRED_ACTIONS + ["NoOp"]) | text,
        st.lists(st.sampled_from(TYPES) | text | st.integers() | st.none(), max_size=3) | st.none() | text,
    ),
    st.sampled_from([{}, [], "GotoLocation(apple)", {"action": "NoOp"}, {"action": 5, "args": []}]),
)
# Mostly rows ALFRED could have written, so conversion runs; a share of them hostile in one place.
fuzz_row = st.fixed_dictionaries(
    {
        "trial": st.sampled_from(["t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8", "t9", "t10", "", None, 7]),
        "high_pddl": st.one_of(
            st.lists(good_step, min_size=1, max_size=10),
            st.lists(good_step, min_size=1, max_size=10),
            st.lists(good_step | hostile_step, max_size=6),
            st.integers(196, 204).map(lambda n: [{"action": "GotoLocation", "args": ["sinkbasin"]}] * n),
        ),
    },
    optional={
        "task_descs": st.lists(st.sampled_from(["Heat an apple.", ""]) | text, max_size=2) | st.lists(st.integers()),
        "task_type": st.sampled_from(["pick_and_place_simple", "pick_heat_then_place_in_recep", None, ["x"]]),
        "scene": st.sampled_from(["FloorPlan1", "FloorPlan2", "FloorPlan3", {"floor": 1}]),
        "pddl_params": st.dictionaries(
            st.sampled_from(["object_target", "parent_target"]),
            st.sampled_from(["CounterTop", "SinkBasin", "K\u212aife"]) | text | st.booleans(),
            max_size=2,
        )
        | st.lists(text, max_size=2),
    },
)
fuzz_line = st.one_of(  # as bytes: escaped or raw UTF-8 (a lone surrogate as its bytes), bad bytes, deep nesting
    fuzz_row.map(lambda r: json.dumps(r).encode()),
    fuzz_row.map(lambda r: json.dumps(r).encode()),
    fuzz_row.map(lambda r: json.dumps(r, ensure_ascii=False).encode("utf-8", "surrogatepass")),
    st.binary(max_size=30),
    st.integers(1, 3000).map(lambda depth: b"[" * depth + b"]" * depth),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(fuzz_line, min_size=1, max_size=3))
def test_any_alfred_file_imports_records_that_read_back_or_fails_in_one_line(lines):
    alfred = load_domain("alfred")
    with tempfile.TemporaryDirectory() as folder:
        source, output = Path(folder) / "alfred.jsonl", Path(folder) / "out.jsonl"
        source.write_bytes(b"\n".join(lines) + b"\n")
        try:
            count = import_alfred(source, output)
        except DataError as error:
            assert str(error).startswith(str(source)) and "\n" not in str(error)
            assert [p.name for p in Path(folder).iterdir()] == ["alfred.jsonl"]
            return
        records = read_records(output)  # what the importer writes, the readers read
        assert len(records) == count == len({r["id"] for r in records})
        for record in records:
            parsed = parse_plan(record["plan"])
            assert parsed.ok and len(parsed.steps) == len(record["plan"])  # no step injected or lost
            assert all(s.action in alfred.action_names for s in parsed.steps)
