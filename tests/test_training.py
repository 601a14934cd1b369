"""Training: batching (the batches module), determinism, resume, non-finite loss, outputs, the accuracy table."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from rnn_dynamics.data import batches
from rnn_dynamics.ground.grid import ModelSpec
from rnn_dynamics.networks import model as model_lib
from rnn_dynamics.networks import training
from rnn_dynamics.outputs import catalogue, tables

VOCAB = 12
SPEC = ModelSpec("gru", 2, 8, 8, 0, batch_size=16)
SETTINGS = training.Settings(epochs=3, learning_rate=0.01, dropout=0.1, device="cpu", threads=1)


def write_split(path, token_lists, labels):
    table = pa.table(
        {
            "id": pa.array([f"r{i}" for i in range(len(labels))], pa.string()),
            "label": pa.array(labels, pa.int8()),
            "length": pa.array([len(t) for t in token_lists], pa.int32()),
            "tokens": pa.array(token_lists, pa.list_(pa.int32())),
        }
    )
    pq.write_table(table, path)
    return path


def counting_task(n, seed):
    """Label 1 when word 2 occurs more often than word 3: a task a small GRU learns quickly."""
    rng = np.random.default_rng(seed)
    token_lists, labels = [], []
    while len(labels) < n:
        tokens = rng.integers(2, VOCAB, rng.integers(4, 16)).tolist()
        if tokens.count(2) != tokens.count(3):
            token_lists.append(tokens)
            labels.append(int(tokens.count(2) > tokens.count(3)))
    return token_lists, labels


@pytest.fixture(scope="module")
def splits(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    sizes = {"train": 256, "valid": 64, "test": 64}
    return {
        split: batches.read_split(write_split(folder / f"{split}.parquet", *counting_task(n, seed)), VOCAB)
        for seed, (split, n) in enumerate(sizes.items())
    }


def outputs(folder):
    return training.Outputs(
        *(folder / name for name in ("initial.pt", "model.pt", "history.parquet", "metrics.json", "checkpoint.pt"))
    )


def run(folder, splits, settings=SETTINGS, spec=SPEC, **kwargs):
    embeddings = np.random.default_rng(0).normal(size=(VOCAB, spec.embedding)).astype(np.float32)
    return training.train(spec, splits, embeddings, settings, outputs(folder), **kwargs)


def weights(path):
    return model_lib.load(path).state_dict()


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.fixture(scope="module")
def uninterrupted(splits, tmp_path_factory):
    folder = tmp_path_factory.mktemp("uninterrupted")
    return folder, run(folder, splits)


def test_bucketed_batches_cover_every_review_once_with_little_padding():
    lengths = np.random.default_rng(0).integers(1, 100, 1000)
    buckets = batches.bucketed_batches(lengths, 64, torch.Generator().manual_seed(0))
    assert sorted(np.concatenate(buckets).tolist()) == list(range(1000))
    assert sorted(len(b) for b in buckets) == [1000 % 64] + [64] * (1000 // 64)
    # Random batches of reviews 1-99 tokens long would pad to nearly twice the tokens.
    padded = sum(len(b) * lengths[b].max() for b in buckets)
    assert padded < 1.1 * lengths.sum()
    again = batches.bucketed_batches(lengths, 64, torch.Generator().manual_seed(0))
    assert all(np.array_equal(a, b) for a, b in zip(buckets, again))
    other = batches.bucketed_batches(lengths, 64, torch.Generator().manual_seed(1))
    assert not all(np.array_equal(a, b) for a, b in zip(buckets, other))


def test_padded_batch_holds_each_review_then_zeros(splits):
    reviews = splits["valid"]
    tokens, lengths, labels = batches.padded_batch(reviews, np.array([3, 0]), torch.device("cpu"))
    assert tokens.shape == (2, int(lengths.max()))
    for row, review in enumerate([3, 0]):
        n = reviews.lengths[review]
        assert (
            tokens[row, :n].tolist() == reviews.tokens[reviews.offsets[review] : reviews.offsets[review + 1]].tolist()
        )
        assert not tokens[row, n:].any()
    assert labels.tolist() == reviews.labels[[3, 0]].tolist()


@pytest.mark.parametrize(
    "token_lists, lengths, vocab_size, message",
    [
        ([[2, 3], []], None, 12, "r1 has no tokens"),
        ([[2, 3], [4]], [2, 5], 12, "r1 has length 5"),
        ([[2, 30]], None, 12, "token id 30"),
    ],
)
def test_bad_split_tables_are_named(tmp_path, token_lists, lengths, vocab_size, message):
    path = write_split(tmp_path / "bad.parquet", token_lists, [0] * len(token_lists))
    if lengths is not None:
        table = pq.read_table(path)
        table = table.set_column(2, "length", pa.array(lengths, pa.int32()))
        pq.write_table(table, path)
    with pytest.raises(ValueError, match=f"bad.parquet.*{message}"):
        batches.read_split(path, vocab_size)


def test_training_writes_its_outputs_and_learns(uninterrupted):
    folder, metrics = uninterrupted
    history = pq.read_table(folder / "history.parquet")
    assert history.schema == training.HISTORY_SCHEMA
    assert history.column("epoch").to_pylist() == [1, 2, 3]
    assert (np.array(history.column("tokens_per_second")) > 0).all()
    assert json.loads((folder / "metrics.json").read_text()) == metrics
    assert metrics["model"] == SPEC.id and metrics["device"] == "cpu" and metrics["epochs"] == 3
    best = int(np.argmin(history.column("valid_loss"))) + 1
    assert metrics["best_epoch"] == best
    assert metrics["valid_loss"] == pytest.approx(history.column("valid_loss")[best - 1].as_py())
    assert metrics["train_loss"] < history.column("train_loss")[0].as_py()
    assert metrics["test_accuracy"] > 0.7
    assert not (folder / "checkpoint.pt").exists()
    # The initial weights are the untrained network: they differ from the kept ones.
    initial, final = weights(folder / "initial.pt"), weights(folder / "model.pt")
    assert not torch.equal(initial["readout.weight"], final["readout.weight"])


def test_two_runs_with_one_seed_give_identical_weights(uninterrupted, splits, tmp_path):
    folder, _ = uninterrupted
    run(tmp_path, splits)
    assert_same_weights(weights(tmp_path / "model.pt"), weights(folder / "model.pt"))
    assert_same_weights(weights(tmp_path / "initial.pt"), weights(folder / "initial.pt"))


class Killed(Exception):
    pass


def kill_after_first_epoch(epoch, model):
    if epoch == 1:
        raise Killed


def test_a_run_stopped_after_one_epoch_resumes_to_the_same_weights(uninterrupted, splits, tmp_path):
    folder, _ = uninterrupted
    with pytest.raises(Killed):
        run(tmp_path, splits, on_epoch_end=kill_after_first_epoch)
    assert (tmp_path / "checkpoint.pt").exists() and not (tmp_path / "model.pt").exists()
    (tmp_path / "initial.pt").unlink()  # Snakemake removes the outputs of a failed job
    run(tmp_path, splits)
    assert_same_weights(weights(tmp_path / "model.pt"), weights(folder / "model.pt"))
    resumed = pd.read_parquet(tmp_path / "history.parquet").drop(columns=["seconds", "tokens_per_second"])
    full = pd.read_parquet(folder / "history.parquet").drop(columns=["seconds", "tokens_per_second"])
    pd.testing.assert_frame_equal(resumed, full)


@pytest.mark.train
def test_a_checkpoint_of_other_settings_is_not_continued(splits, tmp_path, caplog):
    with pytest.raises(Killed):
        run(tmp_path, splits, on_epoch_end=kill_after_first_epoch)
    other = training.Settings(**{**SETTINGS.__dict__, "learning_rate": 0.02, "epochs": 1})
    metrics = run(tmp_path, splits, settings=other)
    assert "not resuming from" in caplog.text and "learning_rate': 0.01" in caplog.text
    assert pd.read_parquet(tmp_path / "history.parquet")["epoch"].tolist() == [1]
    assert metrics["best_epoch"] == 1


@pytest.mark.train
def test_non_finite_loss_stops_naming_model_epoch_and_batch_and_keeps_the_checkpoint(splits, tmp_path):
    def poison_after_first_epoch(epoch, model):
        if epoch == 1:
            with torch.no_grad():
                model.readout.weight.fill_(float("nan"))

    with pytest.raises(FloatingPointError, match=f"model {SPEC.id} diverged in epoch 2, batch 1 of.*not finite"):
        run(tmp_path, splits, on_epoch_end=poison_after_first_epoch)
    checkpoint = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert len(checkpoint["history"]) == 1
    assert all(torch.isfinite(value).all() for value in checkpoint["weights"].values())
    assert not (tmp_path / "model.pt").exists()


def test_accuracy_table_has_one_row_per_model(uninterrupted):
    _, metrics = uninterrupted
    other = {**metrics, "model": "gru-L3-E50-H256-s1"}
    table = tables.accuracy_table([metrics, other])
    # Binary models alone: the table of before N classes, without the N-class columns.
    assert list(table.columns) == catalogue.TABLES["accuracy"].expected_columns([])
    assert table["model"].tolist() == [SPEC.id, "gru-L3-E50-H256-s1"]
    assert table.loc[1, ["layers", "embedding", "hidden", "seed"]].tolist() == [3, 50, 256, 1]
    assert table.loc[0, "test_accuracy"] == metrics["test_accuracy"]


def test_settings_name_an_unknown_key():
    with pytest.raises(ValueError, match="'epoch'"):
        training.Settings.from_config({"epoch": 3})


def test_cuda_device_without_cuda_is_refused():
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    assert model_lib.resolve_device("auto") == torch.device("cpu")
    with pytest.raises(ValueError, match="'cuda:0'"):
        model_lib.resolve_device("cuda:0")


def test_a_small_gru_learns_the_synthetic_rule(trained_synthetic_model):
    metrics = json.loads((trained_synthetic_model.parent / "metrics.json").read_text())
    assert metrics["test_accuracy"] > 0.95, metrics
    assert model_lib.load(trained_synthetic_model).spec.id == metrics["model"]


def test_the_train_rule_params_are_the_settings_less_device_and_threads():
    fields = {field.name for field in dataclasses.fields(training.Settings)}
    assert set(training.Settings().params()) == fields - {"device", "threads"}


def test_frozen_embeddings_stay_at_their_initial_vectors_while_the_rest_learns(uninterrupted, splits, tmp_path):
    folder, _ = uninterrupted
    metrics = run(tmp_path, splits, dataclasses.replace(SETTINGS, freeze_embeddings=True))
    initial, final = weights(tmp_path / "initial.pt"), weights(tmp_path / "model.pt")
    assert torch.equal(initial["embedding.weight"], final["embedding.weight"])
    assert not torch.equal(initial["readout.weight"], final["readout.weight"])
    # The default run moves its embedding.
    assert not torch.equal(initial["embedding.weight"], weights(folder / "model.pt")["embedding.weight"])
    assert metrics["test_accuracy"] > 0.6


def test_weight_decay_pulls_every_weight_towards_zero(uninterrupted, splits, tmp_path):
    folder, _ = uninterrupted
    run(tmp_path, splits, dataclasses.replace(SETTINGS, weight_decay=1.0))
    decayed, free = weights(tmp_path / "model.pt"), weights(folder / "model.pt")
    initial = weights(tmp_path / "initial.pt")
    # Adam moves each weight by about the learning rate a step (0.01, 48 steps): the penalty's
    # pull shows as norms below the undecayed run's and below the initial ones.
    for key in ("embedding.weight", "recurrent.weight_hh_l0", "readout.weight"):
        assert decayed[key].norm() < min(free[key].norm(), initial[key].norm()), key


def test_the_learning_rate_decays_each_epoch_and_a_resumed_run_keeps_its_schedule(uninterrupted, splits, tmp_path):
    decaying = dataclasses.replace(SETTINGS, learning_rate_decay=0.5)
    run(tmp_path / "full", splits, decaying)
    full = pd.read_parquet(tmp_path / "full" / "history.parquet").drop(columns=["seconds", "tokens_per_second"])
    assert full["learning_rate"].tolist() == pytest.approx([0.01, 0.005, 0.0025], rel=1e-12)
    constant = pd.read_parquet(uninterrupted[0] / "history.parquet")
    assert constant["learning_rate"].tolist() == pytest.approx([0.01] * 3, rel=1e-12)
    # The second epoch on is trained differently from the constant rate's.
    assert full["train_loss"].iloc[0] == constant["train_loss"].iloc[0]
    assert full["train_loss"].iloc[1] != constant["train_loss"].iloc[1]

    with pytest.raises(Killed):
        run(tmp_path / "resumed", splits, decaying, on_epoch_end=kill_after_first_epoch)
    (tmp_path / "resumed" / "initial.pt").unlink()  # Snakemake removes the outputs of a failed job
    run(tmp_path / "resumed", splits, decaying)
    assert_same_weights(weights(tmp_path / "resumed" / "model.pt"), weights(tmp_path / "full" / "model.pt"))
    resumed = pd.read_parquet(tmp_path / "resumed" / "history.parquet").drop(columns=["seconds", "tokens_per_second"])
    pd.testing.assert_frame_equal(resumed, full)
