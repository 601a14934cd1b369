"""The SLURM workflow profile (profiles/slurm).

A dry run needs no cluster. The `slurm` tests run the synthetic pipeline on a
real one-node cluster (tests/slurm/cluster.sh start): one job is cancelled in
the scheduler, the rerun finishes the rest, and the outputs must equal a local
run's. Developers without a cluster skip them (or set RNN_DYNAMICS_SKIP_SLURM=1);
with CI=true a missing cluster is a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
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
# What the SLURM run and the local run are compared on; the fault cancels this rule's job.
TARGETS = ["all"]
CANCELLED_RULE = "train"
# The last rules whose outputs the local run makes for the comparison (their inputs are every computed file).
COMPARED_RULES = ["analyze"]
# Tables may record how long something took; those columns and keys differ between runs.
TIMING = re.compile(r"second|time|duration", re.IGNORECASE)
RUN_TIMEOUT_S = 600


def local_rules() -> set[str]:
    """The rules the workflow names `localrules`: they run on the submitting host, never in a SLURM job."""
    rules = set()
    for path in [ROOT / "Snakefile", *sorted((ROOT / "workflow" / "rules").glob("*.smk"))]:
        for block in re.findall(r"^localrules:\n((?:    \w+,?\n)+)", path.read_text(), flags=re.MULTILINE):
            rules |= set(re.findall(r"\w+", block))
    return rules


LOCAL_RULES = local_rules()


def in_scheduler(jobs: Counter) -> Counter:
    """``jobs`` less those of the local rules."""
    return Counter({rule: n for rule, n in jobs.items() if rule not in LOCAL_RULES})


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


# ---------------------------------------------------------------- without SLURM


def test_profile_dry_runs_on_a_machine_without_slurm(tmp_path):
    directory = copy_workflow(tmp_path / "workflow")
    config = write_tiny_config(directory)
    # A PATH with none of SLURM's commands (the plugin probes them with `which`).
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "which").symlink_to(shutil.which("which"))
    result = subprocess.run(
        [*SNAKEMAKE, "-n", "--workflow-profile", "profiles/slurm", "--configfile", str(config)],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PATH": str(bin_dir)},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert job_stats(output)["fixed_point_shard"] == 2
    # device: cpu switches the training job's GPU request off; resources come from the profile.
    train = output.split("rule train:")[1].split("\n\n")[0]
    assert "gpu=0" in train and "runtime=480" in train, train


# The rules that run a model, and the config section whose `device` they follow.
GPU_RULES = {"train": "training", "hidden_states": "training", "fixed_point_shard": "fixed_points",
             "linearize": "fixed_points", "analyze": "analyses"}  # fmt: skip


def gpu_requests(output: str) -> dict[str, set[str]]:
    """Per rule of a dry run, the values of its jobs' `gpu` resource ("none" where a job has none)."""
    requests: dict[str, set[str]] = {}
    # A grouped job's rules are indented under "Group job".
    for block in re.split(r"\n(?=\s*(?:local)?rule \w+:)", output):
        rule = re.match(r"\s*(?:local)?rule (\w+):", block)
        if rule:
            gpu = re.search(r"resources: .*?\bgpu=(\d+)", block)
            requests.setdefault(rule.group(1), set()).add(gpu.group(1) if gpu else "none")
    return requests


@pytest.mark.parametrize("device", ["auto", "cpu"])
def test_every_rule_that_runs_a_model_asks_for_a_gpu_unless_its_device_is_cpu(tmp_path, device):
    directory = copy_workflow(tmp_path / "workflow")
    config = write_tiny_config(directory)
    result = snakemake(
        directory, "-n", "--workflow-profile", "profiles/slurm", "--configfile", str(config),
        "--config", *(f"{section}={{'device': '{device}'}}" for section in sorted(set(GPU_RULES.values()))),
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    requests = gpu_requests(output)
    assert set(GPU_RULES) <= set(requests), requests
    for rule, values in requests.items():
        expected = ({"1"} if device == "auto" else {"0"}) if rule in GPU_RULES else {"none"}
        assert values == expected, (rule, values)


def test_profile_sets_resources_for_every_rule():
    # Users set partition and account with --default-resources, which replaces the
    # profile's defaults: each rule's own entry keeps its runtime and memory.
    profile = yaml.safe_load(PROFILE.read_text())
    # With every opt-in stage on, so that its rules are listed too.
    result = snakemake(ROOT, "--list-rules", "--config", "context={enabled: true}")
    assert result.returncode == 0, result.stderr
    rules = set(result.stdout.split())
    assert {"all", "results_page", "download"} <= LOCAL_RULES <= rules, LOCAL_RULES - rules
    scheduled = rules - LOCAL_RULES
    assert scheduled == set(profile["set-resources"]), scheduled ^ set(profile["set-resources"])
    for rule, resources in profile["set-resources"].items():
        assert {"runtime", "mem_mb"} <= set(resources), rule
    assert profile["groups"] == {"fixed_point_shard": "fixed_point_shards"}


# ---------------------------------------------------------------- on a cluster


def cluster_nodes() -> list[tuple[int, int]] | None:
    """(CPUs, memory MB) of each idle or mixed node, or None when no cluster answers."""
    try:
        result = subprocess.run(
            ["sinfo", "--noheader", "--Node", "--format=%c %m %t"], capture_output=True, text=True, timeout=20
        )
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    nodes = [line.split() for line in result.stdout.splitlines()]
    return [(int(c), int(m)) for c, m, state in nodes if state in ("idle", "mix")] or None


@pytest.fixture(scope="module")
def slurm_node():
    in_ci = os.environ.get("CI") == "true"
    if not in_ci and os.environ.get("RNN_DYNAMICS_SKIP_SLURM") == "1":
        pytest.skip("RNN_DYNAMICS_SKIP_SLURM=1")
    nodes = cluster_nodes()
    if nodes is None:
        message = "no SLURM cluster answers `sinfo` (start one: sudo tests/slurm/cluster.sh start)"
        if in_ci:
            pytest.fail(message)
        pytest.skip(message)
    return nodes[0]


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


def submitted_ids(output: str) -> list[str]:
    return re.findall(r"has been submitted with SLURM jobid (\d+)", output)


def executed_in_slurm(log_dir: Path) -> Counter:
    """Rule -> jobs run inside SLURM jobs, read from their SLURM logs.

    Inside a SLURM job each Snakemake job runs as a `localrule` of the job step,
    a group of fixed-point shards as several.
    """
    counts = Counter()
    for log in log_dir.rglob("*.log"):
        counts.update(re.findall(r"^localrule (\w+):", log.read_text(), flags=re.MULTILINE))
    return counts


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


@pytest.fixture(scope="module")
def slurm_runs(slurm_node, tmp_path_factory):
    """The tiny pipeline on SLURM with one job cancelled, then rerun; and the same run locally."""
    cpus, _ = slurm_node
    directory = copy_workflow(tmp_path_factory.mktemp("slurm"))
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
    # The local run to compare with goes alongside (the SLURM runs mostly wait on the scheduler), up to the
    # stages whose files are compared (the Parquet, NumPy and metrics files; tables and figures are not).
    local = copy_workflow(tmp_path_factory.mktemp("local"))
    local_run = subprocess.Popen(
        [*SNAKEMAKE, "--cores", "1", *common, "--until", *COMPARED_RULES],
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


@pytest.mark.slow
@pytest.mark.slurm
def test_a_cancelled_job_fails_the_run_cleanly(slurm_runs):
    runs = slurm_runs
    assert len(runs.cancelled) == 1, runs.failed.stdout[-5000:]
    assert runs.failed.returncode != 0
    assert f"SLURM-job '{runs.cancelled[0]}' failed" in runs.failed.stdout
    assert "CANCELLED" in runs.failed.stdout
    # Nothing of the cancelled job is left behind as if it had finished.
    assert CANCELLED_RULE in runs.remaining
    model_dir = Path("results/synthetic/models")
    assert not any(path.is_relative_to(model_dir) and path.name == "model.pt" for path in runs.after_failure)


@pytest.mark.slow
@pytest.mark.slurm
def test_the_rerun_completes_only_what_is_missing(slurm_runs):
    runs = slurm_runs
    assert runs.rerun.returncode == 0, runs.rerun.stdout[-5000:]
    # The jobs that finished before the cancellation are not planned again...
    finished = {"synthesize", "prepare", "embeddings"}
    assert finished <= set(runs.planned) and not finished & set(runs.remaining), runs.remaining
    # ...and nothing is redone: every file of the failed run keeps its mtime.
    now = file_mtimes(runs.directory)
    assert {path: now.get(path) for path in runs.after_failure} == runs.after_failure
    rerun = executed_in_slurm(runs.directory / "slurm-logs" / "rerun")
    assert rerun == in_scheduler(runs.remaining), rerun


@pytest.mark.slow
@pytest.mark.slurm
def test_every_job_ran_in_the_scheduler(slurm_runs):
    runs = slurm_runs
    # Every planned job but those of the local rules ran inside a SLURM job: those that finished before the
    # cancellation in the first run (the cancelled job may not have started), the rest in the rerun.
    first = executed_in_slurm(runs.directory / "slurm-logs" / "failed")
    del first[CANCELLED_RULE]
    rerun = executed_in_slurm(runs.directory / "slurm-logs" / "rerun")
    assert first == in_scheduler(runs.planned - runs.remaining), first
    assert first + rerun == in_scheduler(runs.planned), rerun
    # The scheduler's own record: each job of the rerun, and nothing left queued.
    ids = submitted_ids(runs.rerun.stdout)
    states = {job["id"]: job["state"] for job in runs.jobs_after_rerun}
    assert ids and all(states.get(i) == "COMPLETED" for i in ids), (ids, states)
    assert not [job for job in runs.jobs_after_rerun if job["state"] in ("PENDING", "RUNNING")]
    # The fixed-point shards are bundled: fewer SLURM jobs (less the cancelled one) than Snakemake jobs.
    completed = len(submitted_ids(runs.failed.stdout)) - 1 + len(ids)
    assert completed < sum((first + rerun).values()), completed


def assert_column_equal(mine, theirs, where: str) -> None:
    """Equal values, NaN equal to NaN (exact roots not sought are NaN), unlike Table.equals."""
    if pa.types.is_fixed_size_list(theirs.type):
        np.testing.assert_array_equal(storage.list_matrix(mine), storage.list_matrix(theirs), err_msg=where)
    elif pa.types.is_list(theirs.type) or pa.types.is_string(theirs.type):
        assert mine.to_pylist() == theirs.to_pylist(), where
    else:
        np.testing.assert_array_equal(
            mine.to_numpy(zero_copy_only=False), theirs.to_numpy(zero_copy_only=False), err_msg=where
        )


@pytest.mark.slow
@pytest.mark.slurm
def test_outputs_equal_a_local_run(slurm_runs):
    local_results = slurm_runs.local / "results"
    tables = sorted(local_results.rglob("*.parquet"))
    assert tables
    for path in tables:
        mine = pq.read_table(slurm_runs.directory / "results" / path.relative_to(local_results))
        theirs = pq.read_table(path)
        kept = [name for name in theirs.column_names if not TIMING.search(name)]
        assert mine.schema.equals(theirs.schema, check_metadata=False), path
        for name in kept:
            assert_column_equal(mine[name], theirs[name], f"{path}: {name}")
    for path in local_results.rglob("*.npy"):
        np.testing.assert_array_equal(
            np.load(slurm_runs.directory / "results" / path.relative_to(local_results)), np.load(path)
        )
    for path in local_results.rglob("metrics.json"):
        mine = json.loads((slurm_runs.directory / "results" / path.relative_to(local_results)).read_text())
        theirs = json.loads(path.read_text())
        assert {k: v for k, v in mine.items() if not TIMING.search(k)} == {
            k: v for k, v in theirs.items() if not TIMING.search(k)
        }, path
