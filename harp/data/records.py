"""Reading and writing records (jsonl): one place for line-numbered errors, image paths and crash-safe appends.

A record is the guide's `{"image", "task", "plan"}` plus optional `scene`, `id`, `meta`
(docs/internals.md). Every stage reads records through `read_records`, so a malformed line is
reported the same way everywhere (`data/sft_train.jsonl:17: missing key 'task'`) and every stage
finds a record's image by the same rule (`resolve_image_path`): as written when that file exists
(or the path is absolute), else relative to the records file's folder. A records file whose paths
are relative to itself therefore trains, evaluates, validates and mines alike.
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


class Record(dict):
    """One record: the line's own keys as a dict (what is written back, hashed and scored), and as
    attributes, never written, where it came from and what was resolved from it once.

    `source`, `line`: the file and line number, for errors (`where(record)`).
    `image_path`: the image as found (`resolve_image_path`), or None when the record has no image.
    `resolved_scene`: the `harp.plan.Scene` once `resolve_scene` ran (H-PRM then uses it as is).
    A plain dict (a record built in code) becomes one with `as_record`.
    """

    def __init__(self, data: dict, source: str = "?", line: int | str = "?", base_dir: str | Path | None = None):
        super().__init__(data)
        self.source = str(source)
        self.line = line
        image = data.get("image")
        self.image_path = resolve_image_path(image, base_dir) if isinstance(image, str) else None
        self.resolved_scene = None


def resolve_image_path(image: str, base_dir: str | Path | None) -> Path:
    """A record's image as it exists: as written, else relative to its records file's folder (`base_dir`).

    When neither exists, the path as written (so the error names what the file says)."""
    path = Path(image)
    if path.is_absolute() or path.exists() or base_dir is None:
        return path
    beside = Path(base_dir) / path
    return beside if beside.exists() else path


def read_records(path: str | Path, required: Iterable[str] = REQUIRED_KEYS) -> list[Record]:
    """All records of a jsonl file as `Record`s: origin kept, image paths resolved once."""
    base_dir = Path(path).absolute().parent
    return [Record(data, str(path), number, base_dir) for number, data in iter_records(path, required)]


def as_record(data: dict) -> Record:
    """A `Record` as it is, or a plain dict (built in code) made one, its image relative to the working directory."""
    return data if isinstance(data, Record) else Record(data)


def where(record: dict) -> str:
    """`file:line` of a record read by read_records, for error messages (`?:?` for a record built in code)."""
    return f"{getattr(record, 'source', '?')}:{getattr(record, 'line', '?')}"


def resolve_scene(record: Record, domain):
    """The record's scene (its `scene` JSON, else inferred from its plan), resolved once and kept on it."""
    from harp.plan.scene import scene_for

    if record.resolved_scene is None:
        record.resolved_scene = scene_for(record, domain, where=f"{where(record)}: scene")
    return record.resolved_scene


def append_record(handle, record: dict) -> None:
    """Append one record and make it durable, so a kill at any moment loses at most this line."""
    handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    handle.flush()
    os.fsync(handle.fileno())


def write_records(path: str | Path, records: Iterable[dict]) -> None:
    """Write a whole file atomically (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def load_image(record: Record):
    """Open a record's image as RGB (at `record.image_path`); a missing or corrupt file is a DataError naming the line."""
    from harp.data.images import open_image

    record = as_record(record)
    return open_image(record.image_path if record.image_path is not None else record["image"], where(record))
