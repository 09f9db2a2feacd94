"""Labelling and re-checking negatives with H-PRM: a negative's `error_type` is the level H-PRM
finds failing first, never what the perturbation meant to break."""

from __future__ import annotations

from pathlib import Path

from harp.data.records import read_records, where
from harp.negatives.store import example_of, negative_text


def label(hprm, text: str, record: dict) -> str | None:
    """H-PRM's error type for `text` as a plan for `record` (None: a correct, optimal plan)."""
    return hprm.score(text, record).error_type


def verify_file(path: str | Path, hprm) -> list[str]:
    """Every line whose plan does not carry its `error_type` under H-PRM, as `file:line: why` strings."""
    problems = []
    for line in read_records(path):
        found = label(hprm, negative_text(line), example_of(line))
        if found is None or found != line.get("error_type"):
            problems.append(f"{where(line)}: labelled {line.get('error_type')!r} but H-PRM finds {found!r}")
    return problems
