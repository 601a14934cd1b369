"""The review table and the token tables: their schemas, the label types, the classes and their metadata.

The review table has one row per review: ``id`` (string, e.g. ``train/pos/123_9``), ``split`` (``train`` or
``test``), ``label`` (the class index: int8 0 negative / 1 positive for two classes, int16 0..N-1 for N > 2, see
``label_type``) and ``text``. The class names and whether they are ordered (``Classes``) travel in the schema
metadata (``CLASSES_KEY``) of an N-class review table and of its token tables; a binary dataset's tables carry
none (``read_classes`` reads them as ``BINARY``). ``label_mapping`` turns the label values of users' files into
class indices.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from dataclasses import dataclass
from typing import Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from rnn_dynamics.ground import storage

__all__ = [
    "BINARY",
    "CLASSES_KEY",
    "CLEANING_KEY",
    "INPUTS_KEY",
    "LABEL_COLUMN_KEY",
    "LABEL_TYPES",
    "REVIEWS_SCHEMA",
    "SPLITS",
    "TOKENS_SCHEMA",
    "Classes",
    "LabelError",
    "classes_of",
    "is_number",
    "label_mapping",
    "label_type",
    "read_classes",
    "review_table",
    "reviews_schema",
    "sorted_values",
    "tokens_schema",
    "with_classes",
]

log = logging.getLogger(__name__)

SPLITS = ("train", "test")

# The schemas of a binary dataset's tables; an N-class one's label is int16 (``label_type``).
REVIEWS_SCHEMA = pa.schema([("id", pa.string()), ("split", pa.string()), ("label", pa.int8()), ("text", pa.string())])
TOKENS_SCHEMA = pa.schema(
    [("id", pa.string()), ("label", pa.int8()), ("length", pa.int32()), ("tokens", pa.list_(pa.int32()))]
)
# The label column's type: int8 for two classes (the type binary tables have always had), int16 for more.
LABEL_TYPES = (pa.int8(), pa.int16())
# The schema metadata key of an N-class table's classes (``Classes.to_json``).
CLASSES_KEY = b"rnn_dynamics.classes"
# The schema metadata key under which ``read_reviews`` records the files a review table comes from
# (a JSON list: the archive or the one table file, or the train and the test file), for prepare's errors.
INPUTS_KEY = b"rnn_dynamics.inputs"
# The key under which it records a table file's label column, for the same errors.
LABEL_COLUMN_KEY = b"rnn_dynamics.label_column"
# The key under which it records the cleaning rules the texts went through (a JSON object: ``rules``, their
# names, and ``key``, the dataset's config key that chooses them, or null where the reader does), for the card.
CLEANING_KEY = b"rnn_dynamics.cleaning"


class LabelError(ValueError):
    """A label column holds fewer than two classes or values outside its classes, or a split lacks a class."""


@dataclass(frozen=True)
class Classes:
    """The classes of a dataset: ``names[i]`` is the name of label ``i``; ``ordered`` marks classes on one
    scale (star ratings), whose order means something."""

    names: tuple[str, ...]
    ordered: bool

    def __len__(self) -> int:
        return len(self.names)

    def to_json(self) -> bytes:
        return json.dumps({"names": list(self.names), "ordered": self.ordered}).encode()

    @classmethod
    def from_json(cls, raw: bytes, source) -> Classes:
        try:
            value = json.loads(raw)
            return cls(tuple(str(name) for name in value["names"]), bool(value["ordered"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{source}: unreadable class metadata {raw[:200]!r} ({exc})") from None


# The classes of a table without class metadata: every binary table.
BINARY = Classes(("0", "1"), False)


def label_type(classes: int) -> pa.DataType:
    """The type of the label column of a dataset of ``classes`` classes (``LABEL_TYPES``)."""
    return LABEL_TYPES[0] if classes == 2 else LABEL_TYPES[1]


def reviews_schema(classes: int) -> pa.Schema:
    """The review table's schema for ``classes`` classes."""
    return REVIEWS_SCHEMA.set(REVIEWS_SCHEMA.get_field_index("label"), pa.field("label", label_type(classes)))


def tokens_schema(label: pa.DataType) -> pa.Schema:
    """A token table's schema with a label column of type ``label``."""
    return TOKENS_SCHEMA.set(TOKENS_SCHEMA.get_field_index("label"), pa.field("label", label))


def review_table(ids: list[str], splits: list[str], labels: list[int], texts: list[str], classes: int) -> pa.Table:
    """A review table of these columns, its label typed for ``classes`` classes."""
    return pa.table([ids, splits, pa.array(labels, label_type(classes)), texts], schema=reviews_schema(classes))


def with_classes(table: pa.Table, classes: Classes) -> pa.Table:
    """``table`` with ``classes`` in its schema metadata, where there are more than two (binary tables carry
    none)."""
    if len(classes) == 2:
        return table
    return table.replace_schema_metadata({**(table.schema.metadata or {}), CLASSES_KEY: classes.to_json()})


def classes_of(schema: pa.Schema, source) -> Classes:
    """The classes in a table's schema metadata, or ``BINARY`` without; ``source`` names it in errors."""
    raw = (schema.metadata or {}).get(CLASSES_KEY)
    return BINARY if raw is None else Classes.from_json(raw, source)


def read_classes(path: str | os.PathLike) -> Classes:
    """The classes of a prepared split table (``{train,valid,test}.parquet``): those in its metadata, or
    ``BINARY`` for a table without (every binary dataset's)."""
    with storage.reading(path):
        schema = pq.read_schema(path)
    return classes_of(schema, path)


def is_number(value) -> bool:
    """Whether a label value is a number, or text that spells one (``"10"``, ``"2.5"``)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def sorted_values(values) -> list:
    """Distinct label values in order: numerically where all are numbers or spell numbers (so 10 follows 9),
    else as text."""
    distinct = set(values)
    if all(is_number(value) for value in distinct):
        return sorted(distinct, key=float)
    return sorted(distinct, key=str)


def label_mapping(values: Sequence, source: str, classes: Sequence | None) -> dict:
    """Map the label values found to class indices 0..N-1.

    ``classes`` (the dataset's ``classes`` key) gives the order, matched to the values as text; without
    it, two values map to 0/1 as 0/1, neg/pos, negative/positive, else in sorted order, and more values
    in sorted order (``sorted_values``: numerically where all are numbers). Fewer than two classes, or a
    value outside ``classes``, raise a LabelError naming ``source`` with the count of every value.
    """
    counts = Counter(values)
    found = ", ".join(f"{value!r}: {count}" for value, count in sorted(counts.items(), key=lambda kv: str(kv[0])))
    if classes is not None:
        index = {str(name): i for i, name in enumerate(classes)}
        unknown = sorted({str(value) for value in counts} - set(index))
        if len(index) != len(classes):
            raise LabelError(f"{source}: the dataset's classes {list(classes)} repeat a name")
        if unknown:
            raise LabelError(
                f"{source}: labels {unknown[:20]} are not among the dataset's classes {list(classes)} (counts: {found})"
            )
        if len(counts) < 2:
            raise LabelError(f"{source}: labels must be at least two classes, found {len(counts)} ({found})")
        return {value: index[str(value)] for value in counts}
    distinct = sorted_values(counts)
    if len(distinct) < 2:
        raise LabelError(f"{source}: labels must be at least two classes, found {len(distinct)} ({found})")
    if len(distinct) > 2:
        return {value: i for i, value in enumerate(distinct)}
    distinct = sorted(distinct, key=str)
    for negative, positive in ((0, 1), ("0", "1"), ("neg", "pos"), ("negative", "positive")):
        by_name = {str(v).lower(): v for v in distinct}
        if set(by_name) == {str(negative), str(positive)}:
            return {by_name[str(negative)]: 0, by_name[str(positive)]: 1}
    distinct = sorted(distinct)
    log.warning("%s: labels %r mapped to 0 and %r to 1 (sorted order)", source, distinct[0], distinct[1])
    return {distinct[0]: 0, distinct[1]: 1}
