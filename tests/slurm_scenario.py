"""The SLURM scenario the cluster tests of test_slurm.py check, run once per test session in the background.

The tiny pipeline runs on a real one-node cluster (tests/slurm/cluster.sh start) with the workflow profile: the
first SLURM job of ``CANCELLED_RULE`` is cancelled in the scheduler, the rerun finishes the rest, and the same
pipeline runs locally for the comparison. It takes minutes of which the runs mostly wait on the scheduler's
status checks, so the session starts it at once (``start``, from conftest) and its tests, ordered last, read
what it recorded (``wait``). ``python tests/slurm_scenario.py FOLDER`` runs it into FOLDER: ``runs.json`` when
it has finished, ``error.txt`` with the traceback when it could not.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml

from pipeline import ROOT, copy_workflow, snakemake
from rnn_dynamics.ground import storage

PROFILE = ROOT / "profiles" / "slurm" / "config.yaml"
SNAKEMAKE = [sys.executable, "-m", "snakemake"]

# The smallest pipeline that still has every stage: one 1-layer GRU, two fixed-point shards.
TINY = {
    "datasets": {"synthetic": {"reviews_per_split": 60, "min_length": 6, "max_length": 12}},
    "models": {"layers": [1], "embedding": [8], "hidden": 8},
    "training": {"epochs": 1, "device": "cpu", "threads": 1},
    "states": {"sample_reviews": 20},
    "fixed_points": {"starts": 20, "shards": 2, "device": "cpu"},
    # The test cluster has no GPU: every stage that runs a model asks for none.
    "analyses": {"device": "cpu"},
}
# What the SLURM runs and the local run make: every stage that computes (its last rules' inputs are every
# computed file), not the tables and pages, which the profile runs on the submitting host anyway (its
# `localrules`) and the tiny pipeline's tests check. The fault cancels CANCELLED_RULE's job.
COMPARED_RULES = ["analyze"]
TARGETS = ["all", "--until", *COMPARED_RULES]
CANCELLED_RULE = "train"
# Each snakemake run's limit; the whole scenario's is a few of them.
RUN_TIMEOUT_S = 600
SCENARIO_TIMEOUT_S = 3 * RUN_TIMEOUT_S


def wanted() -> bool:
    """Whether the cluster tests run: a cluster answers, and RNN_DYNAMICS_SKIP_SLURM=1 is not set outside CI."""
    if os.environ.get("CI") != "true" and os.environ.get("RNN_DYNAMICS_SKIP_SLURM") == "1":
        return False
    return cluster_nodes() is not None


def cluster_nodes() -> list[tuple[int, int]] | None:
    """(CPUs, memory MB) of each node that is up (idle, or running jobs: the scenario's own among them), or None
    when no cluster answers."""
    try:
        result = subprocess.run(
            ["sinfo", "--noheader", "--Node", "--format=%c %m %t"], capture_output=True, text=True, timeout=20
        )
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    nodes = [line.split() for line in result.stdout.splitlines()]
    return [(int(c), int(m)) for c, m, state in nodes if state in ("idle", "mix", "alloc")] or None


def write_tiny_config(directory: Path) -> Path:
    config = yaml.safe_load((ROOT / "configs" / "synthetic.yaml").read_text())
    for section, values in TINY.items():
        for key, value in values.items():
            if isinstance(value, dict):
                config.setdefault(section, {})[key].update(value)
            else:
                config.setdefault(section, {})[key] = value
    path = directory / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def job_stats(output: str) -> Counter:
    """The 'Job stats' table snakemake prints (rule -> planned jobs)."""
    counts = Counter()
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Job stats:"))
    for line in lines[start + 3 :]:
        fields = line.split()
        if len(fields) != 2 or fields[0] == "total":
            break
        counts[fields[0]] = int(fields[1])
    return counts


def planned_jobs(directory: Path, *args: str) -> Counter:
    result = snakemake(directory, "-n", "--quiet", "rules", *args)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    if "Nothing to be done" in result.stdout + result.stderr:
        return Counter()
    return job_stats(result.stdout + result.stderr)


def capped_profile(directory: Path, memory_cap_mb: int) -> Path:
    """The workflow profile with every memory request capped to fit the test node."""
    profile = yaml.safe_load(PROFILE.read_text())
    for resources in [profile["default-resources"], *profile["set-resources"].values()]:
        resources["mem_mb"] = min(resources["mem_mb"], memory_cap_mb)
    path = directory / "test-profile" / "config.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(profile))
    return path.parent


def our_jobs(directory: Path) -> list[dict]:
    """Every job the scheduler still knows of (finished ones for MinJobAge) submitted from ``directory``."""
    result = subprocess.run(
        ["squeue", "--noheader", "--states=all", "--format=%i|%T|%k|%Z"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    jobs = [dict(zip(("id", "state", "comment", "workdir"), line.split("|"))) for line in result.stdout.splitlines()]
    return [job for job in jobs if Path(job["workdir"]) == directory]


def cancel_first_job_of(rule: str, directory: Path, run: subprocess.Popen, cancelled: list[str]) -> None:
    """scancel the first SLURM job of ``rule`` from ``directory`` as soon as the scheduler has it."""
    while run.poll() is None:
        for job in our_jobs(directory):
            if job["comment"].startswith(f"rule_{rule}_") or job["comment"] == f"rule_{rule}":
                subprocess.run(["scancel", job["id"]], check=True, timeout=30)
                cancelled.append(job["id"])
                return
        time.sleep(0.2)


def run_on_slurm(directory: Path, args: list[str], watch=None) -> subprocess.CompletedProcess:
    run = subprocess.Popen(
        [*SNAKEMAKE, *args], cwd=directory, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    watcher = threading.Thread(target=watch, args=(run,), daemon=True) if watch else None
    if watcher:
        watcher.start()
    try:
        output, _ = run.communicate(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        run.kill()
        for job in our_jobs(directory):
            subprocess.run(["scancel", job["id"]], timeout=30)
        raise
    if watcher:
        watcher.join(timeout=30)
    return subprocess.CompletedProcess(run.args, run.returncode, output, "")


def file_mtimes(directory: Path) -> dict[Path, int]:
    return {
        path.relative_to(directory): path.stat().st_mtime_ns
        for folder in ("resources", "results")
        for path in (directory / folder).rglob("*")
        if path.is_file() and path.name != storage.RUN_LOCK  # every run writes its record there
    }


@dataclass
class SlurmRuns:
    directory: Path
    planned: Counter
    cancelled: list[str]
    failed: subprocess.CompletedProcess
    after_failure: dict[Path, int]
    remaining: Counter
    rerun: subprocess.CompletedProcess
    jobs_after_rerun: list[dict]
    local: Path


def scenario(folder: Path, cpus: int) -> SlurmRuns:
    """The tiny pipeline on SLURM with one job cancelled, then rerun; and the same run locally."""
    directory = copy_workflow(folder / "slurm")
    config = write_tiny_config(directory)
    profile = capped_profile(directory, memory_cap_mb=1000)
    common = [f"--configfile={config}", *TARGETS]
    slurm = [
        "--workflow-profile",
        str(profile),
        # Group jobs ask for at most the node's CPUs (the shards then run in turn).
        "--cores",
        str(cpus),
        # No accounting database here: squeue reports job states, and jobs need no account.
        "--slurm-status-command",
        "squeue",
        "--slurm-no-account",
        "--slurm-init-seconds-before-status-checks",
        "2",
        "--slurm-keep-successful-logs",
        *common,
    ]
    planned = planned_jobs(directory, *common)
    # The local run to compare with goes alongside (the SLURM runs mostly wait on the scheduler); its Parquet,
    # NumPy and metrics files are compared (tables and figures are not).
    local = copy_workflow(folder / "local")
    local_run = subprocess.Popen(
        [*SNAKEMAKE, "--cores", "1", *common],
        cwd=local, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip

    cancelled: list[str] = []
    failed = run_on_slurm(
        directory,
        [*slurm, "--slurm-logdir", "slurm-logs/failed"],
        watch=lambda run: cancel_first_job_of(CANCELLED_RULE, directory, run, cancelled),
    )
    after_failure = file_mtimes(directory)
    remaining = planned_jobs(directory, *common)
    rerun = run_on_slurm(directory, [*slurm, "--slurm-logdir", "slurm-logs/rerun"])
    jobs_after_rerun = our_jobs(directory)

    output, _ = local_run.communicate(timeout=RUN_TIMEOUT_S)
    assert local_run.returncode == 0, output[-5000:]
    return SlurmRuns(directory, planned, cancelled, failed, after_failure, remaining, rerun, jobs_after_rerun, local)

    output, _ = local_run.communicate(timeout=RUN_TIMEOUT_S)
    assert local_run.returncode == 0, output[-5000:]
    return SlurmRuns(directory, planned, cancelled, failed, after_failure, remaining, rerun, jobs_after_rerun, local)


def start(folder: Path) -> subprocess.Popen | None:
    """Start the scenario into ``folder`` in the background, unless a process of this session already has."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(folder / "started", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return None
    with open(folder / "scenario.log", "w") as log:
        process = subprocess.Popen([sys.executable, __file__, str(folder)], stdout=log, stderr=subprocess.STDOUT)
    (folder / "pid").write_text(str(process.pid))
    return process


def stop(folder: Path, process: subprocess.Popen) -> None:
    """Stop the scenario ``start`` began into ``folder`` and cancel the SLURM jobs it submitted."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
    for job in our_jobs(folder / "slurm"):
        if job["state"] in ("PENDING", "RUNNING"):
            subprocess.run(["scancel", job["id"]], timeout=30)


def wait(folder: Path, timeout: float = SCENARIO_TIMEOUT_S) -> SlurmRuns:
    """What the scenario started into ``folder`` recorded, once it has finished (it is started if it was not)."""
    process = start(folder)
    deadline = time.monotonic() + timeout
    while not (folder / "runs.json").exists():
        if (folder / "error.txt").exists():
            raise RuntimeError(f"the SLURM scenario failed ({folder}):\n{(folder / 'error.txt').read_text()}")
        pid = (folder / "pid").read_text() if (folder / "pid").exists() else ""
        if pid and not running(int(pid)) and not (folder / "runs.json").exists():
            log = (folder / "scenario.log").read_text()[-5000:]
            raise RuntimeError(f"the SLURM scenario stopped without a record ({folder}):\n{log}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"the SLURM scenario did not finish in {timeout} s ({folder / 'scenario.log'})")
        time.sleep(1)
    if process is not None:
        process.wait()
    return load(json.loads((folder / "runs.json").read_text()))


def running(pid: int) -> bool:
    """Whether process ``pid`` is alive (a finished child not yet reaped is not)."""
    if not Path("/proc/self/stat").exists():  # not Linux
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def record(runs: SlurmRuns) -> dict:
    """``runs`` as JSON values (``load`` reads them back)."""
    return {
        "directory": str(runs.directory),
        "planned": dict(runs.planned),
        "cancelled": runs.cancelled,
        "failed": {"returncode": runs.failed.returncode, "stdout": runs.failed.stdout},
        "after_failure": {str(path): mtime for path, mtime in runs.after_failure.items()},
        "remaining": dict(runs.remaining),
        "rerun": {"returncode": runs.rerun.returncode, "stdout": runs.rerun.stdout},
        "jobs_after_rerun": runs.jobs_after_rerun,
        "local": str(runs.local),
    }


def load(fields: dict) -> SlurmRuns:
    return SlurmRuns(
        directory=Path(fields["directory"]),
        planned=Counter(fields["planned"]),
        cancelled=fields["cancelled"],
        failed=subprocess.CompletedProcess([], fields["failed"]["returncode"], fields["failed"]["stdout"], ""),
        after_failure={Path(path): mtime for path, mtime in fields["after_failure"].items()},
        remaining=Counter(fields["remaining"]),
        rerun=subprocess.CompletedProcess([], fields["rerun"]["returncode"], fields["rerun"]["stdout"], ""),
        jobs_after_rerun=fields["jobs_after_rerun"],
        local=Path(fields["local"]),
    )


def main(folder: Path) -> None:
    try:
        nodes = cluster_nodes()
        if nodes is None:
            raise RuntimeError("no SLURM cluster answers `sinfo`")
        partial = folder / "runs.json.partial"
        partial.write_text(json.dumps(record(scenario(folder, cpus=nodes[0][0]))))
        partial.rename(folder / "runs.json")
    except BaseException:
        (folder / "error.txt").write_text(traceback.format_exc())
        raise


if __name__ == "__main__":
    main(Path(sys.argv[1]))
