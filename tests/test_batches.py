"""Batches (``data.batches``): split tables read back, reviews cut into length buckets, each padded to its longest."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from rnn_dynamics.data import batches
from rnn_dynamics.ground.grid import ModelSpec

LENGTHS = np.array([5, 1, 3, 3, 8, 2, 5, 3, 1, 7, 4, 6, 2])


def reviews(lengths=LENGTHS):
    """Review i: the tokens 100 i + 1, ..., 100 i + length, so every token says which review it is from."""
    tokens = np.concatenate([100 * i + np.arange(1, n + 1) for i, n in enumerate(lengths)]).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return batches.Reviews(tokens, offsets, (np.arange(len(lengths)) % 2).astype(np.float32))


def write_split(path, token_lists, labels, lengths=None):
    pq.write_table(
        pa.table({
            "id": [f"r{i}" for i in range(len(token_lists))],
            "label": pa.array(labels, pa.int8()),
            "length": pa.array(lengths if lengths is not None else [len(t) for t in token_lists], pa.int32()),
            "tokens": pa.array(token_lists, pa.list_(pa.int32())),
        }),
        path,
    )  # fmt: skip
    return path


@pytest.mark.parametrize("batch_size", [1, 4, 5, 13, 64])
def test_every_review_is_in_exactly_one_batch_of_neighbours_in_length(batch_size):
    ordered = batches.bucketed_batches(LENGTHS, batch_size)
    assert sorted(np.concatenate(ordered).tolist()) == list(range(len(LENGTHS)))
    assert (
        all(len(b) <= batch_size for b in ordered)
        and sum(len(b) == batch_size for b in ordered) >= len(LENGTHS) // batch_size
    )
    # Without a generator: the reviews sorted by length, ties in their order, cut in turn.
    assert np.concatenate(ordered).tolist() == np.argsort(LENGTHS, kind="stable").tolist()
    for seed in (0, 1):
        shuffled = batches.bucketed_batches(LENGTHS, batch_size, torch.Generator().manual_seed(seed))
        assert sorted(np.concatenate(shuffled).tolist()) == list(range(len(LENGTHS)))
        # Each batch is a run of the sorted lengths: no review between its shortest and longest is elsewhere.
        spans = sorted((LENGTHS[b].min(), LENGTHS[b].max()) for b in shuffled)
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))


def test_the_shuffled_batches_follow_the_generators_seed():
    lengths = np.random.default_rng(0).integers(1, 30, 200)

    def draw(seed):
        return [b.tolist() for b in batches.bucketed_batches(lengths, 16, torch.Generator().manual_seed(seed))]

    assert draw(3) == draw(3) and draw(3) != draw(4)


def test_a_padded_batch_holds_each_review_then_zeros():
    split = reviews()
    rows = np.array([4, 1, 9])
    tokens, lengths, labels = batches.padded_batch(split, rows, torch.device("cpu"))
    assert tokens.shape == (3, 8) and tokens.dtype == torch.int64
    assert lengths.tolist() == [8, 1, 7] and labels.tolist() == [0.0, 1.0, 1.0]
    for row, review in enumerate(rows):
        n = LENGTHS[review]
        assert tokens[row, :n].tolist() == (100 * review + np.arange(1, n + 1)).tolist()
        assert not tokens[row, n:].any()


def test_take_keeps_the_reviews_asked_in_that_order():
    taken = reviews().take(np.array([9, 0, 9]))
    assert taken.lengths.tolist() == [7, 5, 7] and len(taken) == 3
    assert taken.tokens[:7].tolist() == list(range(901, 908)) and taken.labels.tolist() == [1.0, 0.0, 1.0]
    assert len(reviews().take(np.array([], dtype=np.int64))) == 0


def test_a_smaller_training_fraction_trains_on_a_subset_of_a_larger_ones_reviews():
    assert batches.training_rows(10, 1.0, seed=0).tolist() == list(range(10))
    half, quarter = (set(batches.training_rows(1000, f, seed=2)) for f in (0.5, 0.25))
    assert len(half) == 500 and len(quarter) == 250 and quarter < half
    assert set(batches.training_rows(1000, 0.25, seed=3)) != quarter  # another seed, another subsample
    assert len(batches.training_rows(10, 0.01, seed=0)) == 1  # at least one review
    for fraction in (0, 1.5):
        with pytest.raises(ValueError, match=rf"models.train_fraction {fraction} is not in \(0, 1\]"):
            batches.training_rows(10, fraction, seed=0)
    train = reviews()
    spec = ModelSpec("gru", 1, 8, 8, 1, train_fraction=0.5)
    assert batches.trained_on(train, ModelSpec("gru", 1, 8, 8, 1)) is train
    assert batches.trained_on(train, spec).lengths.tolist() == LENGTHS[batches.training_rows(13, 0.5, 1)].tolist()


def test_a_split_table_is_read_back_and_its_faults_are_named(tmp_path):
    tokens = [[2, 3, 4], [5], [6, 7]]
    split = batches.read_split(write_split(tmp_path / "train.parquet", tokens, [1, 0, 1]), vocab_size=8)
    assert split.lengths.tolist() == [3, 1, 2] and split.tokens.tolist() == [2, 3, 4, 5, 6, 7]
    assert split.labels.tolist() == [1.0, 0.0, 1.0] and len(split.classes.names) == 2
    with pytest.raises(ValueError, match=r"token id 7 is outside the vocabulary of 7 words"):
        batches.read_split(tmp_path / "train.parquet", vocab_size=7)
    with pytest.raises(ValueError, match=r"empty.parquet: review r1 has no tokens"):
        batches.read_split(write_split(tmp_path / "empty.parquet", [[2], [], [3]], [0, 1, 0]))
    with pytest.raises(ValueError, match=r"length.parquet: review r0 has length 4 but 3 tokens"):
        batches.read_split(write_split(tmp_path / "length.parquet", tokens, [0, 1, 0], lengths=[4, 1, 2]))
    with pytest.raises(ValueError, match=r"label.parquet: column 'label' holds values other than 0 and 1"):
        batches.read_split(write_split(tmp_path / "label.parquet", tokens, [0, 2, 1]))
