"""Sending a rule's output to its log file."""

from __future__ import annotations

import contextlib
import logging
import sys
from pathlib import Path

__all__ = ["to_file"]


class _Brief(logging.Formatter):
    """One line per record: the level, the message, and an exception's message without its traceback."""

    def format(self, record: logging.LogRecord) -> str:
        message = f"{record.levelname} {record.getMessage()}"
        if record.exc_info and record.exc_info[1] is not None:
            message += f": {record.exc_info[1]}"
        return message


@contextlib.contextmanager
def to_file(path: str | None):
    """Route stdout, stderr (tqdm's progress bars) and ``logging`` to ``path`` for the block.

    With ``path`` None everything stays on the terminal. Warnings go to the terminal
    as well as to the file, so that what a user must know (rows dropped, a model at
    chance level, training started over) is not buried in a log. Exceptions are
    logged with their traceback before they propagate, so the log says why a job failed.
    """
    if path is None:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", force=True)
        yield
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", buffering=1) as stream:
        old = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = stream
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=stream, force=True
        )
        terminal = logging.StreamHandler(old[1])
        terminal.setLevel(logging.WARNING)
        terminal.setFormatter(_Brief())
        logging.getLogger().addHandler(terminal)
        try:
            yield
        except BaseException:
            logging.exception("job failed")
            raise
        finally:
            logging.getLogger().removeHandler(terminal)
            sys.stdout, sys.stderr = old
