"""The train/val/test split: byte for byte what the guide's inline script writes.

The guide shuffles `actions.jsonl` with `random.seed(42); random.shuffle(data)`, cuts at
`int(0.8 * n)` and `int(0.9 * n)` and writes each record as `json.dumps(item) + '\\n'` (default
separators, ASCII escapes). We do the same with a private `random.Random(42)` (same generator,
same sequence, without touching the global one), and differ only where the script would crash:
blank lines are skipped and a line that is not JSON is a one-line error naming file:line.
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

    random.Random(seed).shuffle(data)
    n = len(data)
    train_end, val_end = int(0.8 * n), int(0.9 * n)
    parts = {"train": data[:train_end], "val": data[train_end:val_end], "test": data[val_end:]}

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    for name in SPLITS:
        with (output_dir / f"sft_{name}.jsonl").open("w") as handle:
            for item in parts[name]:
                handle.write(json.dumps(item) + "\n")
    return {name: len(parts[name]) for name in SPLITS}
