"""``prepare``: a review table into the token tables every later stage reads.

The train split is divided into train and valid (``stratified_holdout``), every review is tokenised once,
the vocabulary counts the training reviews only, and ``{train,valid,test}.parquet`` (id, label, length,
tokens) and ``vocab.parquet`` are written, after every split is checked to hold every class, with the data
card (``card.json``, ``datasets.card``) where one is asked for.
"""

from __future__ import annotations

import array
import itertools
import json
import logging
import os
from collections import defaultdict
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pyarrow as pa
from tqdm import tqdm

from rnn_dynamics.data.datasets.card import data_card, warn_of_artefacts
from rnn_dynamics.data.datasets.schema import (
    INPUTS_KEY,
    LABEL_COLUMN_KEY,
    LABEL_TYPES,
    REVIEWS_SCHEMA,
    SPLITS,
    LabelError,
    classes_of,
    tokens_schema,
    with_classes,
)
from rnn_dynamics.data.text import UNK_INDEX, Vocabulary, tokenize
from rnn_dynamics.ground import config, storage

__all__ = [
    "LONG_REVIEW_FACTOR",
    "LONG_REVIEW_TOKENS",
    "TRAINING_BYTES_PER_STEP",
    "PrepareSettings",
    "prepare",
    "stratified_holdout",
]

log = logging.getLogger(__name__)

# A review is very long, and warned of, when it has more tokens than LONG_REVIEW_TOKENS and than
# LONG_REVIEW_FACTOR times the 95th percentile of the lengths: its training batch is padded to its length.
LONG_REVIEW_FACTOR = 10
LONG_REVIEW_TOKENS = 1000
# Training memory per step of a batch's padded length at the default sizes (GRU, one layer, hidden 256,
# embedding 100, batch 64, on a CPU; docs/troubleshooting.md), for the warning's estimate.
TRAINING_BYTES_PER_STEP = 780_000


def stratified_holdout(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A boolean mask choosing ``round(fraction * n)`` of the rows of each label, at random."""
    rng = np.random.default_rng(seed)
    held_out = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        held_out[rng.permutation(rows)[: round(fraction * len(rows))]] = True
    return held_out


def _tokenize_all(texts: list[str], max_length: int | None):
    """Tokenize every review once into provisional word ids (first-seen order).

    Returns (ids int32 array of all tokens, lengths, words by provisional id). Keeping
    ids rather than millions of token strings keeps memory small; the vocabulary,
    built later from the training rows only, remaps them.
    """
    words = defaultdict(itertools.count().__next__)
    word_id = words.__getitem__
    ids = array.array("i")
    lengths = np.empty(len(texts), dtype=np.int32)
    for row, text in enumerate(tqdm(texts, desc="tokenizing", unit=" reviews", mininterval=5)):
        tokens = tokenize(text)[:max_length]
        ids.extend(map(word_id, tokens))
        lengths[row] = len(tokens)
    return np.frombuffer(ids, dtype=np.int32), lengths, list(words)


def _token_table(reviews: pa.Table, ids: np.ndarray, offsets: np.ndarray, lengths: np.ndarray, rows) -> pa.Table:
    """The token table of ``rows`` of ``reviews``; review r's ids are ``ids[offsets[r]:][:lengths[r]]``."""
    row_lengths = lengths[rows]
    list_offsets = np.concatenate([[0], np.cumsum(row_lengths, dtype=np.int64)])
    # Position of each output token in `ids`: its review's start there plus its place in the review.
    shift = np.repeat(offsets[rows] - list_offsets[:-1], row_lengths)
    values = ids[np.arange(len(shift)) + shift]
    return pa.table(
        [
            reviews.column("id").take(rows),
            reviews.column("label").take(rows),
            pa.array(row_lengths, pa.int32()),
            pa.ListArray.from_arrays(pa.array(list_offsets.astype(np.int32)), pa.array(values, pa.int32())),
        ],
        schema=tokens_schema(reviews.schema.field("label").type),
    )


@dataclass(frozen=True)
class PrepareSettings(config.Section, section="prepare"):
    """The ``prepare`` section of the config; a key left out takes the schema's default."""

    valid_fraction: float
    split_seed: int
    # Most frequent training words kept, specials excluded (None: all).
    max_vocab: int | None
    min_count: int
    # Reviews are cut to their first max_length tokens (None: kept whole).
    max_length: int | None


def _inputs(reviews: pa.Table) -> list[str]:
    """The files a review table was read from, as ``read_reviews`` records them (none for another table)."""
    recorded = (reviews.schema.metadata or {}).get(INPUTS_KEY)
    return json.loads(recorded) if recorded else []


def _sources(reviews: pa.Table) -> dict[str, str]:
    """Where each split's reviews come from: the train and the test file (one file for both, or the archive)."""
    inputs = [str(path) for path in _inputs(reviews)]
    return {"train": inputs[0], "test": inputs[-1]} if inputs else {"train": "the review table", "test": "it"}


def _check_classes(
    labels: np.ndarray, rows: Mapping[str, np.ndarray], outputs, reviews: pa.Table, valid_fraction
) -> None:
    """Raise a LabelError, before anything is written, when a split lacks a class: a classifier cannot learn
    a class its training split lacks, nor be judged on a validation or test split without one (scikit-learn's
    fits in ``analyze`` fail on it, long after training).

    The error names the split's file, the input it comes from (and the label column, for a table file) and
    the count of every class in it (with the class's name, for N classes).
    """
    classes = classes_of(reviews.schema, "the review table")
    outside = np.flatnonzero((labels < 0) | (labels >= len(classes)))
    if len(outside):
        raise LabelError(f"the review table has label {labels[outside[0]]}, outside its {len(classes)} classes")
    source = _sources(reviews)
    column = (reviews.schema.metadata or {}).get(LABEL_COLUMN_KEY)
    for name, split_rows in rows.items():
        counts = np.bincount(labels[split_rows].astype(np.int64), minlength=len(classes))
        missing = [label for label in range(len(classes)) if counts[label] == 0]
        if not missing:
            continue
        found = ", ".join(
            f"label {label}{'' if len(classes) == 2 else f' ({classes.names[label]})'}: {counts[label]}"
            for label in range(len(classes))
        )
        origin = source["test" if name == "test" else "train"]
        labels_in = origin if column is None else f"column {column.decode()!r} of {origin}"
        where = (
            f"drawn from the train reviews of {origin} (prepare.valid_fraction {valid_fraction})"
            if name == "valid"
            else f"from {origin}"
        )
        advice = ", or raise prepare.valid_fraction" if name == "valid" else ""
        raise LabelError(
            f"{outputs[name]}: the {name} split, {where}, has no review of label {missing} ({found}); every split "
            f"needs every label: check the labels in {labels_in}{advice}"
        )


def _check_nonempty(rows: Mapping[str, np.ndarray], outputs, reviews: pa.Table, dropped, valid_fraction) -> None:
    """Raise a ValueError naming the split's file and the input it comes from when a split has no review."""
    source = _sources(reviews)
    counts = {name: len(split_rows) for name, split_rows in rows.items()}
    for name, split_rows in rows.items():
        if len(split_rows):
            continue
        origin = source["test" if name == "test" else "train"]
        if name == "valid":
            cause = f"too few train reviews of a label for prepare.valid_fraction {valid_fraction}"
        else:
            cause = f"its {dropped[name]} reviews have no words" if dropped[name] else "it has no reviews"
        raise ValueError(f"{outputs[name]}: the {name} split is empty ({counts} reviews, from {origin}): {cause}")


def _warn_of_long_reviews(reviews: pa.Table, lengths: np.ndarray) -> None:
    """Warn when the longest review is very long (``LONG_REVIEW_TOKENS``, ``LONG_REVIEW_FACTOR``), with the
    training memory its padded batch costs at the default sizes."""
    if not len(lengths):
        return
    longest = int(np.argmax(lengths))
    tokens, typical = int(lengths[longest]), float(np.percentile(lengths, 95))
    if tokens <= max(LONG_REVIEW_TOKENS, LONG_REVIEW_FACTOR * typical):
        return
    log.warning(
        "review %s has %d tokens, %.0f times the 95th percentile of the lengths (%d): training pads its batch to "
        "%d steps, about %.1f GB of memory at hidden 256 and batch 64 (more with more layers or a larger hidden "
        "size; docs/troubleshooting.md). Set prepare.max_length to cut reviews to their first tokens",
        reviews.column("id")[longest].as_py(), tokens, tokens / max(typical, 1), typical, tokens,
        tokens * TRAINING_BYTES_PER_STEP / 1e9,
    )  # fmt: skip


def prepare(reviews: pa.Table, outputs: Mapping[str, str | os.PathLike], settings: PrepareSettings) -> dict:
    """Write the token tables and the vocabulary of a review table.

    The train split is divided into train and valid (``valid_fraction``, stratified by
    label, ``split_seed``); the vocabulary counts the (truncated) training reviews
    only; reviews are cut to their first ``max_length`` tokens. ``outputs`` maps
    ``train``, ``valid``, ``test`` and ``vocab`` to paths, and ``card`` to the data card's, where one is
    wanted (``datasets.card``; its artefacts, where any, are warned of). Reviews with no tokens are
    dropped (a classifier reads the state at the last token), with a warning; a very long review
    is warned of, with the training memory it costs. Every split must hold a review, and every label
    (see ``_check_classes``): an error names the split's file and the input it came from
    (``read_reviews`` records the inputs in the table's metadata). An N-class review table's classes
    (its metadata, ``Classes``) go into the metadata of every split table. Returns row counts, the
    vocabulary size and ``dropped_empty``, the number of reviews dropped.
    """
    expected = {**dict(zip(REVIEWS_SCHEMA.names, REVIEWS_SCHEMA.types)), "label": None}  # int8 or int16
    storage.check_schema(reviews.schema, expected, "review table")
    if reviews.schema.field("label").type not in LABEL_TYPES:
        raise storage.SchemaError(
            f"review table: column 'label' has type {reviews.schema.field('label').type}, expected one of "
            f"{[str(type_) for type_ in LABEL_TYPES]}"
        )
    classes = classes_of(reviews.schema, "the review table")
    valid_fraction = settings.valid_fraction
    texts = reviews.column("text").to_pylist()
    ids, lengths, words = _tokenize_all(texts, settings.max_length)
    offsets = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)[:-1]])
    labels = reviews.column("label").to_numpy()
    split = reviews.column("split").to_numpy(zero_copy_only=False)
    nonempty = lengths > 0
    dropped = {name: int(((split == name) & ~nonempty).sum()) for name in SPLITS}
    if sum(dropped.values()):
        examples = reviews.column("id").take(np.flatnonzero(~nonempty)[:5]).to_pylist()
        log.warning("dropping %d reviews with no tokens (%s; e.g. %s)", sum(dropped.values()), dropped, examples)
    _warn_of_long_reviews(reviews, lengths)

    is_train = (split == "train") & nonempty
    held_out = np.zeros(len(labels), dtype=bool)
    train_rows = np.flatnonzero(is_train)
    held_out[train_rows] = stratified_holdout(labels[train_rows], valid_fraction, settings.split_seed)
    rows = {
        "train": np.flatnonzero(is_train & ~held_out),
        "valid": np.flatnonzero(is_train & held_out),
        "test": np.flatnonzero((split == "test") & nonempty),
    }
    _check_nonempty(rows, outputs, reviews, {**dropped, "valid": 0}, valid_fraction)
    _check_classes(labels, rows, outputs, reviews, valid_fraction)

    in_train = np.zeros(len(labels), dtype=bool)
    in_train[rows["train"]] = True
    counts = np.bincount(ids[np.repeat(in_train, lengths)], minlength=len(words))
    vocab = Vocabulary.from_counts(
        {words[i]: int(counts[i]) for i in np.flatnonzero(counts)},
        max_size=settings.max_vocab,
        min_count=settings.min_count,
    )
    final_id = np.full(len(words), UNK_INDEX, dtype=np.int32)
    for word_id, word in enumerate(words):
        final_id[word_id] = vocab.index.get(word, UNK_INDEX) or UNK_INDEX
    ids = final_id[ids]

    for name, split_rows in rows.items():
        table = _token_table(reviews, ids, offsets, lengths, split_rows)
        storage.write_table(with_classes(table, classes), outputs[name])
    storage.write_table(vocab.to_table(), outputs["vocab"])
    if "card" in outputs:
        row_of_token = np.repeat(np.arange(len(lengths)), lengths)
        unknown = np.bincount(row_of_token[ids == UNK_INDEX], minlength=len(lengths))
        written = data_card(reviews, texts, rows, lengths, unknown, vocab, classes)
        storage.write_json(written, outputs["card"])
        warn_of_artefacts(written, outputs["card"])
    summary = {name: len(split_rows) for name, split_rows in rows.items()} | {"vocab": len(vocab)}
    summary["dropped_empty"] = sum(dropped.values())
    log.info("prepared %s", summary)
    return summary
