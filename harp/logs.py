"""HARP's one logger, with the one-line style: `harp: warning: ...` on stderr, notes as they are on stdout.

Every module logs with `logger = logging.getLogger(__name__)` (a child of `harp`); this module gives
the `harp` logger its handler once, when the package is imported. Under DeepSpeed, accelerate or
torchrun every process runs the same code: only the main process (harp.processes.main_process) prints, so a
warning is one line, not one per GPU.
"""

from __future__ import annotations

import logging
import sys

from harp.processes import main_process


class _OneLineHandler(logging.Handler):
    """Writes to the *current* sys.stdout / sys.stderr (so redirection and test capture see it)."""

    def emit(self, record: logging.LogRecord) -> None:
        if not main_process():
            return
        try:
            message = record.getMessage()
            if record.levelno >= logging.WARNING:
                print(f"harp: {record.levelname.lower()}: {message}", file=sys.stderr, flush=True)
            else:
                print(message, file=sys.stdout, flush=True)
        except Exception:  # noqa: BLE001 (logging's own convention: never raise from a handler)
            self.handleError(record)


def install() -> logging.Logger:
    """Give the `harp` logger its handler (once) and level INFO; HARP's messages do not reach the root logger."""
    logger = logging.getLogger("harp")
    if not any(isinstance(handler, _OneLineHandler) for handler in logger.handlers):
        logger.addHandler(_OneLineHandler())
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger
