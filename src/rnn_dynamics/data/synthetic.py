"""A synthetic dataset with a known label rule, written as a tar.gz archive.

The ``ordered`` task (the default): reviews are made of neutral filler words and one to three
sentiment phrases ``[not] [very] <positive or negative word>``, and the review's summed valence
(:func:`valence`) decides the label: a positive word counts +1, a negative word -1, "very" doubles
the next sentiment word and "not" flips its sign. With two classes (today's binary task) the label
is the sum's sign; with N it is the sum binned into N ordered bins (:func:`ordered_bin`). Reviews
whose sum is zero are never generated, so every label is unambiguous. A small GRU learns the binary
rule to over 95% accuracy in seconds, and the planted words give known valences to check an analysis
against (e.g. a line attractor's input projections).

The ``categorical`` task: each class has its own evidence words (``CATEGORY_WORDS``), each of which
adds one to its class's count; the label is the class of the largest count (reviews with a tie are
never generated). Its classes have no order: the integration of Aitken et al. (2021) on N - 1 dimensions.

The binary ordered task is written in the aclImdb layout, as it always was; every other task in the
layout ``synthetic/{train,test}/{label}/{i}.txt`` with the classes in ``CLASSES_MEMBER``.
"""

from __future__ import annotations

import functools
import gzip
import io
import json
import os
import tarfile
from dataclasses import dataclass

import numpy as np

from rnn_dynamics.ground import config
from rnn_dynamics.ground.storage import atomic_path

__all__ = [
    "CATEGORY_NAMES",
    "CATEGORY_WORDS",
    "CLASSES_MEMBER",
    "INTENSIFIERS",
    "INTENSIFIER_RATE",
    "MAX_PHRASES",
    "NEGATION_RATE",
    "NEGATIVE_WORDS",
    "NEGATORS",
    "NEUTRAL_WORDS",
    "POSITIVE_WORDS",
    "VALENCE",
    "Settings",
    "categorical_label",
    "class_names",
    "ordered_bin",
    "reviews",
    "valence",
    "write_archive",
]

POSITIVE_WORDS = ("good", "great", "excellent", "wonderful", "brilliant", "enjoyable", "superb", "amazing")
NEGATIVE_WORDS = ("bad", "awful", "terrible", "boring", "dull", "horrible", "poor", "stupid")
NEUTRAL_WORDS = (
    "the", "a", "movie", "film", "plot", "story", "actor", "acting", "scene", "ending",
    "director", "music", "script", "this", "it", "was", "is", "and", "with", "about",
)  # fmt: skip
NEGATORS = ("not",)
INTENSIFIERS = ("very",)
VALENCE = {word: 1 for word in POSITIVE_WORDS} | {word: -1 for word in NEGATIVE_WORDS}

# Chance that a sentiment word is preceded by "not" / by "very".
NEGATION_RATE = 0.25
INTENSIFIER_RATE = 0.25
# More phrases per review make the sums harder to count; three keeps the rule learnable.
MAX_PHRASES = 3

# The categorical task's classes and the evidence words of each (at most as many classes as groups).
CATEGORY_NAMES = ("sports", "music", "food", "weather", "travel", "science", "politics", "money")
CATEGORY_WORDS = (
    ("goal", "match", "team", "coach"), ("song", "band", "album", "guitar"), ("pasta", "bread", "soup", "salad"),
    ("rain", "snow", "storm", "sunny"), ("flight", "hotel", "beach", "ticket"), ("atom", "cell", "laser", "planet"),
    ("vote", "senate", "law", "party"), ("bank", "loan", "stock", "price"),
)  # fmt: skip
CATEGORY = {word: k for k, words in enumerate(CATEGORY_WORDS) for word in words}
# The archive member of the N-class layout that holds the classes: {"names": [...], "ordered": bool}, as
# datasets.Classes reads them.
CLASSES_MEMBER = "synthetic/classes.json"
# The nonzero sums of valence a review can have, in order: the ordered task bins these.
_SUMS = [total for total in range(-2 * MAX_PHRASES, 2 * MAX_PHRASES + 1) if total != 0]


def valence(tokens: list[str]) -> int:
    """The summed valence of a review: "not" flips and "very" doubles the next sentiment word."""
    total, sign, scale = 0, 1, 1
    for token in tokens:
        if token in NEGATORS:
            sign = -sign
        elif token in INTENSIFIERS:
            scale = 2
        elif token in VALENCE:
            total += sign * scale * VALENCE[token]
            sign, scale = 1, 1
    return total


def ordered_bin(total: int, classes: int) -> int:
    """The ordered task's label of a review of summed valence ``total`` (nonzero): the nonzero sums from
    -2 MAX_PHRASES to 2 MAX_PHRASES cut into ``classes`` runs of near-equal length, from the most negative;
    for two classes, the sign (0 negative, 1 positive)."""
    return _SUMS.index(total) * classes // len(_SUMS)


def categorical_label(tokens: list[str]) -> int | None:
    """The categorical task's label of a review: the class with the most evidence words, None on a tie."""
    counts = np.bincount([CATEGORY[token] for token in tokens if token in CATEGORY], minlength=len(CATEGORY_WORDS))
    best = np.flatnonzero(counts == counts.max())
    return int(best[0]) if len(best) == 1 and counts.max() > 0 else None


def class_names(task: str, classes: int) -> list[str]:
    """The names of a task's classes: the categories, or the range of summed valence of each ordered bin."""
    if task == "categorical":
        return list(CATEGORY_NAMES[:classes])
    bins = [[total for total in _SUMS if ordered_bin(total, classes) == k] for k in range(classes)]
    return [f"{sums[0]}..{sums[-1]}" if len(sums) > 1 else str(sums[0]) for sums in bins]


# The word lists as arrays, and even splits of the filler words: drawn from on every try of the rejection
# sampling below, so built once. ``_draw`` takes the same numbers from the generator as ``rng.choice`` (the
# same reviews from the same seed), without its per-call conversion of the list.
_NEUTRAL = np.array(NEUTRAL_WORDS)
_SENTIMENT = (np.array(NEGATIVE_WORDS), np.array(POSITIVE_WORDS))
_CATEGORIES = tuple(np.array(words) for words in CATEGORY_WORDS)


@functools.cache
def _even(parts: int) -> np.ndarray:
    return np.ones(parts) / parts


def _draw(rng: np.random.Generator, words: np.ndarray, size: int | None):
    """``rng.choice(words, size)``: one word (a str) where ``size`` is None, else a list of ``size``."""
    if size is None:
        return str(words[rng.integers(len(words))])
    return words[rng.integers(0, len(words), size)].tolist()


def _review(rng: np.random.Generator, length: int) -> list[str]:
    """``length`` random tokens: 1 to MAX_PHRASES sentiment phrases (at most one per four words) among neutral words."""
    phrases = []
    for _ in range(rng.integers(1, min(MAX_PHRASES, max(1, length // 4)) + 1)):
        phrase = [NEGATORS[0]] if rng.random() < NEGATION_RATE else []
        phrase += [INTENSIFIERS[0]] if rng.random() < INTENSIFIER_RATE else []
        phrases.append(phrase + [_draw(rng, _SENTIMENT[rng.random() < 0.5], None)])
    fillers = max(0, length - sum(map(len, phrases)))
    gaps = rng.multinomial(fillers, _even(len(phrases) + 1))
    tokens = _draw(rng, _NEUTRAL, gaps[0])
    for phrase, gap in zip(phrases, gaps[1:]):
        tokens += phrase + _draw(rng, _NEUTRAL, gap)
    return tokens


def _categorical_review(rng: np.random.Generator, length: int, classes: int, evidence_words: int) -> list[str]:
    """``length`` random tokens: 1 to ``evidence_words`` evidence words of the first ``classes`` categories
    among neutral words."""
    count = rng.integers(1, evidence_words + 1)
    words = [_draw(rng, _CATEGORIES[rng.integers(classes)], None) for _ in range(count)]
    gaps = rng.multinomial(max(0, length - len(words)), _even(len(words) + 1))
    tokens = _draw(rng, _NEUTRAL, gaps[0])
    for word, gap in zip(words, gaps[1:]):
        tokens += [word] + _draw(rng, _NEUTRAL, gap)
    return tokens


@dataclass(frozen=True)
class Settings(config.Section, section="datasets.synthetic"):
    """A synthetic dataset's entry under ``datasets`` (its ``kind`` aside); a key left out takes the
    schema's default."""

    reviews_per_split: int
    min_length: int
    max_length: int
    seed: int
    # The label rule: ordered (binned summed valence; two classes: today's binary task) or categorical.
    task: str
    classes: int
    evidence_words: int


def reviews(
    count: int,
    min_length: int,
    max_length: int,
    seed: int | list[int],
    *,
    task: str,
    classes: int,
    evidence_words: int,
) -> list[tuple[list[str], int]]:
    """``count`` (tokens, label) pairs of ``task`` with ``classes`` classes, as many of each label as can be
    (the extra ones the highest labels: for two classes, the extra one positive).

    A categorical review has 1 to ``evidence_words`` evidence words. Lengths are drawn uniformly from
    [min_length, max_length] (below 3 words a
    phrase like "not very good" may not fit; such a review is longer). A review whose
    label is not the one wanted (zero valence, another bin or class, a tie) is drawn again.
    """
    if min_length > max_length:
        raise ValueError(f"min_length {min_length} is larger than max_length {max_length}")
    limit = len(CATEGORY_WORDS) if task == "categorical" else len(_SUMS)
    if not 2 <= classes <= limit:
        raise ValueError(f"the {task} task has 2 to {limit} classes, not {classes}")
    rng = np.random.default_rng(seed)
    labels = [
        label
        for label in reversed(range(classes))
        for _ in range(count // classes + (label >= classes - count % classes))
    ]
    out = []
    for label in labels:
        while True:
            length = int(rng.integers(min_length, max_length + 1))
            if task == "categorical":
                tokens = _categorical_review(rng, length, classes, evidence_words)
                if categorical_label(tokens) == label:
                    break
                continue
            tokens = _review(rng, length)
            score = valence(tokens)
            if score != 0 and ordered_bin(score, classes) == label:
                break
        out.append((tokens, label))
    return out


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    member = tarfile.TarInfo(name)
    member.size = len(data)
    tar.addfile(member, io.BytesIO(data))


def write_archive(path: str | os.PathLike, settings: Settings) -> None:
    """Write a ``tar.gz``: the binary ordered task (the default) in the aclImdb layout
    (``aclImdb/{train,test}/{pos,neg}/{i}_{stars}.txt``), any other in the layout
    ``synthetic/{train,test}/{label}/{i}.txt``, its classes first in ``CLASSES_MEMBER``.

    Byte-for-byte reproducible for given settings (fixed member times, no gzip time stamp or file name).
    """
    seed = settings.seed
    aclimdb = settings.task == "ordered" and settings.classes == 2
    rng = np.random.default_rng([seed, 1])  # star ratings: a stream apart from the texts'
    with atomic_path(path) as tmp, open(tmp, "wb") as raw:
        with (
            gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as gz,
            tarfile.open(fileobj=gz, mode="w") as tar,
        ):
            if not aclimdb:
                classes = {"names": class_names(settings.task, settings.classes), "ordered": settings.task == "ordered"}
                _add(tar, CLASSES_MEMBER, json.dumps(classes).encode())
            for split_number, split in enumerate(("train", "test")):
                split_reviews = reviews(
                    settings.reviews_per_split,
                    settings.min_length,
                    settings.max_length,
                    seed=[seed, split_number],
                    task=settings.task,
                    classes=settings.classes,
                    evidence_words=settings.evidence_words,
                )
                for i, (tokens, label) in enumerate(split_reviews):
                    text = (" ".join(tokens).capitalize() + ".").encode()
                    if aclimdb:
                        stars = int(rng.integers(7, 11) if label else rng.integers(1, 5))
                        _add(tar, f"aclImdb/{split}/{'pos' if label else 'neg'}/{i}_{stars}.txt", text)
                    else:
                        _add(tar, f"synthetic/{split}/{label}/{i}.txt", text)
