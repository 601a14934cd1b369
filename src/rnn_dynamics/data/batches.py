"""The prepared splits in memory, and the batches a network reads them in.

A split table (``results/{dataset}/data/{train,valid,test}.parquet``: id, label,
length, tokens) is read into :class:`Reviews`, every review's token ids stored
flat. Reviews are sorted by length and cut into batches (``bucketed_batches``), so
a batch pads little, and each batch is padded with zeros to its longest review
(``padded_batch``): the plain (cuDNN on a GPU) recurrent module runs on the padded
batch far faster than on packed sequences, and the padding after a review's end
cannot change its outputs. Training, the hidden states and the analyses all read
reviews this way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import torch

from rnn_dynamics.data.datasets.schema import BINARY, LABEL_TYPES, Classes, read_classes
from rnn_dynamics.ground.grid import ModelSpec
from rnn_dynamics.ground.storage import SchemaError, read_table, remake_hint

__all__ = [
    "MIN_TRAINING_REVIEWS_PER_LABEL",
    "SPLIT_SCHEMA",
    "Reviews",
    "bucketed_batches",
    "padded_batch",
    "read_split",
    "trained_on",
    "training_rows",
]

# The fewest reviews of each label a model's share of the training split (models.train_fraction below 1) may
# hold: with none a label is never seen, with one it is learnt by heart and the training accuracy says nothing.
MIN_TRAINING_REVIEWS_PER_LABEL = 2

# The label is int8 (two classes) or int16 (more): ``datasets.LABEL_TYPES``, checked by ``read_split``.
SPLIT_SCHEMA = {"id": pa.string(), "label": None, "length": pa.int32(), "tokens": pa.list_(pa.int32())}


@dataclass(frozen=True)
class Reviews:
    """Token ids of ``n`` reviews stored flat, with their labels.

    Review ``i`` is ``tokens[offsets[i]:offsets[i + 1]]``.
    """

    tokens: np.ndarray  # int64 (total tokens,)
    offsets: np.ndarray  # int64 (n + 1,)
    labels: np.ndarray  # float32 (n,), the class index: 0 negative, 1 positive for two classes
    classes: Classes = BINARY  # the split table's (``datasets.read_classes``)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, rows: np.ndarray) -> "Reviews":
        """The reviews ``rows`` (indices), in that order."""
        rows = np.asarray(rows, dtype=np.int64)
        lengths = self.lengths[rows]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        parts = [self.tokens[self.offsets[row] : self.offsets[row + 1]] for row in rows]
        tokens = np.concatenate(parts) if parts else self.tokens[:0]
        return Reviews(tokens, offsets, self.labels[rows], self.classes)


def training_rows(n_reviews: int, fraction: float, seed: int) -> np.ndarray:
    """Sorted rows of the training split that a model of training fraction ``fraction`` and seed ``seed`` is
    trained on: the first ``round(fraction * n_reviews)`` (at least one) of a permutation drawn with ``seed``, so
    that for one seed a smaller fraction's rows lie inside a larger one's; every row at fraction 1."""
    if not 0 < fraction <= 1:
        raise ValueError(f"models.train_fraction {fraction!r} is not in (0, 1]")
    if fraction == 1:
        return np.arange(n_reviews)
    count = max(1, round(fraction * n_reviews))
    return np.sort(np.random.default_rng(seed).permutation(n_reviews)[:count])


def trained_on(train: Reviews, spec: ModelSpec) -> Reviews:
    """The reviews of the training split ``train`` that ``spec`` is trained on (``training_rows``).

    Raises ValueError, naming the model id, the counts and ``models.train_fraction``, where a fraction below 1
    leaves fewer than ``MIN_TRAINING_REVIEWS_PER_LABEL`` reviews of a label (the whole split's labels are
    checked by ``prepare``). Training calls this before its first step.
    """
    if spec.train_fraction == 1:
        return train
    rows = training_rows(len(train), spec.train_fraction, spec.seed)
    counts = np.bincount(train.labels[rows].astype(np.int64), minlength=len(train.classes))
    short = {
        name: int(count) for name, count in zip(train.classes.names, counts) if count < MIN_TRAINING_REVIEWS_PER_LABEL
    }
    if short:
        raise ValueError(
            f"{spec.id}: models.train_fraction {spec.train_fraction:g} trains on {len(rows)} of the {len(train)} "
            f"reviews of the training split, with too few reviews of label(s) {short} (at least "
            f"{MIN_TRAINING_REVIEWS_PER_LABEL} of each are needed); raise models.train_fraction to at least "
            f"{_enough_fraction(train, spec.seed):g}"
        )
    return train.take(rows)


def _enough_fraction(train: Reviews, seed: int) -> float:
    """The least fraction (rounded up to three decimals) whose subset for ``seed`` holds
    ``MIN_TRAINING_REVIEWS_PER_LABEL`` reviews of every label of ``train``."""
    order = np.random.default_rng(seed).permutation(len(train))  # training_rows' permutation
    labels = train.labels[order].astype(np.int64)
    seen = np.zeros(len(train.classes), dtype=np.int64)
    for count, label in enumerate(labels, start=1):
        seen[label] += 1
        if (seen >= MIN_TRAINING_REVIEWS_PER_LABEL).all():
            return min(1.0, np.ceil(count / len(train) * 1000) / 1000)
    return 1.0


def read_split(path: str | os.PathLike, vocab_size: int | None = None) -> Reviews:
    """A split table (id, label, length, tokens) with its classes, checked for empty reviews, labels outside
    its classes and unknown token ids."""
    table = read_table(path, SPLIT_SCHEMA, columns=["id", "label", "length", "tokens"])
    if table.schema.field("label").type not in LABEL_TYPES:
        raise SchemaError(
            f"{path}: column 'label' has type {table.schema.field('label').type}, expected one of "
            f"{[str(type_) for type_ in LABEL_TYPES]}{remake_hint(path)}"
        )
    classes = read_classes(path)
    tokens = table.column("tokens").combine_chunks()
    offsets = tokens.offsets.to_numpy().astype(np.int64)
    flat = tokens.values.to_numpy().astype(np.int64)
    reviews = Reviews(flat, offsets - offsets[0], table.column("label").to_numpy().astype(np.float32), classes)
    ids = table.column("id")
    lengths = reviews.lengths
    if not np.array_equal(lengths, table.column("length").to_numpy()):
        row = int(np.flatnonzero(lengths != table.column("length").to_numpy())[0])
        raise ValueError(f"{path}: review {ids[row]} has length {table['length'][row]} but {lengths[row]} tokens")
    if (lengths == 0).any():
        raise ValueError(f"{path}: review {ids[int(np.flatnonzero(lengths == 0)[0])]} has no tokens")
    if not np.isin(reviews.labels, np.arange(len(classes))).all():
        expected = "0 and 1" if len(classes) == 2 else f"0 to {len(classes) - 1} (its {len(classes)} classes)"
        raise ValueError(f"{path}: column 'label' holds values other than {expected}")
    if vocab_size is not None and len(flat) and flat.max() >= vocab_size:
        raise ValueError(f"{path}: token id {flat.max()} is outside the vocabulary of {vocab_size} words")
    return reviews


def bucketed_batches(
    lengths: np.ndarray, batch_size: int, generator: torch.Generator | None = None
) -> list[np.ndarray]:
    """Review indices in batches of similar length.

    Reviews are sorted by length and cut into consecutive batches. With a
    ``generator``, reviews of equal length are ordered at random and the batches
    are shuffled; without one the order is fixed (for evaluation).
    """
    if generator is None:
        order = np.argsort(lengths, kind="stable")
    else:
        permutation = torch.randperm(len(lengths), generator=generator).numpy()
        order = permutation[np.argsort(lengths[permutation], kind="stable")]
    batches = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    if generator is not None:
        batches = [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]
    return batches


def padded_batch(reviews: Reviews, indices: np.ndarray, device: torch.device) -> tuple[torch.Tensor, ...]:
    """tokens (B, T) 0-padded to the longest review, lengths (B,) and labels (B,) on ``device``."""
    lengths = reviews.lengths[indices]
    tokens = np.zeros((len(indices), lengths.max()), dtype=np.int64)
    for row, review in enumerate(indices):
        tokens[row, : lengths[row]] = reviews.tokens[reviews.offsets[review] : reviews.offsets[review + 1]]
    tensors = (torch.from_numpy(tokens), torch.from_numpy(lengths), torch.from_numpy(reviews.labels[indices]))
    if device.type == "cuda":
        # Pinned host memory lets the copy overlap with the GPU's work.
        return tuple(t.pin_memory().to(device, non_blocking=True) for t in tensors)
    return tensors
