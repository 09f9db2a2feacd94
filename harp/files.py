"""Reading the small text files a user hands HARP (configs, experiment files, domains), hardened once.

`read_text` takes a regular file (not a FIFO, not a link to /dev/zero) of at most `max_bytes`, in
UTF-8; `load_yaml` parses it without aliases and at most MAX_YAML_DEPTH deep. Anything else is one
ConfigError line naming the file (and the line). Why: a few lines of nested YAML aliases (a "billion
laughs") expand to gigabytes as the values are read, deep nesting takes a second to end in a
RecursionError, and none of HARP's files needs either.
"""

from __future__ import annotations

import os
import stat

import yaml

from harp.errors import ConfigError

MAX_TEXT_BYTES = 1 << 20  # HARP's configs and domains are a few KiB; a bigger one is a mistake
MAX_YAML_DEPTH = 32  # the deepest of HARP's files nests 4 deep


def read_text(path, what: str = "file", max_bytes: int = MAX_TEXT_BYTES) -> str:
    """The text of a regular file of at most `max_bytes`, in UTF-8 (a leading BOM dropped)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # opening a FIFO would wait for a writer
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise ConfigError(f"{path}: not a regular file; give the path of a {what}")
            data = handle.read(max_bytes + 1)
    except (OSError, ValueError) as error:  # ValueError: a path with a NUL byte
        raise ConfigError(f"{path}: cannot read {what} ({getattr(error, 'strerror', None) or error})") from None
    if len(data) > max_bytes:
        raise ConfigError(f"{path}: over {max_bytes >> 20} MiB; a {what} is a few KiB")
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ConfigError(f"{path}: line {line}: not UTF-8 text (save the file as UTF-8)") from None


class _PlainYaml(yaml.SafeLoader):
    """safe_load without aliases, nested at most MAX_YAML_DEPTH."""

    depth = 0

    def compose_node(self, parent, index):
        problem = (
            "aliases (*name) are not allowed here"
            if self.check_event(yaml.AliasEvent)
            else f"nested deeper than {MAX_YAML_DEPTH}"
            if self.depth >= MAX_YAML_DEPTH
            else None
        )
        if problem:
            raise yaml.composer.ComposerError(None, None, problem, self.peek_event().start_mark)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def load_yaml(where: str, text: str):
    """`text` parsed as YAML; a problem is one ConfigError line starting with `where` (a file, or a file and key)."""
    try:
        return yaml.load(text, Loader=_PlainYaml)
    except RecursionError:
        raise ConfigError(f"{where}: nested too deeply") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f" line {mark.line + 1}:" if mark else ""
        raise ConfigError(f"{where}:{line} {getattr(error, 'problem', None) or 'invalid YAML'}") from None
    except ValueError as error:  # a date that does not exist (2024-02-30)
        raise ConfigError(f"{where}: {error}") from None
