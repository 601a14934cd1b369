"""Shared fixtures: a small generated dataset, as an archive and prepared into token tables."""

import pytest

from rnn_dynamics.data import datasets, synthetic
from trained import DATA_FILES, prepare_synthetic, train_synthetic

SYNTHETIC_REVIEWS_PER_SPLIT = 200


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
    """A workflow copy in which the whole pipeline has run on configs/synthetic.yaml."""
    from pipeline import copy_workflow, snakemake

    directory = copy_workflow(tmp_path_factory.mktemp("synthetic_pipeline"))
    result = snakemake(directory, "--cores", "2", "--configfile", "configs/synthetic.yaml")
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
def trained_synthetic_model(prepared_synthetic_large, tmp_path_factory):
    """Path of model.pt: a 1-layer GRU (E16, H32) trained on ``prepared_synthetic_large`` (its token ids).

    Beside it: initial.pt (the untrained weights), history.parquet, metrics.json.
    """
    return train_synthetic(
        prepared_synthetic_large, tmp_path_factory.mktemp("trained_synthetic_model"), TRAINED_SYNTHETIC_SPEC, epochs=12
    )
