"""The train/val/test split: byte for byte what the guide's inline script writes.

The guide shuffles `actions.jsonl` with `random.seed(42); random.shuffle(data)`, cuts at
`int(0.8 * n)` and `int(0.9 * n)` and writes each record as `json.dumps(item) + '\\n'` (default
separators, ASCII escapes). We do the same with a private `random.Random(42)` (same generator,
same sequence, without touching the global one), and differ only where the script would crash
or leak: blank lines are skipped, a line that is not JSON is a one-line error naming file:line,
and the records of one image (a scene said several ways, `harp data build --phrasings`) are
shuffled and cut as one, so no picture is both trained and tested on. Where every image has one
record, as the guide's builds write, the split is the script's, byte for byte.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from harp.data.records import iter_records
from harp.errors import DataError

SPLITS = ("train", "val", "test")


def split_records(
    input_path: str | Path = "actions.jsonl", output_dir: str | Path = "data", seed: int = 42
) -> dict[str, int]:
    """Write `{output_dir}/sft_{train,val,test}.jsonl`; return the count per split."""
    input_path = Path(input_path)
    if not input_path.is_file():
        raise DataError(f"{input_path}: file not found (build it first: harp data build)")
    # The shared reader: one-line errors for bad bytes, JSON, nesting and oversized text (harp.data.records).
    data = [record for _, record in iter_records(input_path, required=())]

    groups = by_image(data)
    random.Random(seed).shuffle(groups)
    n = len(groups)
    train_end, val_end = int(0.8 * n), int(0.9 * n)
    cuts = {"train": groups[:train_end], "val": groups[train_end:val_end], "test": groups[val_end:]}
    parts = {name: [record for group in cut for record in group] for name, cut in cuts.items()}

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    for name in SPLITS:
        with (output_dir / f"sft_{name}.jsonl").open("w") as handle:
            for item in parts[name]:
                handle.write(json.dumps(item) + "\n")
    return {name: len(parts[name]) for name in SPLITS}


def by_image(records: list[dict]) -> list[list[dict]]:
    """The records in groups that share a non-empty `image`, in order of first appearance (a record
    without an image, e.g. an imported ALFRED plan, is a group of its own)."""
    groups: dict = {}
    for number, record in enumerate(records):
        image = record.get("image")
        key = image if isinstance(image, str) and image else number
        groups.setdefault(key, []).append(record)
    return list(groups.values())
