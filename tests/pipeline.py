"""Running the real Snakemake workflow in a temporary copy, for the pipeline tests."""

from __future__ import annotations

import atexit
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW_FILES = ("Snakefile", "config.yaml", "configs", "workflow", "scripts", "envs", "profiles", "tests/configs")
# The end-to-end tests' configuration: every stage on two tiny models (tests/configs/pipeline.yaml). The tests
# of the quick-look configuration itself pass ``--configfile configs/synthetic.yaml``.
CONFIG = ("--configfile", "tests/configs/pipeline.yaml")


def copy_workflow(destination: Path) -> Path:
    """Copy the workflow (not results, resources or logs) and the tests' configs into ``destination``."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


def copy_run(source: Path, destination: Path, *leave_out: str) -> Path:
    """A copy of the workflow folder ``source`` with its run (results, logs, Snakemake's records), every file's
    mtime kept so that Snakemake sees the same finished jobs; names matching the patterns ``leave_out`` are not
    copied."""
    shutil.copytree(source, destination, symlinks=True, ignore=shutil.ignore_patterns(*leave_out))
    return destination


# A run of snakemake is a process forked from a server that imported it once (multiprocessing's forkserver): the
# same command line, folder and environment as `python -m snakemake`, without paying Snakemake's imports on each of
# the suite's runs (most of them dry runs). Its jobs start as they do from the command line. The server also
# imports what a run loads after the command line (the DAG, the report's and storage's modules, the workflow's
# planning modules), which is most of a dry run's own time. A module that does not import is left to the run.
SERVER_PRELOAD = [
    "snakemake.cli", "snakemake.api", "snakemake.dag", "snakemake.workflow", "snakemake.persistence",
    "snakemake.profiles", "snakemake.report", "snakemake.report.html_reporter", "snakemake.storage", "requests",
    "smart_open", "docutils.core", "jinja2", "pygments.formatters", "jsonschema", "yte", "platformdirs",
    "packaging.version", "PIL.Image", "rnn_dynamics.ground.stages", "rnn_dynamics.ground.grid",
    "rnn_dynamics.outputs.catalogue", "rnn_dynamics.data.datasets.registry",
]  # fmt: skip
_SERVER = multiprocessing.get_context("forkserver")
_SERVER.set_forkserver_preload(SERVER_PRELOAD)


def snakemake(directory: Path, *args: str, timeout: float = 1200) -> subprocess.CompletedProcess:
    """Run snakemake in ``directory`` with this interpreter and the arguments ``args``; output captured as text."""
    command = [sys.executable, "-m", "snakemake", *args]
    with tempfile.TemporaryDirectory() as folder:
        outputs = Path(folder) / "stdout", Path(folder) / "stderr"
        for path in outputs:
            path.touch()  # read even where the process failed before it wrote a line
        process = _SERVER.Process(target=_snakemake_main, args=(list(args), str(directory), dict(os.environ), *outputs))
        process.start()
        process.join(timeout)
        if process.exitcode is None:
            process.kill()
            process.join()
            raise subprocess.TimeoutExpired(command, timeout)
        stdout, stderr = (path.read_text(errors="replace") for path in outputs)
    return subprocess.CompletedProcess(command, process.exitcode, stdout, stderr)


def _snakemake_main(args: list[str], directory: str, environment: dict, stdout: str, stderr: str) -> None:
    """In the forked process: what `python -m snakemake ARGS` does in ``directory``, its output to two files."""
    os.chdir(directory)
    os.environ.clear()
    os.environ.update(environment)
    for descriptor, path in ((1, stdout), (2, stderr)):
        with open(path, "wb") as handle:
            os.dup2(handle.fileno(), descriptor)
    from snakemake import cli

    sys.argv = [str(Path(cli.__file__).with_name("__main__.py")), *args]  # as `python -m snakemake` sets it
    try:
        cli.main(args)
    finally:
        atexit._run_exitfuncs()  # a forked process ends without them
