"""`harp data import-alfred`: ALFRED expert demonstrations -> HARP records for the `alfred` domain.

    harp data import-alfred --input tests/plan/data/alfred_high_level_plans.jsonl --output data/alfred.jsonl

Mapping (one ALFRED high-level step -> one HARP step; `NoOp` ends the plan and is dropped):

| ALFRED (`high_pddl`)           | HARP step        |
|--------------------------------|------------------|
| GotoLocation(x)                | Navigate(X)      |
| PickupObject(x)                | Pick(X)          |
| PutObject(x, r)                | Place(R)         |
| OpenObject / CloseObject(x)    | Open(X) / Close(X) |
| ToggleObject(x)                | Toggle(X)        |
| HeatObject / CoolObject / CleanObject(x) | Heat / Cool / Clean(held object) |
| SliceObject(x)                 | Slice(X)         |

Heat, Cool and Clean name the object in the hand at that step, not ALFRED's written argument:
ALFRED's controller (and its PDDL) heats, cools or cleans whatever the agent holds, and the
argument is informational; three demonstrations write it blank (`CleanObject("")`) or name another
object (`HeatObject(knife)` with the tomato in the hand). Where the two differ the record's `meta`
lists the repair, `"repaired": [{"step": i, "alfred": "HeatObject(knife)", "harp": "Heat(Tomato)",
"why": "ALFRED heats the held object"}]` (step counted from 0); with nothing in the hand the step
keeps its argument (and fails when scored).

ALFRED's arguments are lower-cased kinds (`countertop`); instance names (`CounterTop 2`, `Book 2`)
are given where the plan visits two of a kind (harp/plan/alfred.py). Names are written in the
CamelCase ALFRED uses in `pddl_params` when known (`CounterTop`), else capitalised. A record is
`{"id": trial, "image": "", "task": first task sentence, "plan": [...], "meta": {...}}` with no
scene: scoring infers it and takes the plan's net effect as the goal. ALFRED ships no images here,
so `image` is empty (these records are for `harp score`, not for training).

Import is all or nothing, and nothing is coerced: a row with an unknown action, a wrong number of
arguments, an argument that is not an object type (letters and digits), a missing or repeated
`trial`, or a plan or task over the record caps (harp.data.records) is one DataError naming its
line, and the output is not written. Every record written reads back with the record readers.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from harp.data.records import iter_records, record_problem, text_problem, write_records
from harp.errors import DataError, HarpError
from harp.paths import check_output_file
from harp.plan import load_domain
from harp.plan.alfred import infer_initial
from harp.plan.facts import kind_of
from harp.plan.parser import parse_plan

ACTIONS = {
    "GotoLocation": "Navigate",
    "PickupObject": "Pick",
    "PutObject": "Place",
    "OpenObject": "Open",
    "CloseObject": "Close",
    "ToggleObject": "Toggle",
    "HeatObject": "Heat",
    "CoolObject": "Cool",
    "CleanObject": "Clean",
    "SliceObject": "Slice",
}  # and NoOp, which ends the plan
WORDS = {name.lower(): word for name, word in ACTIONS.items()}  # ALFRED's names, any case
HELD_VERBS = {"Heat": "heats", "Cool": "cools", "Clean": "cleans"}  # act on the held object, see above
# ALFRED object types as ALFRED writes them (the data's `pddl_params` holds more).
CAMEL = [
    "CounterTop",
    "SinkBasin",
    "BathtubBasin",
    "DiningTable",
    "CoffeeTable",
    "SideTable",
    "StoveBurner",
    "GarbageCan",
    "DeskLamp",
    "FloorLamp",
    "ArmChair",
    "TissueBox",
    "ToiletPaper",
    "ToiletPaperHanger",
    "HandTowel",
    "HandTowelHolder",
    "SoapBar",
    "SoapBottle",
    "SprayBottle",
    "DishSponge",
    "ButterKnife",
    "CreditCard",
    "CellPhone",
    "KeyChain",
    "RemoteControl",
    "BaseballBat",
    "TennisRacket",
    "WateringCan",
]
# An ALFRED argument is an object type (`countertop`, `cd`): letters and digits. Anything else
# (`table), Pick(apple`) would write steps the demonstration does not have.
OBJECT_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9]*")


def read_alfred(path: str | Path) -> list[dict]:
    """The ALFRED rows of a jsonl file, each checked (`row_problem`); a bad one is a DataError naming file and line."""
    return [row for _, row in _numbered_rows(path)]


def _numbered_rows(path: str | Path) -> list[tuple[int, dict]]:
    rows, trials = [], {}
    for number, row in iter_records(path, required=()):  # bad bytes, deep nesting, lone surrogates: one line
        problem = row_problem(row)
        if not problem and row["trial"] in trials:  # `harp score` matches records by id
            problem = f"trial {row['trial']!r} is also on line {trials[row['trial']]}; each must be unique"
        if problem:
            raise DataError(f"{path}:{number}: {problem}")
        trials[row["trial"]] = number
        rows.append((number, row))
    if not rows:  # exiting 0 with an empty output hid a wrong --input
        raise DataError(f"{path}: no ALFRED rows")
    return rows


def row_problem(row: dict) -> str | None:
    """What makes an ALFRED row unfit to import, in a few words (None when it is fit): everything
    `convert` reads is checked for type and form, so nothing is coerced or dropped unsaid."""
    if not isinstance(row, dict) or not isinstance(row.get("high_pddl"), list):
        return "expected an ALFRED row with a 'high_pddl' list"
    if not isinstance(row.get("trial"), str) or not row["trial"].strip():
        return "expected a 'trial' string (the record's id)"
    for key in ("task_type", "scene"):
        if row.get(key) is not None and not isinstance(row[key], str):
            return f"'{key}' must be a string, got {type(row[key]).__name__}"
    if not isinstance(row.get("pddl_params", {}), dict):
        return "'pddl_params' must be an object"
    descriptions = row.get("task_descs", [])
    if not isinstance(descriptions, list) or not all(isinstance(d, str) for d in descriptions):
        return "'task_descs' must be a list of strings"
    written, ended = [], False
    for index, step in enumerate(row["high_pddl"]):
        where = f"high_pddl step {index}"
        if (
            not isinstance(step, dict)
            or not isinstance(step.get("action"), str)
            or not isinstance(step.get("args", []), list)
        ):
            return f'{where}: expected {{"action": ..., "args": [...]}}'
        action, args = step["action"].strip(), step.get("args", [])
        if action.lower() == "noop":
            ended = True
            continue
        if ended:
            return f"{where}: {action!r} after NoOp, which ends the plan"
        word = WORDS.get(action.lower())
        if word is None:
            return f"{where}: unknown ALFRED action {action!r} (known: {', '.join(ACTIONS)}, NoOp)"
        wanted = 2 if word == "Place" else 1
        if len(args) != wanted:
            return f"{where}: {action} takes {wanted} argument{'s' if wanted > 1 else ''}, got {len(args)}"
        for arg in args:
            if not isinstance(arg, str):
                return f"{where}: arguments must be strings, got {type(arg).__name__}"
            if not OBJECT_TYPE.fullmatch(arg.strip()) and (arg.strip() or word not in HELD_VERBS):
                return f"{where}: {action} argument {arg!r} is not an ALFRED object type (letters and digits)"
        written.append(f"{word}({args[-1].strip()})")
    if not written:
        return "high_pddl has no step besides NoOp"
    task = next((d.strip() for d in descriptions if d.strip()), "")
    return text_problem(task, written)  # a plan over the step cap is refused before the walk, which is not linear


def alfred_steps(row: dict) -> list[tuple[str, str, str]]:
    """(HARP word, ALFRED kind, ALFRED's step as written) per step of a checked row; `PutObject(x, r)` keeps r."""
    steps = []
    for step in row["high_pddl"]:
        action = step["action"].strip()
        if action.lower() == "noop":
            continue
        args = [a.strip().lower() for a in step["args"]]
        word = WORDS[action.lower()]
        steps.append((word, args[-1], f"{action}({', '.join(a for a in args if a)})"))
    return steps


def convert(row: dict, domain) -> dict:
    """One checked ALFRED row (`row_problem`) as a HARP record (see the module docstring)."""
    steps = alfred_steps(row)
    _, _, names = infer_initial([(w.lower(), a) for w, a, _ in steps], domain.spec, rename=True)
    camel = {name.lower(): name for name in CAMEL}
    for value in (row.get("pddl_params") or {}).values():
        if isinstance(value, str) and OBJECT_TYPE.fullmatch(value):
            camel.setdefault(value.lower(), value)
    plan = [f"{word}({_display(name, camel)})" for (word, _, _), name in zip(steps, names)]
    meta = {"source": "alfred", "task_type": row.get("task_type"), "scene": row.get("scene")}
    repaired = [
        {"step": i, "alfred": written, "harp": plan[i], "why": f"ALFRED {HELD_VERBS[word]} the held object"}
        for i, ((word, kind, written), name) in enumerate(zip(steps, names))
        if word in HELD_VERBS and name and kind_of(name) != kind
    ]
    if repaired:
        meta["repaired"] = repaired
    task = next((d.strip() for d in row.get("task_descs", []) if d.strip()), "")
    return {"id": row["trial"], "image": "", "task": task, "plan": plan, "meta": meta}


def _display(name: str, camel: dict) -> str:
    words = name.split(" ")
    head = camel.get(words[0], words[0][:1].upper() + words[0][1:])
    return " ".join([head] + words[1:])


def import_alfred(input_path: str | Path, output_path: str | Path, domain_name: str = "alfred") -> int:
    """Convert a whole file; returns the number of records written.

    All or nothing: a row that cannot be imported is a DataError naming its line, and nothing is
    written. Each record is checked as the record readers check it and its plan must parse, so
    everything written reads back as written."""
    output, source = check_output_file(output_path, "--output"), Path(input_path)
    if output.resolve() == source.resolve() or (
        output.exists() and source.exists() and os.path.samefile(source, output)
    ):
        raise HarpError(f"--output {output_path}: is the --input file; write the records elsewhere")
    domain = load_domain(domain_name)
    records = []
    for number, row in _numbered_rows(input_path):
        record = convert(row, domain)
        problem = record_problem(record) or _plan_problem(record["plan"])
        if problem:
            raise DataError(f"{input_path}:{number}: {problem}")
        records.append(record)
    write_records(output, records)
    return len(records)


def _plan_problem(plan: list[str]) -> str | None:
    """A step that would not parse: a blank Heat/Cool/Clean argument with nothing in the hand to stand for it."""
    for index, step in enumerate(plan):
        parsed = parse_plan(step)
        if not parsed.ok or len(parsed.steps) != 1:
            return f"high_pddl: it would write the step {step!r} (step {index}), which does not parse"
    return None
