"""Shared fixtures: a small generated dataset, as an archive and prepared into token tables; small models trained
on it once per session; the ``train`` mark of the tests that use them."""

import contextlib
import fcntl
import functools
import os
from pathlib import Path

import pytest

import slurm_scenario
from rnn_dynamics.data import datasets, synthetic
from trained import DATA_FILES, prepare_synthetic, train_synthetic

SYNTHETIC_REVIEWS_PER_SPLIT = 200

# The fixtures that train a model: a test that uses one, directly or through another fixture, is marked
# ``train``. A test that trains a model itself carries the mark in its file.
TRAINING_FIXTURES = {
    "synthetic_model",  # here, and trained_synthetic_model through it
    "trained",  # test_analyses
    "trained_on_synthetic",  # test_states
    "categorical_run",  # test_multiclass
    "uninterrupted",  # test_training
    "networks",  # test_similarity
    "integrating_gru",  # test_fixed_point_fidelity
}


# With pytest-xdist (`-n 2 --dist loadgroup`, the README's test command) the files that share the tiny pipeline's
# run (which its tests read and edit) run on one worker, each other file is a unit of its own, and the longest units
# start first. The trained synthetic models are shared between workers on disk (``synthetic_model``).
SHARED_FIXTURES = {"synthetic_pipeline": "pipeline"}
# Units that start first, longest first (by `--durations`). test_context and test_gpu_run are not among them: they
# run in copies of the tiny pipeline's run (``pristine_pipeline``), which the "pipeline" unit makes first.
FIRST = ("pipeline", "test_manifold", "test_checkpoints", "test_similarity", "test_multiclass")
# Units that run last: the SLURM tests read a scenario the session started in the background
# (``slurm_in_background``), which mostly waits on the scheduler while the other tests run.
LAST = ("test_slurm",)


def xdist_groups(items) -> dict[str, str]:
    """File -> the worker group of its tests: the group of a shared fixture any of them uses, else the file."""
    groups = {}
    for item in items:
        used = [SHARED_FIXTURES[name] for name in getattr(item, "fixturenames", ()) if name in SHARED_FIXTURES]
        groups.setdefault(item.path.stem, item.path.stem)
        if used:
            groups[item.path.stem] = used[0]
    return groups


# First, so that xdist's own hook (which appends each test's group to its id) sees the groups.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    groups = xdist_groups(items)
    for item in items:
        if TRAINING_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.train)
        item.add_marker(pytest.mark.xdist_group(groups[item.path.stem]))
    rank = {group: i for i, group in enumerate(FIRST)} | {group: len(FIRST) + 1 + i for i, group in enumerate(LAST)}
    items.sort(key=lambda item: rank.get(groups[item.path.stem], len(FIRST)))


def pytest_configure(config):
    """On an xdist worker, torch shares the cores with the other workers: one thread each."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))))


@pytest.fixture(scope="session")
def synthetic_archive(tmp_path_factory):
    """Path of a generated aclImdb-layout archive: 200 reviews per split, half of each label."""
    path = tmp_path_factory.mktemp("synthetic") / "synthetic.tar.gz"
    synthetic.write_archive(path, synthetic.Settings(reviews_per_split=SYNTHETIC_REVIEWS_PER_SPLIT, seed=0))
    return path


@pytest.fixture(scope="session")
def prepared_synthetic(synthetic_archive, tmp_path_factory):
    """Directory with train/valid/test/vocab.parquet prepared from ``synthetic_archive`` (valid 20%)."""
    directory = tmp_path_factory.mktemp("prepared_synthetic")
    outputs = {name: directory / f"{name}.parquet" for name in DATA_FILES}
    datasets.prepare(
        datasets.read_archive(synthetic_archive), outputs, datasets.PrepareSettings(valid_fraction=0.2, split_seed=0)
    )
    return directory


@pytest.fixture(scope="session")
def pristine_pipeline(tmp_path_factory):
    """A workflow copy in which the whole pipeline has run on the tests' tiny config (``pipeline.CONFIG``), once per
    run however many xdist workers ask for it. Read it, never edit it: a test that runs more in it copies it
    (``copy_run``)."""
    from pipeline import CONFIG, copy_workflow, snakemake

    folder = run_folder(tmp_path_factory, "pristine_pipeline")
    with one_at_a_time(folder / "lock"):
        if not (folder / "done").exists():
            directory = copy_workflow(folder / "run")
            result = snakemake(directory, "--cores", "2", *CONFIG)
            assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
            (folder / "done").touch()
    return folder / "run"


@pytest.fixture(scope="session")
def synthetic_pipeline(pristine_pipeline, tmp_path_factory):
    """This worker's copy of ``pristine_pipeline``, which the tests of the ``pipeline`` group read and edit."""
    from pipeline import copy_run

    return copy_run(pristine_pipeline, tmp_path_factory.mktemp("synthetic_pipeline") / "run")


def run_folder(tmp_path_factory, name: str) -> Path:
    """``name`` in the folder every xdist worker of this run shares (their base temps' parent), else in the
    session's base temp."""
    base = tmp_path_factory.getbasetemp()
    folder = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextlib.contextmanager
def one_at_a_time(path: Path):
    """Wait for the lock ``path`` and hold it for the block: a second worker waits for the first's model."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def slurm_scenario_folder(tmp_path_factory) -> Path:
    """Where this run's SLURM scenario (tests/slurm_scenario.py) records what it did, shared by the workers."""
    return run_folder(tmp_path_factory, "slurm_scenario")


@pytest.fixture(scope="session", autouse=True)
def slurm_in_background(request, slurm_scenario_folder):
    """Start the SLURM scenario as the session begins when a `slurm` test is selected and a cluster answers, so
    that its minutes of waiting on the scheduler overlap the other tests; wait for it before the session ends,
    unless the session stops early (``-x``, ``--maxfail``): then stop it and cancel its jobs."""
    selected = any(item.get_closest_marker("slurm") for item in request.session.items)
    process = slurm_scenario.start(slurm_scenario_folder) if selected and slurm_scenario.wanted() else None
    yield
    if process is None:
        return
    if request.session.shouldstop or request.session.shouldfail:
        slurm_scenario.stop(slurm_scenario_folder, process)
    else:
        process.wait(timeout=slurm_scenario.SCENARIO_TIMEOUT_S)


# A larger generated dataset for training: with 200 reviews per split a small GRU
# overfits before it learns the rule; with 2000 it passes 95% test accuracy.
TRAINING_REVIEWS_PER_SPLIT = 2000
TRAINED_SYNTHETIC_SPEC = "gru-L1-E16-H32-s0"


@pytest.fixture(scope="session")
def prepared_synthetic_large(tmp_path_factory):
    """Directory with train/valid/test/vocab.parquet of a 2000-reviews-per-split synthetic archive."""
    return prepare_synthetic(tmp_path_factory.mktemp("prepared_synthetic_large"), TRAINING_REVIEWS_PER_SPLIT)


@pytest.fixture(scope="session")
def synthetic_model(prepared_synthetic_large, tmp_path_factory):
    """A function (spec id, epochs) -> the path of model.pt of that model trained on ``prepared_synthetic_large``
    (``trained.train_synthetic``), each trained once per run however many tests, and xdist workers, ask for it
    (the data are generated from a seed, so every worker's copy holds the same token ids)."""
    folder = run_folder(tmp_path_factory, "synthetic_models")

    @functools.cache
    def trained(spec_id: str, epochs: int):
        target = folder / f"{spec_id}-{epochs}"
        with one_at_a_time(folder / f"{spec_id}-{epochs}.lock"):
            if not (target / "model.pt").exists():
                train_synthetic(prepared_synthetic_large, target, spec_id, epochs=epochs)
        return target / "model.pt"

    return trained


@pytest.fixture(scope="session")
def trained_synthetic_model(synthetic_model):
    """Path of model.pt: a 1-layer GRU (E16, H32) trained on ``prepared_synthetic_large`` (its token ids).

    Beside it: initial.pt (the untrained weights), history.parquet, metrics.json.
    """
    return synthetic_model(TRAINED_SYNTHETIC_SPEC, 12)
