"""Where a result came from: the code's git commit, the machine, and the library versions.

A results page and every trained model record these, so that a number can be traced to
the commit, configuration and machine that produced it.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
from pathlib import Path

__all__ = ["code_version", "config_hash", "machine"]

# The checkout the package is installed from (pip install -e .).
CHECKOUT = Path(__file__).resolve().parents[2]


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(CHECKOUT), *args], capture_output=True, text=True, timeout=30, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def code_version() -> dict:
    """The checkout's commit and whether its tracked files differ from it (``dirty``); None outside git."""
    commit = _git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "dirty": None}
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status)}


def config_hash(config: dict) -> str:
    """A short sha256 of the configuration as resolved (keys sorted), the same for equal configs."""
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    """The CPU (name and cores), the GPU and its driver where CUDA is present, and the torch and Python versions."""
    import torch

    info = {
        "cpu": f"{_cpu_name()}, {os.cpu_count()} cores",
        "gpu": None,
        "driver": None,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.release()}",
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
        smi = None
        try:
            smi = subprocess.run(
                ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                capture_output=True, text=True, timeout=30, check=True,
            ).stdout.strip().splitlines()[0]  # fmt: skip
        except (OSError, subprocess.SubprocessError, IndexError):
            pass
        info["driver"] = smi or f"CUDA {torch.version.cuda}"
    return info
