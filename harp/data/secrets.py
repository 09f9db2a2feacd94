"""The teacher's API key: where it is read from, and how it is kept out of every output.

`load_api_key` reads `OPENROUTER_API_KEY` from the environment, else from a `.env` file parsed by
python-dotenv (a shell's rules: `export` with any blank after it, quotes, inline `# comments`,
the last of duplicate lines wins; a UTF-8 byte-order mark is dropped). A key that could not be
sent in an HTTP header (a line break, a blank, a non-ASCII character) is refused in one line that
does not show it.

`Redactor` scrubs a key from text the server sent back, in any form we could think of a server
echoing it: as is, in another case, URL-encoded, JSON-escaped, or any 8-character piece of it
(a truncated or partial echo). It is applied to every answer before anything else reads it, so
nothing derived from an answer (tasks, plans, reasoning, rejection details) can carry the key.
"""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path
from urllib.parse import quote, quote_plus

from harp.errors import HarpError

KEY_VARIABLE = "OPENROUTER_API_KEY"
PIECE = 8  # an echoed piece of the key this long or longer is scrubbed
MASK = "***"
_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")  # printable ASCII without blanks: what a Bearer token may hold


def load_api_key(env_file: str | Path = ".env") -> str | None:
    """The key from the environment, else from `env_file`; None when neither has one."""
    key = os.environ.get(KEY_VARIABLE, "").strip()
    where = f"the environment variable {KEY_VARIABLE}"
    if not key:
        key, where = _key_from_file(Path(env_file)), f"{env_file}: {KEY_VARIABLE}"
    if not key:
        return None
    if not _HEADER_SAFE.fullmatch(key):
        raise HarpError(
            f"{where}: the key holds a line break, a blank or a non-ASCII character; "
            "copy it again from your provider's page (it is not shown here)"
        )
    return key


def _key_from_file(path: Path) -> str | None:
    from dotenv import dotenv_values

    try:
        text = path.read_text(encoding="utf-8-sig")  # utf-8-sig: a byte-order mark is not part of the first name
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise HarpError(f"{path}: is a folder, not a .env file") from None
    except PermissionError:
        raise HarpError(
            f"{path}: cannot be read (permission denied); fix its permissions or export {KEY_VARIABLE}=... instead"
        ) from None
    except UnicodeDecodeError as error:
        raise HarpError(f"{path}: not UTF-8 text (byte {error.start + 1}); save it as UTF-8") from None
    value = dotenv_values(stream=io.StringIO(text)).get(KEY_VARIABLE)
    return value.strip() if value else None


class Redactor:
    """Callable: `redact(text)` with every form of `secret` replaced by `***`."""

    def __init__(self, secret: str | None):
        self.pieces: list[str] = []
        if not secret:
            return
        forms = {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}
        pieces = set()
        for form in forms:
            size = min(PIECE, len(form))
            pieces.update(form[i : i + size].lower() for i in range(len(form) - size + 1))
        self.pieces = sorted(pieces)
        # Lookahead: overlapping matches, so a run of pieces is scrubbed end to end.
        self._pattern = re.compile("(?=(" + "|".join(map(re.escape, self.pieces)) + "))", re.IGNORECASE)

    def __call__(self, text: str) -> str:
        if not self.pieces or not text:
            return text
        hidden = bytearray(len(text))  # 1 where a character belongs to an echo of the key
        lowered = text.lower()
        if len(lowered) == len(text):  # fast path: str.find per piece (no case change altered lengths)
            for piece in self.pieces:
                start = lowered.find(piece)
                while start >= 0:
                    hidden[start : start + len(piece)] = b"\x01" * len(piece)
                    start = lowered.find(piece, start + 1)
        else:
            for match in self._pattern.finditer(text):
                hidden[match.start() : match.start() + len(match.group(1))] = b"\x01" * len(match.group(1))
        if not any(hidden):
            return text
        out, i = [], 0
        while i < len(text):
            if hidden[i]:
                while i < len(text) and hidden[i]:
                    i += 1
                out.append(MASK)
            else:
                j = hidden.find(b"\x01", i)
                j = len(text) if j < 0 else j
                out.append(text[i:j])
                i = j
        return "".join(out)
