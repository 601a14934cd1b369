"""Every registered architecture through the same classifier: per-layer states, systems, training."""

import numpy as np
import pytest
import torch

from helpers import token_batch
from rnn_dynamics.data import batches, synthetic
from rnn_dynamics.data.text import Vocabulary
from rnn_dynamics.ground.grid import ModelSpec
from rnn_dynamics.networks import cells, training
from rnn_dynamics.networks import model as model_lib

ARCHITECTURES = sorted(cells.CELLS)
VOCAB = Vocabulary.build(
    [list(synthetic.POSITIVE_WORDS + synthetic.NEGATIVE_WORDS + synthetic.NEUTRAL_WORDS + ("not", "very"))]
)


def make(architecture, layers=2):
    torch.manual_seed(0)
    return model_lib.SentimentClassifier(
        ModelSpec(architecture, layers, 6, 8, 0), 30, dropout=0.0, layer_dropout=0.0
    ).eval()


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_layer_states_systems_and_logits_agree(architecture):
    net = make(architecture)
    size = net.cell.state_size(8)
    tokens, lengths = token_batch(30)
    with torch.no_grad():
        states = [s.double() for s in net.layer_states(tokens, lengths)]
        assert [s.shape for s in states] == [(3, 9, size)] * 2
        # Each layer alone, stepped with its explicit equations, gives its states.
        inputs = net.embedding(tokens).double()
        for layer in (1, 2):
            system = net.system(f"layer{layer}")
            h = torch.zeros(3, size, dtype=torch.float64)
            for t in range(tokens.shape[1]):
                h = system.step(h, inputs[:, t])
                torch.testing.assert_close(h, states[layer - 1][:, t], atol=1e-5, rtol=0)
            inputs = system.readout(states[layer - 1])
        # The stack steps all layers jointly, and the readout of its top layer gives the logit.
        stack = net.system("stack")
        h = torch.zeros(3, 2 * size, dtype=torch.float64)
        for t in range(tokens.shape[1]):
            h = stack.step(h, net.embedding(tokens).double()[:, t])
        torch.testing.assert_close(h, torch.cat(states, dim=-1)[:, -1], atol=1e-5, rtol=0)
        w, b = net.readout_weights()
        top = stack.readout(torch.cat(states, dim=-1))[torch.arange(3), lengths - 1]
        torch.testing.assert_close(top.float() @ w + b, net(tokens, lengths), atol=1e-5, rtol=0)


def synthetic_split(count, seed):
    pairs = synthetic.reviews(
        count, min_length=6, max_length=12, seed=seed, task="ordered", classes=2, evidence_words=3
    )
    ids = [[VOCAB.index[word] for word in tokens] for tokens, _ in pairs]
    offsets = np.concatenate([[0], np.cumsum([len(t) for t in ids])]).astype(np.int64)
    labels = np.array([label for _, label in pairs], dtype=np.float32)
    return batches.Reviews(np.concatenate(ids).astype(np.int64), offsets, labels)


@pytest.fixture(scope="module")
def splits():
    return {"train": synthetic_split(512, 0), "valid": synthetic_split(128, 1), "test": synthetic_split(128, 2)}


@pytest.mark.train
@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_each_architecture_trains_through_the_training_loop(architecture, splits, tmp_path):
    spec = ModelSpec(architecture, 1, 8, 16, 0, batch_size=32)
    settings = training.Settings(epochs=12, learning_rate=0.02, dropout=0.0, device="cpu", threads=1)
    outputs = training.Outputs(
        *(tmp_path / name for name in ("initial.pt", "model.pt", "history.parquet", "metrics.json", "checkpoint.pt"))
    )
    embeddings = np.random.default_rng(0).normal(size=(len(VOCAB), 8)).astype(np.float32)
    metrics = training.train(spec, splits, embeddings, settings, outputs)
    # Chance is 0.5; a vanilla RNN is the slowest learner here (0.77 after 12 epochs).
    assert metrics["test_accuracy"] > 0.7, metrics
    assert model_lib.load(outputs.final).spec == spec


@pytest.mark.train
def test_vanilla_rnn_learns_the_synthetic_set(prepared_synthetic_large, tmp_path):
    """With clipping and its own learning rate (docs/training-notes.md), a vanilla RNN learns the quick-look rule."""
    import pyarrow.parquet as pq

    from rnn_dynamics.data import embeddings

    spec = ModelSpec("vanilla", 1, 16, 32, 0)
    splits = {
        split: batches.read_split(prepared_synthetic_large / f"{split}.parquet") for split in ("train", "valid", "test")
    }
    matrix = embeddings.build(
        pq.read_table(prepared_synthetic_large / "vocab.parquet"), "random", spec.embedding, seed=0
    )
    settings = training.Settings(
        epochs=30, learning_rate=0.01, architecture_learning_rates={"vanilla": 0.005}, max_grad_norm=1.0,
        dropout=0.1, device="cpu", threads=1,
    )  # fmt: skip
    assert settings.learning_rate_for("vanilla") == 0.005 and settings.learning_rate_for("gru") == 0.01
    outputs = training.Outputs(
        *(tmp_path / name for name in ("initial.pt", "model.pt", "history.parquet", "metrics.json", "checkpoint.pt"))
    )
    metrics = training.train(spec, splits, matrix, settings, outputs)
    assert metrics["test_accuracy"] > 0.9, metrics
