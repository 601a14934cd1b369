"""Hidden-state extraction, the streaming PCA, the Parquet dumps and the state figures."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from sklearn.decomposition import PCA as SklearnPCA

from rnn_dynamics.data import datasets, synthetic, text
from rnn_dynamics.data.batches import padded_batch, read_split
from rnn_dynamics.dynamics import states
from rnn_dynamics.dynamics.pca import fit as fit_pca
from rnn_dynamics.ground import storage
from rnn_dynamics.ground.grid import ModelSpec
from rnn_dynamics.networks import training
from rnn_dynamics.networks.model import SentimentClassifier, load
from rnn_dynamics.outputs import tables
from rnn_dynamics.outputs.figures import states as figures

VOCAB_SIZE = 40


def correlated(n: int, dim: int, seed: int, offset: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    scales = np.geomspace(3.0, 0.01, dim)
    rotation, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    return (rng.normal(size=(n, dim)) * scales) @ rotation + offset


def streamed(x: np.ndarray, batch_sizes=(1, 7, 50, 200)) -> states.PCA:
    """The streaming PCA of ``x`` fed in uneven batches, alternating numpy and torch."""
    stream = states.StreamingPCA(x.shape[1])
    start, i = 0, 0
    while start < len(x):
        batch = x[start : start + batch_sizes[i % len(batch_sizes)]]
        stream.update(torch.from_numpy(batch) if i % 2 else batch)
        start += len(batch)
        i += 1
    return stream.fit()


def assert_matches_sklearn(pca: states.PCA, x: np.ndarray, rtol: float) -> None:
    reference = SklearnPCA(svd_solver="full").fit(x)
    assert pca.n_states == len(x)
    np.testing.assert_allclose(pca.mean, reference.mean_, rtol=rtol)
    np.testing.assert_allclose(pca.explained_variance, reference.explained_variance_, rtol=rtol)
    np.testing.assert_allclose(pca.explained_variance_ratio, reference.explained_variance_ratio_, rtol=rtol)
    np.testing.assert_allclose(pca.components, reference.components_, atol=rtol)


def test_streaming_pca_equals_sklearn():
    x = correlated(600, 6, seed=0)
    assert_matches_sklearn(streamed(x), x, rtol=1e-9)


def test_streaming_pca_equals_sklearn_far_from_the_origin():
    # Sums of raw outer products would lose the small variances to cancellation at this offset.
    x = correlated(600, 6, seed=1, offset=1e6)
    assert_matches_sklearn(streamed(x), x, rtol=1e-6)


def test_the_pca_of_states_in_memory_equals_the_streaming_one_and_sklearn():
    """``pca.fit`` (the figures' PCA of a stack's joint states, without torch) holds the streaming PCA's
    convention, near the origin and far from it."""
    for x, rtol in ((correlated(600, 6, seed=0), 1e-9), (correlated(600, 6, seed=1, offset=1e6), 1e-6)):
        in_memory = fit_pca(x)
        assert_matches_sklearn(in_memory, x, rtol=rtol)
        np.testing.assert_allclose(in_memory.components, streamed(x).components, atol=rtol)
    with pytest.raises(ValueError, match="at least 2"):
        fit_pca(np.zeros((1, 3)))


def test_streaming_pca_rejects_wrong_shapes():
    stream = states.StreamingPCA(4)
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        stream.update(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="at least 2"):
        stream.fit()


def test_pca_table_round_trip(tmp_path):
    x = correlated(100, 5, seed=2)
    pcas = {("trained", 1): streamed(x), ("untrained", 1): streamed(x[::-1].copy())}
    storage.write_table(states.pca_table(pcas), tmp_path / "pca.parquet")
    back = states.read_pca(tmp_path / "pca.parquet")
    assert set(back) == set(pcas)
    for key, pca in pcas.items():
        np.testing.assert_array_equal(back[key].components, pca.components)
        np.testing.assert_array_equal(back[key].explained_variance_ratio, pca.explained_variance_ratio)
        assert back[key].n_states == 100


# ---------------------------------------------------------------------------
# Extraction on a tiny generated split


def write_split(path, n_reviews: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 15, size=n_reviews)
    storage.write_table(
        pa.table(
            {
                "id": [f"r{i}" for i in range(n_reviews)],
                "label": pa.array(rng.integers(0, 2, size=n_reviews), pa.int8()),
                "length": pa.array(lengths, pa.int32()),
                "tokens": pa.array(
                    [rng.integers(2, VOCAB_SIZE, size=n).tolist() for n in lengths], pa.list_(pa.int32())
                ),
            }
        ),
        path,
    )


def tiny_model(seed: int, layers: int = 2) -> SentimentClassifier:
    torch.manual_seed(seed)
    return SentimentClassifier(ModelSpec("gru", layers, 8, 6, seed), VOCAB_SIZE, dropout=0.0, layer_dropout=0.0).eval()


@pytest.fixture
def split(tmp_path):
    write_split(tmp_path / "test.parquet", 23)
    return read_split(tmp_path / "test.parquet")


def test_dump_schema_row_counts_and_pca_cover_every_state(tmp_path, split):
    trained, untrained = tiny_model(0), tiny_model(1)
    sample = states.sample_reviews(len(split), 9, seed=0)
    pcas = states.extract(trained, untrained, split, tmp_path / "states", sample, batch_size=4, progress=False)

    assert sorted(p.name for p in (tmp_path / "states").iterdir()) == ["layer1.parquet", "layer2.parquet"]
    for layer in (1, 2):
        path = tmp_path / "states" / f"layer{layer}.parquet"
        assert pq.read_schema(path) == states.layer_schema(6)
        table = pq.read_table(path).sort_by([("review", "ascending"), ("t", "ascending")])
        assert table.num_rows == split.lengths[sample].sum()
        assert sorted(set(table.column("review").to_pylist())) == sample.tolist()
        assert pq.ParquetFile(path).num_row_groups > 1  # written batch by batch
        # The dumped states are the trained model's, at every non-padding position.
        review = int(sample[0])
        tokens, lengths, _ = padded_batch(split, np.array([review]), torch.device("cpu"))
        with torch.no_grad():
            expected = trained.layer_states(tokens, lengths)[layer - 1][0].numpy()
        rows = states.read_layer(path)
        got = rows["h"][rows["review"] == review][np.argsort(rows["t"][rows["review"] == review])]
        np.testing.assert_allclose(got, expected, atol=1e-6)
        assert (rows["label"][rows["review"] == review] == split.labels[review]).all()
    for weights in states.WEIGHTS:
        for layer in (1, 2):
            assert pcas[weights, layer].n_states == split.lengths.sum()


def test_pca_of_extraction_equals_sklearn_on_all_untrained_states(tmp_path, split):
    untrained = tiny_model(1)
    pcas = states.extract(
        tiny_model(0), untrained, split, tmp_path / "states", np.arange(1), batch_size=5, progress=False
    )
    every = []
    for review in range(len(split)):
        tokens, lengths, _ = padded_batch(split, np.array([review]), torch.device("cpu"))
        with torch.no_grad():
            every.append(untrained.layer_states(tokens, lengths)[1][0].double().numpy())
    assert_matches_sklearn(pcas["untrained", 2], np.concatenate(every), rtol=1e-5)


def test_sample_all_dumps_every_review(tmp_path, split):
    model = tiny_model(0, layers=1)
    states.extract(
        model, model, split, tmp_path / "all", states.sample_reviews(len(split), "all", 0), 8, progress=False
    )
    assert pq.read_metadata(tmp_path / "all" / "layer1.parquet").num_rows == split.lengths.sum()


def test_sample_reviews():
    assert states.sample_reviews(5, "all", 0).tolist() == [0, 1, 2, 3, 4]
    assert states.sample_reviews(5, 10, 0).tolist() == [0, 1, 2, 3, 4]
    sample = states.sample_reviews(100, 7, seed=3)
    assert len(sample) == 7 and len(set(sample)) == 7 and (np.diff(sample) > 0).all()
    assert sample.tolist() == states.sample_reviews(100, 7, seed=3).tolist()
    assert sample.tolist() != states.sample_reviews(100, 7, seed=4).tolist()
    with pytest.raises(ValueError, match="sample_reviews"):
        states.sample_reviews(5, 0, 0)


def tiny_vocabulary() -> dict[str, int]:
    return text.Vocabulary([text.PAD, text.UNK] + [f"w{i}" for i in range(2, VOCAB_SIZE)], [0] * VOCAB_SIZE).index


def test_example_states_follow_the_model(tmp_path):
    model = tiny_model(0)
    table = states.example_states(model, {"good": "w3 w4 unseen w5", "bad": "w9 w8"}, tiny_vocabulary(), max_length=3)
    storage.write_table(table, tmp_path / "examples.parquet")
    examples = states.read_examples(tmp_path / "examples.parquet")
    good = examples[(examples["name"] == "good") & (examples["layer"] == 2)].sort_values("t")
    assert good["token"].tolist() == ["w3", "w4", "unseen"]  # cut at max_length; unknown words keep their spelling
    tokens = torch.tensor([[3, 4, text.UNK_INDEX]])
    lengths = torch.tensor([3])
    with torch.no_grad():
        np.testing.assert_allclose(
            np.stack(good["h"].to_numpy()), model.layer_states(tokens, lengths)[1][0].numpy(), atol=1e-6
        )
        assert good["probability"].iloc[0] == pytest.approx(torch.sigmoid(model(tokens, lengths)).item())
    assert len(examples) == 2 * (3 + 2)
    with pytest.raises(ValueError, match="states.examples.empty"):
        states.example_states(model, {"empty": "   "}, tiny_vocabulary(), max_length=None)


def test_write_hidden_states_writes_the_rule_outputs(tmp_path, split):
    trained, untrained = tiny_model(0), tiny_model(1)
    settings = states.Settings(sample_reviews=9, seed=0, batch_size=4, examples={"good": "w3 w4 w5"})
    outputs = {
        "states": tmp_path / "states",
        "pca": tmp_path / "pca.parquet",
        "examples": tmp_path / "examples.parquet",
    }
    pcas = states.write_hidden_states(
        trained, untrained, split, tiny_vocabulary(), settings, outputs, max_length=None, progress=False
    )
    expected = states.extract(
        trained, untrained, split, tmp_path / "again", states.sample_reviews(len(split), 9, 0), 4, False
    )
    assert pcas.keys() == expected.keys() and all(
        np.array_equal(pcas[k].components, expected[k].components) for k in pcas
    )
    assert states.read_pca(outputs["pca"]).keys() == pcas.keys()
    assert pq.read_table(outputs["states"] / "layer1.parquet").equals(
        pq.read_table(tmp_path / "again" / "layer1.parquet")
    )
    assert len(states.read_examples(outputs["examples"])) == 2 * 3


def test_explained_variance_table(tmp_path):
    x = correlated(100, 5, seed=2)
    # Two models' states of the test split (untagged) and one model's of the train split.
    for name in ("gru-L1-E8-H5-s0", "gru-L1-E8-H5-s1", "gru-L1-E8-H5-s0@train"):
        pcas = {("trained", 1): streamed(x), ("untrained", 1): streamed(np.random.default_rng(0).normal(size=(100, 5)))}
        storage.write_table(states.pca_table(pcas), tmp_path / f"{name}.parquet")
    table = tables.explained_variance_table({p.stem: p for p in sorted(tmp_path.glob("*.parquet"))})
    assert list(table.columns) == ["model", "split", "layer", "weights", "explained_1", "explained_2", "explained_3"]
    assert len(table) == 6
    assert table[["model", "split"]].drop_duplicates().values.tolist() == [
        ["gru-L1-E8-H5-s0", "test"], ["gru-L1-E8-H5-s0", "train"], ["gru-L1-E8-H5-s1", "test"]
    ]  # fmt: skip
    assert set(tables.trained_explained_variance({p.stem: p for p in tmp_path.glob("*.parquet")})) == {
        ("gru-L1-E8-H5-s0", 1), ("gru-L1-E8-H5-s1", 1)
    }  # fmt: skip
    trained = table[table["weights"] == "trained"].iloc[0]
    assert trained["explained_1"] < trained["explained_2"] < trained["explained_3"] <= 1
    assert trained["explained_2"] == pytest.approx(streamed(x).explained_variance_ratio[:2].sum())


def test_figures_are_written(tmp_path, split):
    model = tiny_model(0)
    pcas = states.extract(model, tiny_model(1), split, tmp_path / "states", np.arange(len(split)), 8, progress=False)
    examples = states.example_states(
        model, {"positive": "w3 w4 w5 w6", "negative": "w9 w8 w7"}, tiny_vocabulary(), max_length=None
    )
    storage.write_table(examples, tmp_path / "examples.parquet")
    figures.explained_variance(pcas, model.spec.id, tmp_path / "figures" / "explained_variance.png")
    figures.pca_trajectories(
        pcas,
        tmp_path / "states",
        states.read_examples(tmp_path / "examples.parquet"),
        model.spec.id,
        tmp_path / "figures" / "pca_trajectories.png",
        seed=0,
        max_points=50,
    )
    for name in ("explained_variance", "pca_trajectories"):
        for suffix in (".png", ".pdf"):
            assert (tmp_path / "figures" / f"{name}{suffix}").stat().st_size > 1000


@pytest.fixture(scope="module")
def trained_on_synthetic(tmp_path_factory):
    """A small GRU trained on the synthetic dataset: (initial model, trained model, test split).

    1000 reviews per split: with fewer the network memorises its training reviews.
    """
    folder = tmp_path_factory.mktemp("trained_on_synthetic")
    synthetic.write_archive(folder / "synthetic.tar.gz", synthetic.Settings(reviews_per_split=1000, seed=0))
    tables = {name: folder / f"{name}.parquet" for name in ("train", "valid", "test", "vocab")}
    datasets.prepare(
        datasets.read_archive(folder / "synthetic.tar.gz"),
        tables,
        datasets.PrepareSettings(valid_fraction=0.2, split_seed=0),
    )
    vocab_size = pq.read_metadata(tables["vocab"]).num_rows
    splits = {name: read_split(tables[name], vocab_size) for name in ("train", "valid", "test")}
    embeddings = np.random.default_rng(0).normal(size=(vocab_size, 16)).astype(np.float32)
    outputs = training.Outputs(
        *(folder / name for name in ("initial.pt", "model.pt", "history.parquet", "metrics.json", "checkpoint.pt"))
    )
    settings = training.Settings(epochs=12, learning_rate=0.01, dropout=0.0, device="cpu", threads=1)
    metrics = training.train(ModelSpec("gru", 1, 16, 16, 0, batch_size=32), splits, embeddings, settings, outputs)
    assert metrics["test_accuracy"] > 0.9, metrics
    return load(outputs.initial), load(outputs.final), splits["test"]


def test_training_concentrates_the_states_on_fewer_components(trained_on_synthetic, tmp_path):
    """The paper's first finding: a trained network's states are lower-dimensional than an untrained one's."""
    untrained, trained, test = trained_on_synthetic
    pcas = states.extract(trained, untrained, test, tmp_path / "states", np.arange(10), batch_size=64, progress=False)
    assert pcas["trained", 1].cumulative(2) > pcas["untrained", 1].cumulative(2) + 0.1
