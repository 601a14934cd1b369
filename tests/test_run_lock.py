"""One run at a time on a results folder: a second run stops before its first job, and a stale lock never blocks.

A job refused by a lock fails, and Snakemake deletes a failed job's outputs, which are the files the first run
is writing: the guard (results/.run.lock, taken in the Snakefile's onstart) acts before any job starts.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import yaml

from pipeline import ROOT, copy_workflow, snakemake
from rnn_dynamics.ground import storage

OUTPUTS = [f"results/synthetic/data/{split}.parquet" for split in ("train", "valid", "test", "vocab")]


def hold_in_another_process(folder) -> subprocess.Popen:
    """A process that holds ``folder``'s run lock until it is killed."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import time
            from rnn_dynamics.ground.storage import hold_run_lock
            hold_run_lock({str(folder)!r}, "snakemake --cores 1")
            print("locked", flush=True)
            time.sleep(60)
            """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_a_held_run_lock_names_its_file_and_holder_and_a_killed_holders_lock_is_taken_over(tmp_path):
    lock = tmp_path / storage.RUN_LOCK
    holder = hold_in_another_process(tmp_path)
    try:
        with pytest.raises(storage.LockHeld) as refused:
            storage.hold_run_lock(tmp_path)
        message = str(refused.value)
        assert f"the results folder {tmp_path} " in message
        assert f"process {holder.pid} on {os.uname().nodename}" in message
        assert f"holds the lock {lock}" in message
        assert message.endswith("Its command: snakemake --cores 1")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # Killed, it left its record: the lock is free all the same, and the record is named as taken over.
    held = storage.hold_run_lock(tmp_path)
    assert held.taken_over.startswith(f"process {holder.pid} on ")
    assert lock.read_text().startswith(f"process {os.getpid()} on ")
    held.release()
    assert lock.read_text() == ""
    storage.hold_run_lock(tmp_path).release()  # released: free, not stale


def test_without_flock_the_record_is_the_lock_and_a_dead_holders_is_stale(tmp_path, monkeypatch):
    """A filesystem without flock (some NFS, Lustre mounts): the recorded pid and host decide."""

    def no_flock(handle, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(storage.fcntl, "flock", no_flock)
    lock = tmp_path / storage.RUN_LOCK
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    host = os.uname().nodename
    try:
        lock.write_text(f"process {alive.pid} on {host} since 2000-01-01 00:00:00\n")
        with pytest.raises(storage.LockHeld, match=f"process {alive.pid} on {host}"):
            storage.hold_run_lock(tmp_path)
    finally:
        alive.kill()
        alive.wait()
    lock.write_text(f"process {alive.pid} on another-host since 2000-01-01 00:00:00\n")
    with pytest.raises(storage.LockHeld, match=f"if no run is going on there, delete {lock}"):
        storage.hold_run_lock(tmp_path)
    lock.write_text(f"process {ended.pid} on {host} since 2000-01-01 00:00:00\n")
    held = storage.hold_run_lock(tmp_path)
    assert held.taken_over.startswith(f"process {ended.pid} on {host}")
    with pytest.raises(storage.LockHeld, match=f"process {os.getpid()} on {host}"):
        storage.hold_run_lock(tmp_path)  # this process's own, live record
    held.release()
    storage.hold_run_lock(tmp_path).release()


def tiny_config(directory):
    config = yaml.safe_load((ROOT / "configs/synthetic.yaml").read_text())
    config["datasets"]["synthetic"]["reviews_per_split"] = 200
    path = directory / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.slow
def test_a_second_run_with_nolock_stops_before_any_job_and_the_first_keeps_every_output(tmp_path):
    directory = copy_workflow(tmp_path)
    run = [*OUTPUTS, "--cores", "1", "--nolock", "--configfile", str(tiny_config(directory))]
    first = subprocess.Popen(
        [sys.executable, "-m", "snakemake", *run], cwd=directory, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    lock = directory / "results" / storage.RUN_LOCK
    while not (lock.exists() and lock.read_text()):
        assert first.poll() is None, first.stdout.read().decode()[-3000:]
        time.sleep(0.1)
    # Paused while it holds the lock, the first run is mid-run whenever the second one starts.
    first.send_signal(signal.SIGSTOP)
    try:
        second = snakemake(directory, *run, "--rerun-incomplete", timeout=300)
        dry_run = snakemake(directory, "-n", *run, "--rerun-incomplete", timeout=300)
    finally:
        first.send_signal(signal.SIGCONT)
    output, _ = first.communicate(timeout=600)
    assert first.returncode == 0, output.decode()[-3000:]
    refusal = second.stdout + second.stderr
    assert second.returncode != 0
    assert f"already being written by process {first.pid} on " in refusal
    assert f"which holds the lock {lock}" in refusal
    assert "localrule" not in refusal  # no job started
    assert dry_run.returncode == 0, dry_run.stderr[-3000:]
    for name in OUTPUTS:
        assert (directory / name).stat().st_size > 0, name
    assert lock.read_text() == ""
