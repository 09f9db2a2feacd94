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
import logging
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from harp.data.images import open_image
from harp.errors import DataError
from harp.plan.simulator import scene_for

logger = logging.getLogger(__name__)

REQUIRED_KEYS = ("image", "task", "plan")
# Caps on what a record may hold, far above any real task or plan (a sentence; a handful of steps).
MAX_TASK_CHARS = 2_000
MAX_PLAN_CHARS = 8_000
MAX_PLAN_STEPS = 200
# Qwen2.5-VL's special tokens, in the real model's order (harp.models.tiny builds its tokenizer from
# them). The processor reads them in plain text too: a task holding `<|image_pad|>` counts as one
# more image (a crash), `<|im_end|>` ends the turn. No real task or plan holds one, so they are refused.
PROCESSOR_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
_PROCESSOR_TOKEN = re.compile("|".join(map(re.escape, PROCESSOR_TOKENS)))


def json_error(error: json.JSONDecodeError) -> str:
    """`Unterminated string starting at column 11`: json's message, the column, no dangling "at"."""
    return f"{error.msg.removesuffix(' at')} at column {error.pos + 1}"  # one line is parsed at a time


def iter_records(path: str | Path, required: Iterable[str] = REQUIRED_KEYS) -> Iterator[tuple[int, dict]]:
    """Yield (line_number, record) for each non-blank line; raise DataError naming file:line.

    Besides the required keys, every line is checked for what broke later stages: bytes that are
    not UTF-8, JSON nested too deeply to read, text that cannot be printed or written (a lone
    surrogate such as \\ud800), `image`/`id` that are not strings, a task or plan longer than
    any real one (MAX_TASK_CHARS, MAX_PLAN_CHARS, MAX_PLAN_STEPS), which would make tokenising and
    planning it take minutes and gigabytes, and one holding a special token of the model's
    processor (PROCESSOR_TOKENS)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        handle = path.open("rb")
    except OSError as error:
        raise DataError(f"{path}: cannot be read ({error.strerror or error})") from None
    with handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise DataError(f"{path}:{number}: not UTF-8 text (byte {error.start + 1} of the line)") from None
            if not line.strip():
                continue
            if number == 1:
                line = line.removeprefix("\ufeff")  # a byte-order mark is not part of the JSON
            try:
                record = json.loads(line.rstrip("\r\n"))  # a cut line: "Unterminated string", not "control character"
            except json.JSONDecodeError as error:
                raise DataError(f"{path}:{number}: not valid JSON ({json_error(error)})") from None
            except RecursionError:
                raise DataError(f"{path}:{number}: JSON nested too deeply") from None
            problem = record_problem(record, required, line)
            if problem:
                raise DataError(f"{path}:{number}: {problem}")
            yield number, record


def record_problem(record, required: Iterable[str] = REQUIRED_KEYS, line: str | None = None) -> str | None:
    """What is wrong with one parsed record line, in a few words; None when it is usable."""
    if not isinstance(record, dict):
        return f"expected a JSON object, got {type(record).__name__}"
    for key in required:
        if key not in record:
            return f"missing key '{key}'"
    if "plan" in record and not (
        isinstance(record["plan"], str)
        or (isinstance(record["plan"], list) and all(isinstance(step, str) for step in record["plan"]))
    ):
        return "'plan' must be a list of step strings"
    for key in ("task", "image", "id"):
        if key in record and not isinstance(record[key], str) and (key in required or record[key] is not None):
            return f"'{key}' must be a string, got {type(record[key]).__name__}"
    problem = text_problem(record.get("task"), record.get("plan"))
    if problem:
        return problem
    if line is None or _SURROGATE_ESCAPE.search(line):  # only a \\udXXX escape can make one
        bad = _unencodable(record)
        if bad is not None:
            return f"text that is not valid Unicode (a lone surrogate) in {bad!r}"
    return None


def text_too_long(task, plan) -> str | None:
    """Why a task or plan is over the caps (None when it is not): real ones are a sentence and a few steps."""
    if isinstance(task, str) and len(task) > MAX_TASK_CHARS:
        return f"'task' is {len(task):,} characters (limit {MAX_TASK_CHARS:,})"
    if isinstance(plan, list):
        if len(plan) > MAX_PLAN_STEPS:
            return f"'plan' has {len(plan):,} steps (limit {MAX_PLAN_STEPS})"
        plan = ", ".join(step for step in plan if isinstance(step, str))
    if isinstance(plan, str) and len(plan) > MAX_PLAN_CHARS:
        return f"'plan' is {len(plan):,} characters (limit {MAX_PLAN_CHARS:,})"
    return None


def text_problem(task, plan) -> str | None:
    """Why a task or plan cannot go to the model (None when it can): over the caps (`text_too_long`),
    not valid Unicode (a lone surrogate, which the tokenizer cannot encode), or holding one of
    PROCESSOR_TOKENS. Every message starts with the key: `'task' holds <|image_pad|>, ...`."""
    too_long = text_too_long(task, plan)
    if too_long:
        return too_long
    for key, value in (("task", task), ("plan", plan)):
        text = ", ".join(step for step in value if isinstance(step, str)) if isinstance(value, list) else value
        if not isinstance(text, str):
            continue
        if _unencodable(text) is not None:
            return f"'{key}' is not valid Unicode (a lone surrogate)"
        token = _PROCESSOR_TOKEN.search(text)
        if token:
            return f"'{key}' holds {token.group()}, a special token of the model's processor"
    return None


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _unencodable(value, key: str = "record") -> str | None:
    """The key holding a string that cannot be written as UTF-8 (a lone surrogate), or None."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return key
    elif isinstance(value, dict):
        for name, item in value.items():
            bad = _unencodable(name, key) or _unencodable(item, str(name))
            if bad:
                return bad
    elif isinstance(value, list):
        for item in value:
            bad = _unencodable(item, key)
            if bad:
                return bad
    return None


class Record(dict):
    """One record: the line's own keys as a dict (what is written back, hashed and scored), and as
    attributes, never written, where it came from and what was resolved from it once.

    `source`, `line`: the file and line number, for errors (`where(record)`).
    `image_path`: the image as found (`resolve_image_path`), or None when the record has no image.
    `resolved_scene`: the record's scene (a `harp.plan.Scene`) once `resolve_scene` ran (H-PRM then uses it as is).
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


def duplicate_lines(records: list[Record]) -> list[tuple[int | str, int | str]]:
    """(line, earlier line) for each record that repeats an earlier one key for key."""
    seen, repeats = {}, []
    for record in records:
        key = json.dumps(record, sort_keys=True, ensure_ascii=False)
        if key in seen:
            repeats.append((getattr(record, "line", "?"), seen[key]))
        else:
            seen[key] = getattr(record, "line", "?")
    return repeats


def warn_duplicates(records: list[Record], path: str | Path) -> None:
    """One warning line when a records file repeats a record (each copy is still scored)."""
    repeats = duplicate_lines(records)
    if repeats:
        shown = ", ".join(f"line {line} repeats line {first}" for line, first in repeats[:5])
        more = f" and {len(repeats) - 5} more" if len(repeats) > 5 else ""
        logger.warning(f"{path}: {len(repeats)} duplicate record(s), each scored again ({shown}{more})")


def where(record: dict) -> str:
    """`file:line` of a record read by read_records, for error messages (`?:?` for a record built in code)."""
    return f"{getattr(record, 'source', '?')}:{getattr(record, 'line', '?')}"


def resolve_scene(record: Record, domain):
    """The record's scene (its `scene` JSON, else inferred from its plan), resolved once and kept on it."""
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
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        os.replace(tmp, path)
    except BaseException:  # a failed write (or Ctrl-C) leaves the old file as it was, and no debris beside it
        tmp.unlink(missing_ok=True)
        raise


def load_image(record: Record):
    """Open a record's image as RGB (at `record.image_path`); a missing or corrupt file is a DataError naming the line."""
    record = as_record(record)
    return open_image(record.image_path if record.image_path is not None else record["image"], where(record))
