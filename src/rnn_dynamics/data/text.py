"""Turning review text into tokens and token ids: the tokenizer and the vocabulary."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Mapping

import pyarrow as pa

from rnn_dynamics.ground.storage import read_table

__all__ = [
    "PAD",
    "PAD_INDEX",
    "SPECIALS",
    "UNK",
    "UNK_INDEX",
    "VOCAB_SCHEMA",
    "Vocabulary",
    "encode",
    "normalize",
    "read_vocabulary",
    "tokenize",
]

PAD, UNK = "<pad>", "<unk>"
PAD_INDEX, UNK_INDEX = 0, 1
SPECIALS = (PAD, UNK)

# torchtext's basic_english substitutions, in torchtext's order
# (torchtext.data.utils._basic_english_normalize). The one change: the line-break
# rule also removes the other spellings of an HTML line break (<br>, <br/>, <BR />);
# torchtext removes only the exact "<br />", the only one IMDB uses, so on IMDB the
# tokens are identical.
_SUBSTITUTIONS = [
    (re.compile(pattern), replacement)
    for pattern, replacement in [
        (r"\'", " '  "),
        (r"\"", ""),
        (r"\.", " . "),
        (r"<br\s*/?>", " "),
        (r",", " , "),
        (r"\(", " ( "),
        (r"\)", " ) "),
        (r"\!", " ! "),
        (r"\?", " ? "),
        (r"\;", " "),
        (r"\:", " "),
        (r"\s+", " "),
    ]
]


class _WithoutFormatCharacters(dict):
    """A ``str.translate`` table that drops Unicode's format characters (category Cf: zero-width spaces
    and joiners, the byte-order mark, soft hyphens, bidirectional controls), which, invisible, would
    make a zero-width space and "good" a word apart from "good", and keeps every other character;
    filled as characters are met."""

    def __missing__(self, code: int) -> int | None:
        self[code] = None if unicodedata.category(chr(code)) == "Cf" else code
        return self[code]


_FORMAT_CHARACTERS = _WithoutFormatCharacters()


def normalize(text: str) -> str:
    """``text`` without format characters (category Cf) and in Unicode's composed form (NFC), so that
    what looks like one word is one token: ``e`` + combining acute is ``é``, a BOM or zero-width space
    glued to a word goes. ASCII text, which neither changes, is returned as it is."""
    if text.isascii():
        return text
    return unicodedata.normalize("NFC", text.translate(_FORMAT_CHARACTERS))


def tokenize(text: str) -> list[str]:
    """Split ``text`` into tokens the way torchtext's ``basic_english`` tokenizer does.

    0. ``normalize``: format characters (zero-width, BOM, bidi controls) dropped, NFC
       (torchtext does neither; text without such characters is split as it would);
    1. lower-case (Unicode-aware ``str.lower``);
    2. ``'`` becomes a token of its own (``"don't"`` -> ``don ' t``);
    3. double quotes are deleted;
    4. ``.`` ``,`` ``(`` ``)`` ``!`` ``?`` are split off as tokens of their own;
    5. HTML line breaks (``<br />``, ``<br>``, ``<br/>``) are removed;
    6. ``;`` and ``:`` are removed (torchtext replaces them by a space);
    7. split on any (Unicode) whitespace.

    Everything else (hyphens, digits, accented letters, other markup) stays inside
    its word.
    """
    text = normalize(text).lower()
    for pattern, replacement in _SUBSTITUTIONS:
        text = pattern.sub(replacement, text)
    return text.split()


def encode(text: str, vocab_index: Mapping[str, int], max_length: int | None = None) -> list[int]:
    """Token ids of ``text``: unknown words map to ``<unk>``, at most ``max_length`` of them."""
    tokens = tokenize(text)[:max_length]
    # `or UNK_INDEX`: a literal "<pad>" in a review must not become padding.
    return [vocab_index.get(token, UNK_INDEX) or UNK_INDEX for token in tokens]


@dataclass
class Vocabulary:
    """Tokens by index: ``<pad>`` = 0, ``<unk>`` = 1, then words by descending training count.

    ``counts[i]`` is how often token i occurs in the training split; for ``<unk>`` it
    is the number of training tokens outside the vocabulary, for ``<pad>`` zero.
    """

    tokens: list[str]
    counts: list[int]
    index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self):
        if list(self.tokens[:2]) != list(SPECIALS):
            raise ValueError(f"vocabulary must start with {SPECIALS}, starts with {self.tokens[:2]}")
        if len(self.tokens) != len(self.counts):
            raise ValueError(f"{len(self.tokens)} tokens but {len(self.counts)} counts")
        self.index = {token: i for i, token in enumerate(self.tokens)}

    def __len__(self) -> int:
        return len(self.tokens)

    @classmethod
    def from_counts(cls, counts: Mapping[str, int], max_size: int | None = None, min_count: int = 1) -> "Vocabulary":
        """Keep the ``max_size`` most frequent words seen at least ``min_count`` times.

        Ties in count are broken alphabetically, so the result does not depend on the
        order the words were seen in. ``max_size`` excludes the two specials.
        """
        words = sorted(
            ((word, n) for word, n in counts.items() if n >= min_count and word not in SPECIALS),
            key=lambda item: (-item[1], item[0]),
        )[:max_size]
        # Every training token not kept is unknown, a literal "<pad>" or "<unk>" in a review included.
        unknown = sum(counts.values()) - sum(n for _, n in words)
        return cls([PAD, UNK] + [w for w, _ in words], [0, unknown] + [n for _, n in words])

    @classmethod
    def build(cls, token_lists: Iterable[list[str]], max_size: int | None = None, min_count: int = 1) -> "Vocabulary":
        """The vocabulary of the training split's token lists."""
        counts = Counter()
        for tokens in token_lists:
            counts.update(tokens)
        return cls.from_counts(counts, max_size=max_size, min_count=min_count)

    def to_table(self) -> pa.Table:
        return pa.table(
            {
                "index": pa.array(range(len(self.tokens)), pa.int32()),
                "token": pa.array(self.tokens, pa.string()),
                "count": pa.array(self.counts, pa.int64()),
            }
        )

    @classmethod
    def from_table(cls, table: pa.Table) -> "Vocabulary":
        index = table.column("index").to_pylist()
        if index != list(range(len(index))):
            raise ValueError("vocabulary table: column 'index' must be 0, 1, 2, ... in order")
        return cls(table.column("token").to_pylist(), table.column("count").to_pylist())


VOCAB_SCHEMA = {"index": pa.int32(), "token": pa.string(), "count": pa.int64()}


def read_vocabulary(path) -> Vocabulary:
    """The vocabulary written by ``prepare`` (``vocab.parquet``), schema-checked."""
    return Vocabulary.from_table(read_table(path, VOCAB_SCHEMA))
