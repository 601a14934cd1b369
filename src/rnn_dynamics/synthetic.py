"""A synthetic sentiment dataset with a known label rule, written in the aclImdb archive layout.

Reviews are made of neutral filler words and one to three sentiment phrases
``[not] [very] <positive or negative word>``. The label is the sign of the review's
summed valence (:func:`valence`): a positive word counts +1, a negative word -1,
"very" doubles the next sentiment word and "not" flips its sign. Reviews whose sum
is zero are never generated, so every label is unambiguous. A small GRU learns the
rule to over 95% accuracy in seconds, and the planted words give known valences to
check an analysis against (e.g. a line attractor's input projections).
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from dataclasses import dataclass

import numpy as np

from rnn_dynamics import config
from rnn_dynamics.storage import atomic_path

__all__ = [
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


def _review(rng: np.random.Generator, length: int) -> list[str]:
    """``length`` random tokens: 1 to MAX_PHRASES sentiment phrases (at most one per four words) among neutral words."""
    phrases = []
    for _ in range(rng.integers(1, min(MAX_PHRASES, max(1, length // 4)) + 1)):
        phrase = [NEGATORS[0]] if rng.random() < NEGATION_RATE else []
        phrase += [INTENSIFIERS[0]] if rng.random() < INTENSIFIER_RATE else []
        phrases.append(phrase + [str(rng.choice(POSITIVE_WORDS if rng.random() < 0.5 else NEGATIVE_WORDS))])
    fillers = max(0, length - sum(map(len, phrases)))
    gaps = rng.multinomial(fillers, np.ones(len(phrases) + 1) / (len(phrases) + 1))
    tokens = rng.choice(NEUTRAL_WORDS, gaps[0]).tolist()
    for phrase, gap in zip(phrases, gaps[1:]):
        tokens += phrase + rng.choice(NEUTRAL_WORDS, gap).tolist()
    return tokens


@dataclass(frozen=True)
class Settings(config.Section, section="datasets.synthetic"):
    """A synthetic dataset's entry under ``datasets`` (its ``kind`` aside); a key left out takes the
    schema's default."""

    reviews_per_split: int
    min_length: int
    max_length: int
    seed: int


def reviews(count: int, min_length: int, max_length: int, seed: int | list[int]) -> list[tuple[list[str], int]]:
    """``count`` (tokens, label) pairs, half of each label (the extra one positive).

    Lengths are drawn uniformly from [min_length, max_length] (below 3 words a
    phrase like "not very good" may not fit; such a review is longer). Reviews with
    zero valence are drawn again.
    """
    if min_length > max_length:
        raise ValueError(f"min_length {min_length} is larger than max_length {max_length}")
    rng = np.random.default_rng(seed)
    labels = [1] * (count - count // 2) + [0] * (count // 2)
    out = []
    for label in labels:
        while True:
            tokens = _review(rng, int(rng.integers(min_length, max_length + 1)))
            score = valence(tokens)
            if score != 0 and (score > 0) == bool(label):
                break
        out.append((tokens, label))
    return out


def write_archive(path: str | os.PathLike, settings: Settings) -> None:
    """Write a ``tar.gz`` in the aclImdb layout (``aclImdb/{train,test}/{pos,neg}/{i}_{stars}.txt``).

    Byte-for-byte reproducible for given settings (fixed member times, no gzip time stamp or file name).
    """
    seed = settings.seed
    rng = np.random.default_rng([seed, 1])  # star ratings: a stream apart from the texts'
    with atomic_path(path) as tmp, open(tmp, "wb") as raw:
        with (
            gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as gz,
            tarfile.open(fileobj=gz, mode="w") as tar,
        ):
            for split_number, split in enumerate(("train", "test")):
                split_reviews = reviews(
                    settings.reviews_per_split, settings.min_length, settings.max_length, seed=[seed, split_number]
                )
                for i, (tokens, label) in enumerate(split_reviews):
                    stars = int(rng.integers(7, 11) if label else rng.integers(1, 5))
                    text = (" ".join(tokens).capitalize() + ".").encode()
                    member = tarfile.TarInfo(f"aclImdb/{split}/{'pos' if label else 'neg'}/{i}_{stars}.txt")
                    member.size = len(text)
                    tar.addfile(member, io.BytesIO(text))
