"""A job's log (``logs.to_file``): what goes to the file, what to the terminal, and no handler left behind."""

import logging
import subprocess
import sys
import textwrap

import pytest

from rnn_dynamics.ground import logs

AFTER_THE_BLOCK = textwrap.dedent(
    """
    import logging, sys
    from rnn_dynamics.ground import logs

    with logs.to_file(sys.argv[1]):
        logging.getLogger("job").info("inside the block")
        logging.getLogger("job").warning("a warning the user must see")
    logging.getLogger("later").warning("logged after the log file is closed")
    """
)


def test_the_log_files_handler_ends_with_its_block(tmp_path):
    """A process that logs after the block: its record reaches stderr (Python's last resort), and no
    handler is left writing to the closed log file ("--- Logging error --- ... closed file")."""
    log = tmp_path / "job.log"
    result = subprocess.run([sys.executable, "-c", AFTER_THE_BLOCK, str(log)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "Logging error" not in result.stderr and "closed file" not in result.stderr, result.stderr
    assert "logged after the log file is closed" in result.stderr
    assert "WARNING a warning the user must see" in result.stderr and "inside the block" not in result.stderr
    text = log.read_text()
    assert "INFO inside the block" in text and "WARNING a warning the user must see" in text
    assert "after the log file" not in text


@pytest.mark.parametrize("path", [None, "job.log"])
def test_the_root_loggers_own_handlers_come_back_after_the_block(tmp_path, path):
    root = logging.getLogger()
    before, level = root.handlers[:], root.level
    with logs.to_file(path and tmp_path / path):
        assert root.handlers != before and root.level == logging.INFO
    assert root.handlers == before and root.level == level


def test_a_failing_job_logs_its_traceback_and_restores_the_handlers(tmp_path):
    root = logging.getLogger()
    before = root.handlers[:]
    with pytest.raises(ZeroDivisionError):
        with logs.to_file(tmp_path / "job.log"):
            print("printed to the log")
            1 / 0
    assert root.handlers == before and sys.stdout is not None
    text = (tmp_path / "job.log").read_text()
    assert "printed to the log" in text and "ERROR job failed" in text and "ZeroDivisionError" in text
