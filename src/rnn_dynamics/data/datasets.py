"""Reading each dataset's raw format into one review table, and preparing the token tables.

The review table has one row per review: ``id`` (string, e.g. ``train/pos/123_9``),
``split`` (``train`` or ``test``), ``label`` (the class index: int8 0 negative / 1 positive for two
classes, int16 0..N-1 for N > 2, see ``label_type``) and ``text``. :func:`prepare` turns it into the
token tables every later stage reads: ``{train,valid,test}.parquet`` (id, label, length, tokens) and
``vocab.parquet``. The class names and whether they are ordered (``Classes``) travel in the schema
metadata (``CLASSES_KEY``) of an N-class review table and of its token tables; a binary dataset's
tables carry none (``read_classes`` reads them as ``BINARY``).
"""

from __future__ import annotations

import array
import codecs
import csv
import io
import itertools
import json
import logging
import os
import re
import tarfile
import zipfile
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from tqdm import tqdm

from rnn_dynamics.data import synthetic
from rnn_dynamics.data.text import UNK_INDEX, Vocabulary, tokenize
from rnn_dynamics.ground import config, storage

__all__ = [
    "AG_NEWS_CLASSES",
    "AG_NEWS_MEMBERS",
    "ARCHIVE_READERS",
    "BINARY",
    "CLASSES_KEY",
    "DBPEDIA_MEMBERS",
    "DOWNLOADED_ARCHIVES",
    "INPUTS_KEY",
    "LABEL_COLUMN_KEY",
    "LABELS",
    "LABEL_TYPES",
    "LAYOUT_CHECKS",
    "MISSING_VALUES",
    "REVIEWS_SCHEMA",
    "REVIEW_MEMBER",
    "SPLITS",
    "SST2_MEMBERS",
    "SYNTHETIC_MEMBER",
    "TOKENS_SCHEMA",
    "YELP_FULL_MEMBERS",
    "YELP_LABELS",
    "YELP_MEMBERS",
    "Classes",
    "LabelError",
    "LayoutError",
    "PrepareSettings",
    "check_ag_news_layout",
    "check_archive_layout",
    "check_dbpedia_layout",
    "check_sst2_layout",
    "check_yelp_full_layout",
    "check_yelp_layout",
    "label_mapping",
    "label_type",
    "prepare",
    "read_ag_news_archive",
    "read_archive",
    "read_classes",
    "read_dbpedia_archive",
    "read_reviews",
    "read_synthetic_archive",
    "read_sst2_archive",
    "read_table_files",
    "read_yelp_archive",
    "read_yelp_full_archive",
    "stratified_holdout",
    "with_defaults",
]

log = logging.getLogger(__name__)

SPLITS = ("train", "test")
LABELS = {"neg": 0, "pos": 1}
REVIEW_MEMBER = re.compile(r"^(?:\./)?aclImdb/(train|test)/(pos|neg)/([^/]+)\.txt$")

# The schemas of a binary dataset's tables; an N-class one's label is int16 (``label_type``).
REVIEWS_SCHEMA = pa.schema([("id", pa.string()), ("split", pa.string()), ("label", pa.int8()), ("text", pa.string())])
TOKENS_SCHEMA = pa.schema(
    [("id", pa.string()), ("label", pa.int8()), ("length", pa.int32()), ("tokens", pa.list_(pa.int32()))]
)


def _reviews_schema(classes: int) -> pa.Schema:
    return REVIEWS_SCHEMA.set(REVIEWS_SCHEMA.get_field_index("label"), pa.field("label", label_type(classes)))


def _tokens_schema(label: pa.DataType) -> pa.Schema:
    return TOKENS_SCHEMA.set(TOKENS_SCHEMA.get_field_index("label"), pa.field("label", label))


# The label column's type: int8 for two classes (the type binary tables have always had), int16 for more.
LABEL_TYPES = (pa.int8(), pa.int16())
# The schema metadata key of an N-class table's classes (``Classes.to_json``).
CLASSES_KEY = b"rnn_dynamics.classes"


class LayoutError(ValueError):
    """An archive does not have its kind's layout (aclImdb, SST-2, or one of Zhang et al.'s CSV archives)."""


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


def _with_classes(table: pa.Table, classes: Classes) -> pa.Table:
    """``table`` with ``classes`` in its schema metadata, where there are more than two (binary tables stay
    as they have always been)."""
    if len(classes) == 2:
        return table
    return table.replace_schema_metadata({**(table.schema.metadata or {}), CLASSES_KEY: classes.to_json()})


def _classes_of(schema: pa.Schema, source) -> Classes:
    raw = (schema.metadata or {}).get(CLASSES_KEY)
    return BINARY if raw is None else Classes.from_json(raw, source)


def read_classes(path: str | os.PathLike) -> Classes:
    """The classes of a prepared split table (``{train,valid,test}.parquet``): those in its metadata, or
    ``BINARY`` for a table without (every binary dataset's)."""
    with storage.reading(path):
        schema = pq.read_schema(path)
    return _classes_of(schema, path)


# ---------------------------------------------------------------------------- aclImdb archives


def _review_members(path: str | os.PathLike, read_text: bool):
    """Yield (split, label, name, text or None) for each review in the archive, streaming."""
    try:
        with tarfile.open(path, "r|*") as tar:
            for member in tar:
                match = REVIEW_MEMBER.match(member.name)
                if match is None or not member.isfile():
                    continue
                split, label, name = match.groups()
                text = tar.extractfile(member).read().decode("utf-8") if read_text else None
                yield split, label, name, text
    except FileNotFoundError:
        raise
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:  # gzip's errors are OSErrors
        raise LayoutError(f"{path}: not a readable tar.gz archive ({exc})") from exc


def _check_counts(path, counts: Mapping[tuple[str, str], int]) -> None:
    missing = [f"aclImdb/{s}/{label}/" for s in SPLITS for label in LABELS if counts.get((s, label), 0) == 0]
    if missing:
        found = ", ".join(f"{s}/{label}: {n}" for (s, label), n in sorted(counts.items())) or "no reviews at all"
        raise LayoutError(
            f"{path}: not an aclImdb archive: no reviews (*.txt) under {', '.join(missing)} (found {found})"
        )


def check_archive_layout(path: str | os.PathLike) -> dict[str, int]:
    """Check that the archive holds reviews for both splits and both labels; return the counts."""
    counts = Counter((split, label) for split, label, _, _ in _review_members(path, read_text=False))
    _check_counts(path, counts)
    return {f"{split}/{label}": n for (split, label), n in sorted(counts.items())}


def read_archive(path: str | os.PathLike) -> pa.Table:
    """Read an aclImdb ``tar.gz`` in place (no extraction) into a review table sorted by id."""
    ids, splits, labels, texts = [], [], [], []
    counts = Counter()
    members = _review_members(path, read_text=True)
    for split, label, name, text in tqdm(members, desc=f"reading {Path(path).name}", unit=" reviews", mininterval=5):
        ids.append(f"{split}/{label}/{name}")
        splits.append(split)
        labels.append(LABELS[label])
        texts.append(text)
        counts[split, label] += 1
    _check_counts(path, counts)
    table = pa.table([ids, splits, pa.array(labels, pa.int8()), pa.array(texts, pa.string())], schema=REVIEWS_SCHEMA)
    # Sorted, so that the output does not depend on the order the archive was packed in.
    return table.take(pc.sort_indices(table, [("id", "ascending")]))


SYNTHETIC_MEMBER = re.compile(r"^(?:\./)?synthetic/(train|test)/([0-9]+)/([^/]+)\.txt$")


def read_synthetic_archive(path: str | os.PathLike) -> pa.Table:
    """A ``synthetic.write_archive`` archive read in place: the binary task's aclImdb layout
    (``read_archive``), or the N-class layout (``synthetic/{split}/{label}/{i}.txt`` with its classes in
    ``synthetic.CLASSES_MEMBER``), sorted by id."""
    ids, splits, labels, texts = [], [], [], []
    classes = None
    try:
        with tarfile.open(path, "r|*") as tar:
            for member in tar:
                if member.name.removeprefix("./") == synthetic.CLASSES_MEMBER:
                    classes = Classes.from_json(tar.extractfile(member).read(), f"{path}: {member.name}")
                    continue
                match = SYNTHETIC_MEMBER.match(member.name)
                if match is None or not member.isfile():
                    continue
                split, label, name = match.groups()
                ids.append(f"{split}/{int(label)}/{name}")
                splits.append(split)
                labels.append(int(label))
                texts.append(tar.extractfile(member).read().decode("utf-8"))
    except FileNotFoundError:
        raise
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise LayoutError(f"{path}: not a readable tar.gz archive ({exc})") from exc
    if classes is None:
        return read_archive(path)
    outside = sorted({label for label in labels if label >= len(classes)})
    if outside:
        raise LabelError(f"{path}: labels {outside} outside the archive's {len(classes)} classes {classes.names}")
    table = _with_classes(_review_table(ids, splits, labels, texts, classes=len(classes)), classes)
    return table.take(pc.sort_indices(table, [("id", "ascending")]))


# ---------------------------------------------------------------------------- users' table files


def _read_file(path: str | os.PathLike, encoding: str) -> pa.Table:
    """A CSV/TSV (text in ``encoding``) or Parquet file as a table."""
    name = Path(path).name.lower()
    for suffix in (".gz", ".bz2", ".zst"):  # pyarrow.csv decompresses these by extension
        name = name.removesuffix(suffix)
    if name.endswith((".parquet", ".pq")):
        with storage.reading(path):  # not pq.read_table, which fails on a repeated column name without naming it
            return pq.ParquetFile(path).read()
    if not name.endswith((".csv", ".tsv", ".tab")):
        raise ValueError(f"{path}: unknown table format; use .csv, .tsv or .parquet")
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ValueError(f"{path}: unknown encoding {encoding!r} (the dataset's `encoding` key)") from None
    delimiter = "," if name.endswith(".csv") else "\t"
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(encoding=encoding),
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
        )
    except (UnicodeDecodeError, pa.ArrowInvalid) as exc:
        _raise_for_encoding(path, encoding)  # if a line does not decode, name it
        raise ValueError(f"{path}: not a readable {name.rsplit('.', 1)[-1].upper()} file ({exc})") from exc
    # pyarrow reads a column that is not valid UTF-8 as bytes rather than failing.
    if any(pa.types.is_binary(field.type) or pa.types.is_large_binary(field.type) for field in table.schema):
        _raise_for_encoding(path, encoding)
    return table


def _raise_for_encoding(path: str | os.PathLike, encoding: str) -> None:
    """Raise a ValueError naming the first line of ``path`` that does not decode as ``encoding``, if any."""
    with pa.input_stream(str(path), compression="detect") as stream:
        for number, line in enumerate(io.BufferedReader(stream), start=1):
            try:
                line.decode(encoding)
            except UnicodeDecodeError as exc:
                raise ValueError(
                    f"{path}: line {number} is not valid {encoding} (byte {line[exc.start : exc.start + 1]!r} at "
                    f"byte {exc.start + 1} of the line); set the dataset's `encoding` key to the file's encoding, "
                    f"e.g. `encoding: latin-1`"
                ) from None


# Cells that spell a missing value (pandas' spellings, which cover pyarrow's): read as such in text and
# label columns of CSV, TSV and Parquet files alike, besides nulls and float NaNs.
MISSING_VALUES = frozenset(
    ["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A",
     "NA", "NULL", "NaN", "None", "n/a", "nan", "null"]
)  # fmt: skip


def _missing(column: pa.ChunkedArray) -> np.ndarray:
    """Which cells of ``column`` hold no value: null, a float NaN, or a string in ``MISSING_VALUES``
    (surrounding whitespace aside)."""
    values = column.to_pylist()
    return np.array(
        [
            value is None
            or (isinstance(value, float) and value != value)
            or (isinstance(value, str) and value.strip() in MISSING_VALUES)
            for value in values
        ],
        dtype=bool,
    )


def _column(table: pa.Table, name: str, path) -> pa.ChunkedArray:
    """Column ``name`` of the table read from ``path``, named in the error when it is absent or repeated."""
    found = table.column_names.count(name)
    if found == 0:
        raise ValueError(f"{path}: no column {name!r} (has {table.column_names})")
    if found > 1:
        raise ValueError(
            f"{path}: column {name!r} occurs {found} times in the header ({table.column_names}); rename or drop "
            f"all but one"
        )
    return table.column(name)


def _sorted_values(values) -> list:
    """Distinct label values in order: numerically where all are numbers (so 10 follows 9), else as text."""
    distinct = set(values)
    if all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in distinct):
        return sorted(distinct)
    return sorted(distinct, key=str)


def label_mapping(values: Sequence, source: str, classes: Sequence | None) -> dict:
    """Map the label values found to class indices 0..N-1.

    ``classes`` (the dataset's ``classes`` key) gives the order, matched to the values as text; without
    it, two values map to 0/1 as 0/1, neg/pos, negative/positive, else in sorted order, and more values
    in sorted order (numerically where all are numbers). Fewer than two classes, or a value outside
    ``classes``, raise a LabelError naming ``source`` with the count of every value.
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
    distinct = _sorted_values(counts)
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


def read_table_files(
    paths: Sequence[str | os.PathLike],
    text_column: str,
    label_column: str,
    test_fraction: float,
    seed: int,
    encoding: str,
    *,
    classes: Sequence | None,
    ordered: bool,
) -> pa.Table:
    """Read users' CSV/TSV/Parquet files into a review table.

    CSV and TSV files are read as text in ``encoding``; a line that does not decode
    stops with an error naming the file, the line and the encoding.
    One path: split into train and test by ``test_fraction`` (stratified, ``seed``).
    Two paths: the train file and the test file. Labels must be at least two classes over
    all files, mapped to class indices by ``label_mapping`` (``classes``, the dataset's key,
    gives their order); more than two are recorded with ``ordered`` in the table's metadata
    (``Classes``). A missing value (null, NaN, or a cell spelling one, ``MISSING_VALUES``) is
    read alike in every format: a review without text is kept empty, which ``prepare``
    drops and counts (with a warning here naming the file and the rows); a missing
    label stops with an error naming the file, the column and the rows.
    """
    if len(paths) not in (1, 2):
        raise ValueError(f"expected one file or a train and a test file, got {list(paths)}")
    tables = []
    for path in paths:
        table = _read_file(path, encoding)
        texts, labels = _column(table, text_column, path), _column(table, label_column, path)
        missing = np.flatnonzero(_missing(labels))
        if len(missing):
            raise ValueError(
                f"{path}: column {label_column!r} has {len(missing)} empty values (null, NaN or a spelling of a "
                f"missing value such as '' or 'nan'; rows {(missing + 1).tolist()[:10]}, counting from 1 after "
                f"the header)"
            )
        missing = _missing(texts)
        if missing.any():
            rows = (np.flatnonzero(missing) + 1).tolist()
            log.warning(
                "%s: %d reviews have no text in column %r (null, NaN or a spelling of a missing value such as "
                "'nan'; rows %s, counting from 1 after the header): they are dropped with the empty reviews",
                path, len(rows), text_column, rows[:10],
            )  # fmt: skip
            cells = texts.cast(pa.string()).to_pylist()
            texts = pa.array(["" if gone else cell for cell, gone in zip(cells, missing)], pa.string())
            table = table.set_column(table.column_names.index(text_column), text_column, texts)
        tables.append(table)
    values = [v for t in tables for v in t.column(label_column).to_pylist()]
    sources = " and ".join(str(p) for p in paths)
    mapping = label_mapping(values, f"{sources}, column {label_column!r}", classes)
    names = [str(name) for name in classes] if classes is not None else [None] * len(set(mapping.values()))
    if classes is None:
        for value, index in mapping.items():
            names[index] = str(value)
    found = Classes(tuple(names), ordered)

    def reviews(table, path, splits):
        labels = [mapping[v] for v in table.column(label_column).to_pylist()]
        return pa.table(
            [
                [f"{Path(path).name}:{row}" for row in range(table.num_rows)],
                splits,
                pa.array(labels, label_type(len(found))),
                table.column(text_column).cast(pa.string()),
            ],
            schema=_reviews_schema(len(found)),
        )

    if len(paths) == 2:
        table = pa.concat_tables(
            [reviews(table, path, [split] * table.num_rows) for table, path, split in zip(tables, paths, SPLITS)]
        )
    else:
        labels = np.array([mapping[v] for v in tables[0].column(label_column).to_pylist()])
        is_test = stratified_holdout(labels, test_fraction, seed)
        table = reviews(tables[0], paths[0], np.where(is_test, "test", "train").tolist())
    return _with_classes(table, found)


# ---------------------------------------------------------------------------- SST-2 and Yelp archives

SST2_MEMBERS = {"train": "SST-2/train.tsv", "test": "SST-2/dev.tsv"}  # GLUE's test.tsv has no labels
YELP_MEMBERS = {"train": "yelp_review_polarity_csv/train.csv", "test": "yelp_review_polarity_csv/test.csv"}
YELP_LABELS = {"1": 0, "2": 1}


def _review_table(ids: list[str], splits: list[str], labels: list[int], texts: list[str], classes: int) -> pa.Table:
    return pa.table([ids, splits, pa.array(labels, label_type(classes)), texts], schema=_reviews_schema(classes))


def _require_members(path, names, members: Mapping[str, str], archive: str) -> None:
    """Raise a LayoutError naming the expected ``members`` (split -> name) that ``names`` lacks."""
    present = {name.removeprefix("./") for name in names}
    missing = [member for member in members.values() if member not in present]
    if missing:
        raise LayoutError(f"{path}: no member {missing} (not {archive}?)")


def _require_regular_file(path, member: tarfile.TarInfo, archive: str) -> None:
    """Raise a LayoutError naming the archive when ``member`` (one it must hold) is a link or a folder."""
    if member.isfile():
        return
    kind = "symbolic link" if member.issym() else "hard link" if member.islnk() else "folder or special file"
    target = f" to {member.linkname!r}" if member.linkname else ""
    raise LayoutError(f"{path}: member {member.name} is a {kind}{target}, not a regular file (not {archive}?)")


def _open_zip(path):
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise LayoutError(f"{path}: not a readable zip archive ({exc})") from exc


def check_sst2_layout(path: str | os.PathLike) -> dict[str, int]:
    """Check that a zip holds SST-2/train.tsv and SST-2/dev.tsv; return their sizes in bytes."""
    with _open_zip(path) as archive:
        _require_members(path, archive.namelist(), SST2_MEMBERS, "GLUE's SST-2.zip")
        return {member: archive.getinfo(member).file_size for member in SST2_MEMBERS.values()}


def read_sst2_archive(path: str | os.PathLike) -> pa.Table:
    """GLUE's ``SST-2.zip`` read in place: train.tsv is the train split, the labelled dev.tsv the test split."""
    columns = ([], [], [], [])
    with _open_zip(path) as archive:
        _require_members(path, archive.namelist(), SST2_MEMBERS, "GLUE's SST-2.zip")
        for split, member in SST2_MEMBERS.items():
            raw = archive.read(member).decode("utf-8")
            # GLUE's TSVs are unquoted: a '"' is part of the sentence.
            reader = csv.DictReader(io.StringIO(raw, newline=""), delimiter="\t", quoting=csv.QUOTE_NONE)
            if reader.fieldnames != ["sentence", "label"]:
                raise LayoutError(f"{path}: {member} has columns {reader.fieldnames}, expected ['sentence', 'label']")
            for row, record in enumerate(reader):
                if record["label"] not in ("0", "1"):
                    raise LabelError(f"{path}: {member} row {row + 1} has label {record['label']!r}, expected 0 or 1")
                for column, value in zip(
                    columns, (f"{Path(member).stem}:{row}", split, int(record["label"]), record["sentence"])
                ):
                    column.append(value)
    return _review_table(*columns, 2)


@dataclass(frozen=True)
class _CsvArchive:
    """One of Zhang et al.'s (2015) CSV archives: rows ``"label", "field", ...`` with labels 1..N."""

    name: str  # the official file name
    members: Mapping[str, str]  # split -> member
    fields: tuple[str, ...]  # the text fields after the label, joined by a space
    names: tuple[str, ...] | None  # the classes, or None: one per line of ``names_member``
    names_member: str | None
    ordered: bool

    def required(self) -> list[str]:
        return list(self.members.values()) + ([self.names_member] if self.names_member else [])


def _open_tar(path, mode: str):
    try:
        return tarfile.open(path, mode)
    except FileNotFoundError:
        raise
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise LayoutError(f"{path}: not a readable tar archive ({exc})") from exc


def _check_csv_layout(path, kind: _CsvArchive) -> dict[str, int]:
    """Check that a tar holds ``kind``'s members as regular files; return their sizes in bytes."""
    try:
        with _open_tar(path, "r|*") as tar:  # streaming: only the headers are looked at
            members = {member.name.removeprefix("./"): member for member in tar}
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise LayoutError(f"{path}: not a readable tar archive ({exc})") from exc
    required = dict(enumerate(kind.required()))
    _require_members(path, members, required, kind.name)
    for member in required.values():
        _require_regular_file(path, members[member], kind.name)
    return {member: members[member].size for member in required.values()}


def _read_csv_archive(path, kind: _CsvArchive) -> pa.Table:
    """A review table of one of Zhang et al.'s CSV archives, read in place; labels 1..N become 0..N-1."""
    read = []  # (split, member, rows), in the archive's order
    names = kind.names
    with _open_tar(path, "r:*") as tar:
        for member in tar:
            name = member.name.removeprefix("./")
            if name == kind.names_member:
                _require_regular_file(path, member, kind.name)
                lines = tar.extractfile(member).read().decode("utf-8").splitlines()
                names = tuple(line.strip() for line in lines if line.strip())
                continue
            split = next((s for s, member_name in kind.members.items() if name == member_name), None)
            if split is None:
                continue
            _require_regular_file(path, member, kind.name)
            text = io.TextIOWrapper(tar.extractfile(member), encoding="utf-8", newline="")
            read.append((split, name, list(csv.reader(text))))
    found = [name for _, name, _ in read] + ([kind.names_member] if kind.names_member and names else [])
    _require_members(path, found, dict(enumerate(kind.required())), kind.name)
    labels = {str(number): number - 1 for number in range(1, len(names) + 1)}
    expected = "label 1 or 2" if len(names) == 2 else f"label 1 to {len(names)}"
    columns = ([], [], [], [])
    for split, member, records in read:
        for row, record in enumerate(records):
            if len(record) != 1 + len(kind.fields) or record[0] not in labels:
                raise LabelError(
                    f"{path}: {member} row {row + 1} is not ({expected}, {', '.join(kind.fields)}): "
                    f"{record[: 1 + len(kind.fields)]!r}"
                )
            # Zhang et al.'s files quote as CSV ("" inside a text) and escape line breaks as \n.
            review = " ".join(record[1:]).replace("\\n", " ")
            for column, value in zip(columns, (f"{split}:{row}", split, labels[record[0]], review)):
                column.append(value)
    return _with_classes(_review_table(*columns, classes=len(names)), Classes(names, kind.ordered))


YELP = _CsvArchive("yelp_review_polarity_csv.tgz", YELP_MEMBERS, ("text",), ("1", "2"), None, False)
AG_NEWS_MEMBERS = {"train": "ag_news_csv/train.csv", "test": "ag_news_csv/test.csv"}
AG_NEWS_CLASSES = ("World", "Sports", "Business", "Sci/Tech")
AG_NEWS = _CsvArchive("ag_news_csv.tgz", AG_NEWS_MEMBERS, ("title", "description"), AG_NEWS_CLASSES, None, False)
YELP_FULL_MEMBERS = {"train": "yelp_review_full_csv/train.csv", "test": "yelp_review_full_csv/test.csv"}
YELP_FULL = _CsvArchive("yelp_review_full_csv.tgz", YELP_FULL_MEMBERS, ("text",), ("1", "2", "3", "4", "5"), None, True)
DBPEDIA_MEMBERS = {"train": "dbpedia_csv/train.csv", "test": "dbpedia_csv/test.csv"}
DBPEDIA = _CsvArchive("dbpedia_csv.tgz", DBPEDIA_MEMBERS, ("title", "content"), None, "dbpedia_csv/classes.txt", False)


def read_yelp_archive(path: str | os.PathLike) -> pa.Table:
    """Zhang et al.'s ``yelp_review_polarity_csv.tgz`` read in place (labels 1 negative, 2 positive)."""
    return _read_csv_archive(path, YELP)


def check_yelp_layout(path: str | os.PathLike) -> dict[str, int]:
    """Check that a tar holds yelp_review_polarity_csv/{train,test}.csv; return their sizes in bytes."""
    return _check_csv_layout(path, YELP)


def read_ag_news_archive(path: str | os.PathLike) -> pa.Table:
    """Zhang et al.'s ``ag_news_csv.tgz`` read in place: four topics (``AG_NEWS_CLASSES``), the text a
    title and a description joined by a space."""
    return _read_csv_archive(path, AG_NEWS)


def check_ag_news_layout(path: str | os.PathLike) -> dict[str, int]:
    """Check that a tar holds ag_news_csv/{train,test}.csv; return their sizes in bytes."""
    return _check_csv_layout(path, AG_NEWS)


def read_yelp_full_archive(path: str | os.PathLike) -> pa.Table:
    """Zhang et al.'s ``yelp_review_full_csv.tgz`` read in place: 1 to 5 stars, ordered classes."""
    return _read_csv_archive(path, YELP_FULL)


def check_yelp_full_layout(path: str | os.PathLike) -> dict[str, int]:
    """Check that a tar holds yelp_review_full_csv/{train,test}.csv; return their sizes in bytes."""
    return _check_csv_layout(path, YELP_FULL)


def read_dbpedia_archive(path: str | os.PathLike) -> pa.Table:
    """Zhang et al.'s ``dbpedia_csv.tgz`` read in place: 14 ontology classes named by its classes.txt,
    the text a title and the abstract joined by a space."""
    return _read_csv_archive(path, DBPEDIA)


def check_dbpedia_layout(path: str | os.PathLike) -> dict[str, int]:
    """Check that a tar holds dbpedia_csv/{train,test}.csv and classes.txt; return their sizes in bytes."""
    return _check_csv_layout(path, DBPEDIA)


ARCHIVE_READERS = {
    "aclimdb": read_archive,
    "synthetic": read_synthetic_archive,
    "sst2": read_sst2_archive,
    "yelp": read_yelp_archive,
    "ag_news": read_ag_news_archive,
    "yelp_full": read_yelp_full_archive,
    "dbpedia": read_dbpedia_archive,
}
# The kinds that are downloaded: the official file name, and the check of a local copy's layout
# (which stands in for the checksum, since a local copy need not be byte-identical).
DOWNLOADED_ARCHIVES = {
    "aclimdb": "aclImdb_v1.tar.gz",
    "sst2": "SST-2.zip",
    "yelp": YELP.name,
    "ag_news": AG_NEWS.name,
    "yelp_full": YELP_FULL.name,
    "dbpedia": DBPEDIA.name,
}
LAYOUT_CHECKS = {
    "aclimdb": check_archive_layout,
    "sst2": check_sst2_layout,
    "yelp": check_yelp_layout,
    "ag_news": check_ag_news_layout,
    "yelp_full": check_yelp_full_layout,
    "dbpedia": check_dbpedia_layout,
}


# The schema metadata key under which ``read_reviews`` records the files a review table comes from
# (a JSON list: the archive or the one table file, or the train and the test file), for prepare's errors.
INPUTS_KEY = b"rnn_dynamics.inputs"
# The key under which it records a table file's label column, for the same errors.
LABEL_COLUMN_KEY = b"rnn_dynamics.label_column"


def with_defaults(spec: Mapping) -> dict:
    """A dataset's config entry with the schema's default for every key its kind has and it leaves out."""
    return {**config.defaults(f"datasets.{spec['kind']}"), **spec}


def read_reviews(spec: Mapping, paths: Sequence[str | os.PathLike], seed: int) -> pa.Table:
    """The review table of a configured dataset (``spec`` is its entry under ``datasets``; a key left
    out takes the schema's default), with ``paths`` recorded in its metadata (``INPUTS_KEY``); ``seed``
    (``prepare.split_seed``) splits a single table file. A table file's label column is recorded too
    (``LABEL_COLUMN_KEY``)."""
    if spec["kind"] in ARCHIVE_READERS:
        (path,) = paths
        table = ARCHIVE_READERS[spec["kind"]](path)
    elif spec["kind"] == "table":
        spec = with_defaults(spec)
        table = read_table_files(
            paths,
            spec["text_column"],
            spec["label_column"],
            spec["test_fraction"],
            seed,
            spec["encoding"],
            classes=spec["classes"],
            ordered=spec["ordered"],
        )
    else:
        raise ValueError(f"unknown dataset kind {spec['kind']!r}")
    metadata = {**(table.schema.metadata or {}), INPUTS_KEY: json.dumps([str(path) for path in paths]).encode()}
    if spec["kind"] == "table":
        metadata[LABEL_COLUMN_KEY] = spec["label_column"].encode()
    return table.replace_schema_metadata(metadata)


# ---------------------------------------------------------------------------- prepare


def stratified_holdout(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A boolean mask choosing ``round(fraction * n)`` of the rows of each label, at random."""
    rng = np.random.default_rng(seed)
    held_out = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        held_out[rng.permutation(rows)[: round(fraction * len(rows))]] = True
    return held_out


def _tokenize_all(texts: pa.ChunkedArray, max_length: int | None):
    """Tokenize every review once into provisional word ids (first-seen order).

    Returns (ids int32 array of all tokens, lengths, words by provisional id). Keeping
    ids rather than millions of token strings keeps memory small; the vocabulary,
    built later from the training rows only, remaps them.
    """
    words = defaultdict(itertools.count().__next__)
    word_id = words.__getitem__
    ids = array.array("i")
    lengths = np.empty(len(texts), dtype=np.int32)
    for row, text in enumerate(tqdm(texts.to_pylist(), desc="tokenizing", unit=" reviews", mininterval=5)):
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
        schema=_tokens_schema(reviews.schema.field("label").type),
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


def _check_classes(
    labels: np.ndarray, rows: Mapping[str, np.ndarray], outputs, reviews: pa.Table, valid_fraction
) -> None:
    """Raise a LabelError, before anything is written, when a split lacks a class: a classifier cannot learn
    a class its training split lacks, nor be judged on a validation or test split without one (scikit-learn's
    fits in ``analyze`` fail on it, long after training).

    The error names the split's file, the input it comes from (and the label column, for a table file) and
    the count of every class in it (with the class's name, for N classes).
    """
    classes = _classes_of(reviews.schema, "the review table")
    outside = np.flatnonzero((labels < 0) | (labels >= len(classes)))
    if len(outside):
        raise LabelError(f"the review table has label {labels[outside[0]]}, outside its {len(classes)} classes")
    inputs = [str(path) for path in _inputs(reviews)]
    source = {"train": inputs[0], "test": inputs[-1]} if inputs else {"train": "the review table", "test": "it"}
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


def prepare(reviews: pa.Table, outputs: Mapping[str, str | os.PathLike], settings: PrepareSettings) -> dict:
    """Write the token tables and the vocabulary of a review table.

    The train split is divided into train and valid (``valid_fraction``, stratified by
    label, ``split_seed``); the vocabulary counts the (truncated) training reviews
    only; reviews are cut to their first ``max_length`` tokens. ``outputs`` maps
    ``train``, ``valid``, ``test`` and ``vocab`` to paths. Reviews with no tokens are
    dropped (a classifier reads the state at the last token), with a warning. Every split
    must hold every label (see ``_check_classes``): an error names the split's file and the
    input it came from (``read_reviews`` records the inputs in the table's metadata). An N-class review
    table's classes (its metadata, ``Classes``) go into the metadata of every split table. Returns
    row counts, the vocabulary size and ``dropped_empty``, the number of reviews dropped.
    """
    expected = {**dict(zip(REVIEWS_SCHEMA.names, REVIEWS_SCHEMA.types)), "label": None}  # int8 or int16
    storage.check_schema(reviews.schema, expected, "review table")
    if reviews.schema.field("label").type not in LABEL_TYPES:
        raise storage.SchemaError(
            f"review table: column 'label' has type {reviews.schema.field('label').type}, expected one of "
            f"{[str(type_) for type_ in LABEL_TYPES]}"
        )
    classes = _classes_of(reviews.schema, "the review table")
    valid_fraction = settings.valid_fraction
    ids, lengths, words = _tokenize_all(reviews.column("text"), settings.max_length)
    offsets = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)[:-1]])
    labels = reviews.column("label").to_numpy()
    split = reviews.column("split").to_numpy(zero_copy_only=False)
    nonempty = lengths > 0
    dropped = {name: int(((split == name) & ~nonempty).sum()) for name in SPLITS}
    if sum(dropped.values()):
        examples = reviews.column("id").take(np.flatnonzero(~nonempty)[:5]).to_pylist()
        log.warning("dropping %d reviews with no tokens (%s; e.g. %s)", sum(dropped.values()), dropped, examples)

    is_train = (split == "train") & nonempty
    held_out = np.zeros(len(labels), dtype=bool)
    train_rows = np.flatnonzero(is_train)
    held_out[train_rows] = stratified_holdout(labels[train_rows], valid_fraction, settings.split_seed)
    rows = {
        "train": np.flatnonzero(is_train & ~held_out),
        "valid": np.flatnonzero(is_train & held_out),
        "test": np.flatnonzero((split == "test") & nonempty),
    }
    for name, split_rows in rows.items():
        if len(split_rows) == 0:
            raise ValueError(
                f"the {name} split is empty ({dict((k, len(v)) for k, v in rows.items())} reviews; "
                f"valid_fraction {valid_fraction}): too few reviews of a label?"
            )
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
        storage.write_table(_with_classes(table, classes), outputs[name])
    storage.write_table(vocab.to_table(), outputs["vocab"])
    summary = {name: len(split_rows) for name, split_rows in rows.items()} | {"vocab": len(vocab)}
    summary["dropped_empty"] = sum(dropped.values())
    log.info("prepared %s", summary)
    return summary
