"""The negatives file: one JSON line per negative, the guide's keys plus what GRPO needs to score it.

```json
{"image": "./bdv2/scene_001_0.png", "task": "Put the apple ...", "plan": ["Navigate(Table)", "Place(Basket)", "Pick(Apple)"],
 "error_type": "state_transition", "source": "model", "id": "scene_001", "scene": {...},
 "reference": ["Navigate(Table)", "Pick(Apple)", "Navigate(Basket)", "Place(Basket)"], "reward": -0.31}
```

`plan` is the completion split at its commas, so `", ".join(plan)` gives back the exact text that
was labelled (a missing comma stays inside one element). `id` (or image + task when a record has
none) ties a negative to its training prompt. `scene` (inferred from the reference for teacher
records, which have none) and `reference` are kept so H-PRM scores the line exactly as it scores
the prompt's own candidates: `example_of(line)`.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from harp.data.records import read_records

SOURCES = ("model", "perturbation")


def record_key(record: dict) -> str:
    """What ties a negative to its prompt: the record's id, else its image and task."""
    if record.get("id"):
        return str(record["id"])
    return f"{record['image']}|{record['task']}"


def split_plan(text: str) -> list[str]:
    """A completion as the guide's list of steps: split at commas, so joining with ", " restores it."""
    return [part.strip() for part in text.strip().split(",")]


def negative_text(line: dict) -> str:
    """The completion text a negative line stands for (its `plan` joined with ", ")."""
    plan = line["plan"]
    return plan if isinstance(plan, str) else ", ".join(plan)


def example_of(line: dict) -> dict:
    """The prompt record a negative line belongs to, as H-PRM's `example` (reference plan, scene)."""
    example = dict(line)
    if "reference" in line:
        example["plan"] = line["reference"]
    return example


def negatives_by_record(path: str | Path) -> dict[str, list[str]]:
    """Completion texts of a negatives file, grouped by `record_key`, in file order, without repeats."""
    grouped: dict[str, list[str]] = defaultdict(list)
    for line in read_records(path):
        text = negative_text(line)
        key = record_key(line)
        if text not in grouped[key]:
            grouped[key].append(text)
    return dict(grouped)
