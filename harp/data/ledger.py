"""The output files of a teacher build, kept consistent across crashes.

Files (in the output directory, the guide's names):
- `tasks.jsonl`     the proposed task per image (written right after the first call, so a resumed
                    run does not ask again),
- `actions.jsonl`   accepted records (image, task, plan, id, meta),
- `rejected.jsonl`  images given up on, with `reason` and `detail`,
- `processed/processed_images.txt`  one image path per line, once it is finished.

Every line is appended and fsync'ed on its own (`append_record`), the record before its
processed line. A run killed at any moment leaves at most one partial last line per file; on the
next start `Ledger` cuts such a tail, treats an image as finished when any of actions, rejected or
processed lists it (and adds the missing processed line), so nothing is duplicated or lost.
Rejections marked `retryable` (the server was unreachable, not the image bad) are dropped at start
so the image is tried again; hence each image appears at most once across actions and rejected.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from harp.data.records import append_record, iter_records, write_records
from harp.paths import check_output_dir, check_output_file

TASKS = "tasks.jsonl"
ACTIONS = "actions.jsonl"
REJECTED = "rejected.jsonl"
PROCESSED = "processed/processed_images.txt"


def check_outputs(output_dir: str | Path, key: str = "--output-dir") -> Path:
    """The output folder and its files can be written: checked before any image is labelled or
    rendered, so a bad `--output-dir` costs a second and leaves nothing half-written."""
    folder = check_output_dir(output_dir, key)
    for name in (TASKS, ACTIONS, REJECTED, PROCESSED):
        check_output_file(folder / name, key)
    return folder


def drop_partial_tail(path: Path) -> bool:
    """Cut an unterminated last line (a write interrupted by a kill); True if something was cut."""
    if not path.is_file():
        return False
    with path.open("r+b") as handle:
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return False
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return False
        block = min(size, 1 << 20)
        while True:
            handle.seek(size - block)
            cut = handle.read(block).rfind(b"\n")
            if cut >= 0 or block == size:
                break
            block = min(size, block * 4)
        handle.truncate(size - block + cut + 1 if cut >= 0 else 0)
        handle.flush()
        os.fsync(handle.fileno())
    return True


class Ledger:
    """Open output files plus what earlier runs finished. Methods are thread-safe."""

    def __init__(self, output_dir: str | Path):
        self.dir = Path(output_dir)
        self.paths = {name: self.dir / name for name in (TASKS, ACTIONS, REJECTED, PROCESSED)}
        self.paths[PROCESSED].parent.mkdir(parents=True, exist_ok=True)
        for path in self.paths.values():
            drop_partial_tail(path)

        self.tasks = {r["image"]: r["task"] for r in self._read(TASKS, ("image", "task"))}
        accepted = {r["image"] for r in self._read(ACTIONS, ("image",))}
        rejected = self._read(REJECTED, ("image",))
        final = [r for r in rejected if not r.get("retryable")]
        if len(final) < len(rejected):
            write_records(self.paths[REJECTED], final)
        processed = set()
        if self.paths[PROCESSED].is_file():
            processed = {line.strip() for line in self.paths[PROCESSED].read_text(encoding="utf-8").splitlines()}
            processed.discard("")
        self.done = processed | accepted | {r["image"] for r in final}
        self.resumed_tasks = len(set(self.tasks) - self.done)  # proposals kept from an earlier run

        self._lock = threading.Lock()
        self._closed = False  # after close(), writes from abandoned worker threads are dropped
        self._files = {name: path.open("a", encoding="utf-8") for name, path in self.paths.items()}
        for image in sorted(self.done - processed):  # finished, but killed before the processed line
            self._mark_processed(image)

    def _read(self, name: str, required) -> list[dict]:
        path = self.paths[name]
        return [record for _, record in iter_records(path, required)] if path.is_file() else []

    def add_task(self, record: dict) -> None:
        """Keep the proposed task of an image (once)."""
        with self._lock:
            if not self._closed and record["image"] not in self.tasks:
                append_record(self._files[TASKS], record)
                self.tasks[record["image"]] = record["task"]

    def accept(self, record: dict) -> None:
        with self._lock:
            if self._closed:
                return
            append_record(self._files[ACTIONS], record)
            self._mark_processed(record["image"])

    def reject(self, record: dict) -> None:
        """Record a rejection; a retryable one is not marked processed, so the next run retries."""
        with self._lock:
            if self._closed:
                return
            append_record(self._files[REJECTED], record)
            if not record.get("retryable"):
                self._mark_processed(record["image"])

    def _mark_processed(self, image: str) -> None:
        handle = self._files[PROCESSED]
        handle.write(image + "\n")
        handle.flush()
        os.fsync(handle.fileno())
        self.done.add(image)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for handle in self._files.values():
                handle.close()
