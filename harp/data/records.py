"""Reading and writing records (jsonl): one place for line-numbered errors and crash-safe appends.

A record is the guide's `{"image", "task", "plan"}` plus optional `scene`, `id`, `meta`
(docs/internals.md). Every stage reads records through `read_records`, so a malformed line is
reported the same way everywhere: `data/sft_train.jsonl:17: missing key 'task'`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable, Iterator

from harp.errors import DataError

REQUIRED_KEYS = ("image", "task", "plan")


def json_error(error: json.JSONDecodeError) -> str:
    """`Unterminated string starting at column 11`: json's message, the column, no dangling "at"."""
    return f"{error.msg.removesuffix(' at')} at column {error.pos + 1}"  # one line is parsed at a time


def iter_records(path: str | Path, required: Iterable[str] = REQUIRED_KEYS) -> Iterator[tuple[int, dict]]:
    """Yield (line_number, record) for each non-blank line; raise DataError naming file:line."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line.rstrip("\r\n"))  # a cut line: "Unterminated string", not "control character"
            except json.JSONDecodeError as error:
                raise DataError(f"{path}:{number}: not valid JSON ({json_error(error)})") from None
            if not isinstance(record, dict):
                raise DataError(f"{path}:{number}: expected a JSON object, got {type(record).__name__}")
            for key in required:
                if key not in record:
                    raise DataError(f"{path}:{number}: missing key '{key}'")
            if "plan" in required and not (
                isinstance(record["plan"], str)
                or (isinstance(record["plan"], list) and all(isinstance(s, str) for s in record["plan"]))
            ):
                raise DataError(f"{path}:{number}: 'plan' must be a list of step strings")
            if "task" in required and not isinstance(record["task"], str):
                raise DataError(f"{path}:{number}: 'task' must be a string")
            yield number, record


def read_records(path: str | Path, required: Iterable[str] = REQUIRED_KEYS) -> list[dict]:
    """All records of a jsonl file, each tagged with `_line` (its line number) for later errors."""
    records = []
    for number, record in iter_records(path, required):
        record["_line"] = number
        record.setdefault("_source", str(path))
        records.append(record)
    return records


def where(record: dict) -> str:
    """`file:line` of a record read by read_records, for error messages."""
    return f"{record.get('_source', '?')}:{record.get('_line', '?')}"


def clean(record: dict) -> dict:
    """The record without the bookkeeping keys read_records adds."""
    return {k: v for k, v in record.items() if not k.startswith("_")}


def append_record(handle, record: dict) -> None:
    """Append one record and make it durable, so a kill at any moment loses at most this line."""
    handle.write(json.dumps(clean(record), ensure_ascii=False) + "\n")
    handle.flush()
    os.fsync(handle.fileno())


def write_records(path: str | Path, records: Iterable[dict]) -> None:
    """Write a whole file atomically (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(clean(record), ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def load_image(record: dict, base_dir: str | Path | None = None):
    """Open a record's image as RGB; a missing or corrupt file is a DataError naming the line."""
    from PIL import Image  # lazy: keeps the pure-Python paths free of imaging imports

    image_path = Path(record["image"])
    if base_dir is not None and not image_path.is_absolute() and not image_path.exists():
        image_path = Path(base_dir) / image_path
    try:
        with Image.open(image_path) as image:
            return image.convert("RGB")
    except FileNotFoundError:
        raise DataError(f"{where(record)}: image not found: {record['image']}") from None
    except (OSError, Image.DecompressionBombError, ValueError) as error:
        raise DataError(f"{where(record)}: cannot read image {record['image']}: {error}") from None
