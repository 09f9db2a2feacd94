"""`harp data import-alfred`: ALFRED expert demonstrations -> HARP records for the `alfred` domain.

    harp data import-alfred --input ../shared/data/alfred_high_level_plans.jsonl --output data/alfred.jsonl

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
"""

from __future__ import annotations

import json
from pathlib import Path

from harp.data.records import json_error, write_records
from harp.errors import DataError
from harp.plan import Domain
from harp.plan.alfred import infer_initial
from harp.plan.facts import kind_of

WORDS = {"gotolocation": "Navigate", "pickupobject": "Pick", "putobject": "Place", "openobject": "Open",
         "closeobject": "Close", "toggleobject": "Toggle", "heatobject": "Heat", "coolobject": "Cool",
         "cleanobject": "Clean", "sliceobject": "Slice"}
HELD_VERBS = {"Heat": "heats", "Cool": "cools", "Clean": "cleans"}  # act on the held object, see above
# ALFRED object types as ALFRED writes them (the data's `pddl_params` holds more).
CAMEL = ["CounterTop", "SinkBasin", "BathtubBasin", "DiningTable", "CoffeeTable", "SideTable", "StoveBurner",
         "GarbageCan", "DeskLamp", "FloorLamp", "ArmChair", "TissueBox", "ToiletPaper", "ToiletPaperHanger",
         "HandTowel", "HandTowelHolder", "SoapBar", "SoapBottle", "SprayBottle", "DishSponge", "ButterKnife",
         "CreditCard", "CellPhone", "KeyChain", "RemoteControl", "BaseballBat", "TennisRacket", "WateringCan"]


def read_alfred(path: str | Path) -> list[dict]:
    """The ALFRED rows of a jsonl file; a malformed line is a DataError naming file and line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: cannot read ({getattr(error, 'strerror', None) or error})") from None
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"{path}:{number}: not valid JSON ({json_error(error)})") from None
        if not isinstance(row, dict) or not isinstance(row.get("high_pddl"), list):
            raise DataError(f"{path}:{number}: expected an ALFRED row with a 'high_pddl' list")
        for step in row["high_pddl"]:
            if not isinstance(step, dict) or not isinstance(step.get("action"), str) \
                    or not isinstance(step.get("args", []), list):
                raise DataError(f"{path}:{number}: high_pddl: expected steps like {{\"action\": ..., \"args\": [...]}}")
        rows.append(row)
    return rows


def alfred_steps(row: dict) -> list[tuple[str, str, str]]:
    """(HARP word, ALFRED kind, ALFRED's step as written) per step; `PutObject(x, r)` keeps r."""
    steps = []
    for step in row["high_pddl"]:
        action = step["action"].strip().lower()
        if action == "noop":
            continue
        args = [str(a).strip().lower() for a in step.get("args") or []]
        word = WORDS.get(action, step["action"].strip())
        written = f"{step['action'].strip()}({', '.join(a for a in args if a)})"
        steps.append((word, (args[-1] if word == "Place" else args[0]) if args else "", written))
    return steps


def convert(row: dict, domain) -> dict:
    """One ALFRED row as a HARP record (see the module docstring)."""
    steps = alfred_steps(row)
    _, _, names = infer_initial([(w.lower(), a) for w, a, _ in steps], domain.spec, rename=True)
    camel = {name.lower(): name for name in CAMEL}
    for value in (row.get("pddl_params") or {}).values():
        if isinstance(value, str) and value:
            camel.setdefault(value.lower(), value)
    plan = [f"{word}({_display(name, camel)})" for (word, _, _), name in zip(steps, names)]
    meta = {"source": "alfred", "task_type": row.get("task_type"), "scene": row.get("scene")}
    repaired = [{"step": i, "alfred": written, "harp": plan[i], "why": f"ALFRED {HELD_VERBS[word]} the held object"}
                for i, ((word, kind, written), name) in enumerate(zip(steps, names))
                if word in HELD_VERBS and name and kind_of(name) != kind]
    if repaired:
        meta["repaired"] = repaired
    descriptions = [d for d in row.get("task_descs") or [] if isinstance(d, str) and d.strip()]
    return {"id": str(row.get("trial") or ""), "image": "", "task": descriptions[0].strip() if descriptions else "",
            "plan": plan, "meta": meta}


def _display(name: str, camel: dict) -> str:
    words = name.split(" ")
    head = camel.get(words[0], words[0][:1].upper() + words[0][1:])
    return " ".join([head] + words[1:])


def import_alfred(input_path: str | Path, output_path: str | Path, domain_name: str = "alfred") -> int:
    """Convert a whole file; returns the number of records written."""

    domain = Domain.load(domain_name)
    records = [convert(row, domain) for row in read_alfred(input_path)]
    write_records(output_path, records)
    return len(records)
