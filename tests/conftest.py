"""Shared fixtures: a small generated dataset, as an archive and prepared into token tables; small models trained
on it once per session; the ``train`` mark of the tests that use them."""

import functools

import pytest

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


def pytest_collection_modifyitems(items):
    for item in items:
        if TRAINING_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.train)


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
def synthetic_pipeline(tmp_path_factory):
    """A workflow copy in which the whole pipeline has run on the tests' tiny config (``pipeline.CONFIG``)."""
    from pipeline import CONFIG, copy_workflow, snakemake

    directory = copy_workflow(tmp_path_factory.mktemp("synthetic_pipeline"))
    result = snakemake(directory, "--cores", "2", *CONFIG)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    return directory


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
    (``trained.train_synthetic``), each trained once per session however many tests ask for it."""
    folder = tmp_path_factory.mktemp("synthetic_models")

    @functools.cache
    def trained(spec_id: str, epochs: int):
        return train_synthetic(prepared_synthetic_large, folder / f"{spec_id}-{epochs}", spec_id, epochs=epochs)

    return trained


@pytest.fixture(scope="session")
def trained_synthetic_model(synthetic_model):
    """Path of model.pt: a 1-layer GRU (E16, H32) trained on ``prepared_synthetic_large`` (its token ids).

    Beside it: initial.pt (the untrained weights), history.parquet, metrics.json.
    """
    return synthetic_model(TRAINED_SYNTHETIC_SPEC, 12)
