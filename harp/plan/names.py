"""Entity names: the one place where `The White  Table`, `white_table` and `white table` become equal.

Every comparison of an entity name (scene JSON, plan arguments, teacher answers) goes through
`normalize_entity`, so there is exactly one notion of "the same object". Canonical form: lower
case, single spaces, underscores read as spaces, no leading article, no surrounding quotes or
punctuation.
"""

from __future__ import annotations

import re
from functools import lru_cache

_ARTICLES = ("the ", "a ", "an ")
_SPACES = re.compile(r"[\s_]+")
# Quotes and trailing punctuation a model or a teacher may wrap a name in: "'Apple'", "Basket."
_EDGE = "\"'`.,;:!?*"


@lru_cache(maxsize=8192)
def normalize_entity(name: str) -> str:
    """Canonical form of an entity name: `"The White  Table"` -> `"white table"`."""
    text = _SPACES.sub(" ", str(name)).strip().strip(_EDGE).strip().lower()
    # Drop articles repeatedly ("the the apple" is still the apple) but never the whole name ("A").
    changed = True
    while changed:
        changed = False
        for article in _ARTICLES:
            if text.startswith(article) and len(text) > len(article):
                text = text[len(article) :].lstrip()
                changed = True
    return text


def display_name(canonical: str) -> str:
    """How a canonical name is written in a plan: `"white table"` -> `"White Table"`."""
    return " ".join(word[:1].upper() + word[1:] for word in normalize_entity(canonical).split(" "))


def task_names_sources(task: str, scene) -> bool:
    """Whether the task sentence names where every object it moves starts (a record's `meta.source_named`).

    `scene`: a harp.plan.Scene. False when no moved object has a known start: nothing is named."""
    text = f" {normalize_entity(task)} "
    starts = [scene.objects[obj] for obj in scene.goal if obj in scene.objects]
    return bool(starts) and all(f" {start} " in text for start in starts)
