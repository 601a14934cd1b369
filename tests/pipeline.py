"""Running the real Snakemake workflow in a temporary copy, for the pipeline tests."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW_FILES = ("Snakefile", "config.yaml", "configs", "workflow", "scripts", "envs", "profiles", "tests/configs")
# The end-to-end tests' configuration: every stage on two tiny models (tests/configs/pipeline.yaml). The tests
# of the quick-look configuration itself pass ``--configfile configs/synthetic.yaml``.
CONFIG = ("--configfile", "tests/configs/pipeline.yaml")
# The smallest run of every stage (one tiny GRU, one epoch), for the tests of how a run is driven, not of what it
# finds (tests/configs/smallest.yaml).
SMALLEST = ("--configfile", "tests/configs/smallest.yaml")


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


def snakemake(directory: Path, *args: str, timeout: float = 1200) -> subprocess.CompletedProcess:
    """Run snakemake in ``directory`` with this interpreter; output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
