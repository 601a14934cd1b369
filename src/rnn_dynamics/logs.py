"""Sending a rule's output to its log file."""

from __future__ import annotations

import contextlib
import logging
import sys
from pathlib import Path


@contextlib.contextmanager
def to_file(path: str | None):
    """Route stdout, stderr (tqdm's progress bars) and ``logging`` to ``path`` for the block.

    With ``path`` None everything stays on the terminal. Exceptions are logged with
    their traceback before they propagate, so the log says why a job failed.
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
        try:
            yield
        except BaseException:
            logging.exception("job failed")
            raise
        finally:
            sys.stdout, sys.stderr = old
