"""Small models trained on generated data, for the tests: one way to prepare and train them."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from rnn_dynamics.data import batches, datasets, embeddings, synthetic
from rnn_dynamics.ground.grid import ModelSpec
from rnn_dynamics.networks import training

DATA_FILES = ("train", "valid", "test", "vocab")
MODEL_FILES = ("initial.pt", "model.pt", "history.parquet", "metrics.json", "checkpoint.pt")
# (spec id, epochs) of the LSTM that the tests of another architecture share (conftest's ``synthetic_model``):
# two layers, so that a layer reading another layer's states is among them.
SHARED_LSTM = ("lstm-L2-E16-H32-s0", 10)


def prepare_synthetic(directory: Path, reviews_per_split: int, **lengths) -> Path:
    """``directory`` with train/valid/test/vocab.parquet of a generated archive (valid 20%);
    ``lengths``: ``min_length``/``max_length`` of the reviews."""
    synthetic.write_archive(
        directory / "synthetic.tar.gz", synthetic.Settings(reviews_per_split=reviews_per_split, seed=0, **lengths)
    )
    outputs = {name: directory / f"{name}.parquet" for name in DATA_FILES}
    datasets.prepare(
        datasets.read_archive(directory / "synthetic.tar.gz"),
        outputs,
        datasets.PrepareSettings(valid_fraction=0.2, split_seed=0),
    )
    return directory


def train_synthetic(data: Path, folder: Path, spec_id: str, epochs: int) -> Path:
    """model.pt of ``spec_id`` trained on the prepared splits in ``data`` (random vectors, Adam 0.01,
    dropout 0.1, on the CPU) into ``folder``, beside its other outputs."""
    spec = ModelSpec.parse(spec_id)
    splits = {split: batches.read_split(data / f"{split}.parquet") for split in ("train", "valid", "test")}
    matrix = embeddings.build(pq.read_table(data / "vocab.parquet"), "random", spec.embedding, seed=0)
    settings = training.Settings(epochs=epochs, learning_rate=0.01, dropout=0.1, device="cpu", threads=1)
    folder.mkdir(parents=True, exist_ok=True)
    training.train(spec, splits, matrix, settings, training.Outputs(*(folder / name for name in MODEL_FILES)))
    return folder / "model.pt"


def trained_synthetic(folder: Path, reviews_per_split: int, spec_id: str, epochs: int):
    """A model trained on a generated set of ``reviews_per_split`` reviews per split, in ``folder``: the path of
    its model.pt (initial.pt beside it), the vocabulary and the train and test splits (the benchmarks' set-up)."""
    from rnn_dynamics.data import text

    data = prepare_synthetic(folder, reviews_per_split)
    path = train_synthetic(data, folder / "model", spec_id, epochs=epochs)
    splits = [batches.read_split(data / f"{split}.parquet") for split in ("train", "test")]
    return path, text.read_vocabulary(data / "vocab.parquet"), *splits
