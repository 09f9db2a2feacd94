"""The checks a domain YAML's keys and words share (the guide's domains, PDDL mappings): one
ConfigError line naming the file and the key, with the closest known key where there is one."""

from __future__ import annotations

import difflib
import re

from harp.errors import ConfigError
from harp.plan.parser import _IDENT as WORD_PATTERN  # what the plan parser reads as an action's name


def shown(key) -> str:
    """A key or name from a user's file as an error message shows it: on one line."""
    text = str(key)
    return text if text.isprintable() else repr(text)


def check_word(word, where: str, key: str) -> None:
    """A plan word is one identifier the plan parser reads (Word(Argument))."""
    if isinstance(word, bool):
        raise ConfigError(
            f"{where}: {key}: YAML reads on/off/yes/no/true/false as true or false: quote the word ('On')"
        )
    if not isinstance(word, str) or not re.fullmatch(WORD_PATTERN, word):
        raise ConfigError(f"{where}: {key}: a plan word is one word of ASCII letters, digits and _")


def optional_text(data: dict, key: str, where: str, prefix: str = "") -> str:
    """A one-line text value, "" when absent; `prefix` names where `key` sits (`actions.Pick.`)."""
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ConfigError(f"{where}: {prefix}{key}: expected text, got {type(value).__name__}")
    return " ".join(value.split())


def known_keys(path: str, prefix: str, data: dict, keys: tuple[str, ...]) -> None:
    """A key not in `keys` is one ConfigError line, with the closest known key."""
    for key in data:
        if key not in keys:
            close = difflib.get_close_matches(str(key), keys, n=1)
            hint = f" (did you mean '{prefix}{close[0]}'?)" if close else f" (known: {', '.join(keys)})"
            raise ConfigError(f"{path}: {prefix}{shown(key)}: unknown key{hint}")


def listed_names(path: str, key: str, value, table: dict, what: str) -> tuple[str, ...]:
    """A list of names from `table` (a domain's predicates or effects), each checked."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{path}: {key}: expected a list of {what} names")
    for item in value:
        if item not in table:
            close = difflib.get_close_matches(item, list(table), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else f" (known: {', '.join(table)})"
            raise ConfigError(f"{path}: {key}: unknown {what} '{shown(item)}'{hint}")
    return tuple(value)
