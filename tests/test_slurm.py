"""The SLURM workflow profile (profiles/slurm).

A dry run needs no cluster. The `slurm` tests check a run of the synthetic pipeline on a real one-node cluster
(tests/slurm/cluster.sh start; the run is tests/slurm_scenario.py, started in the background when the session
begins): one job is cancelled in the scheduler, the rerun finishes the rest, and the outputs must equal a local
run's. Developers without a cluster skip them (or set RNN_DYNAMICS_SKIP_SLURM=1); with CI=true a missing
cluster is a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

import slurm_scenario
from pipeline import ROOT, copy_workflow, snakemake
from rnn_dynamics.ground import storage
from slurm_scenario import (
    CANCELLED_RULE,
    PROFILE,
    SNAKEMAKE,
    file_mtimes,
    job_stats,
    write_tiny_config,
)

# Tables may record how long something took; those columns and keys differ between runs.
TIMING = re.compile(r"second|time|duration", re.IGNORECASE)


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


@pytest.fixture(scope="module")
def slurm_node():
    in_ci = os.environ.get("CI") == "true"
    if not in_ci and os.environ.get("RNN_DYNAMICS_SKIP_SLURM") == "1":
        pytest.skip("RNN_DYNAMICS_SKIP_SLURM=1")
    if slurm_scenario.cluster_nodes() is None:
        message = "no SLURM cluster answers `sinfo` (start one: sudo tests/slurm/cluster.sh start)"
        if in_ci:
            pytest.fail(message)
        pytest.skip(message)


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


@pytest.fixture(scope="module")
def slurm_runs(slurm_node, slurm_scenario_folder):
    """The tiny pipeline on SLURM with one job cancelled, then rerun; and the same run locally (the session
    started it in the background: conftest.slurm_in_background)."""
    return slurm_scenario.wait(slurm_scenario_folder)


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
