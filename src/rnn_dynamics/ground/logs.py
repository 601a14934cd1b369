"""Sending a rule's output to its log file."""

from __future__ import annotations

import contextlib
import logging
import sys
from pathlib import Path

__all__ = ["to_file"]

_FORMAT = "%(asctime)s %(levelname)s %(message)s"


class _Brief(logging.Formatter):
    """One line per record: the level, the message, and an exception's message without its traceback."""

    def format(self, record: logging.LogRecord) -> str:
        message = f"{record.levelname} {record.getMessage()}"
        if record.exc_info and record.exc_info[1] is not None:
            message += f": {record.exc_info[1]}"
        return message


@contextlib.contextmanager
def _root_handlers(*handlers: logging.Handler):
    """The root logger with only ``handlers``, at level INFO, for the block; its own handlers and level after.

    A handler never outlives the block, so none is left writing to a stream that its owner has closed
    (a log file, or a stream pytest captured for one test).
    """
    root = logging.getLogger()
    saved, saved_level = root.handlers[:], root.level
    root.handlers = list(handlers)
    root.setLevel(logging.INFO)
    try:
        yield
    finally:
        root.handlers = saved
        root.setLevel(saved_level)
        for handler in handlers:
            handler.close()


def _handler(stream, level: int, formatter: logging.Formatter) -> logging.Handler:
    handler = logging.StreamHandler(stream)
    handler.setLevel(level)
    handler.setFormatter(formatter)
    return handler


@contextlib.contextmanager
def to_file(path: str | None):
    """Route stdout, stderr (tqdm's progress bars) and ``logging`` to ``path`` for the block.

    With ``path`` None everything stays on the terminal. Warnings go to the terminal
    as well as to the file, so that what a user must know (rows dropped, a model at
    chance level, training started over) is not buried in a log. Exceptions are
    logged with their traceback before they propagate, so the log says why a job failed.
    The logging handlers last as long as the block: the root logger's own come back after it.
    """
    if path is None:
        with _root_handlers(_handler(sys.stderr, logging.INFO, logging.Formatter(_FORMAT))):
            yield
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", buffering=1) as stream:
        old = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = stream
        try:
            with _root_handlers(
                _handler(stream, logging.INFO, logging.Formatter(_FORMAT)), _handler(old[1], logging.WARNING, _Brief())
            ):
                try:
                    yield
                except BaseException:
                    logging.exception("job failed")
                    raise
        finally:
            sys.stdout, sys.stderr = old
