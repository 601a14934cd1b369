"""The users' own data (``kind: table``): CSV, TSV or Parquet files read into a review table.

A review's id is its file's name and its place there: the line it starts on in a CSV/TSV file (the header
is line 1), its row counting from 1 in a Parquet file; the warnings and errors about a file's rows use the
same numbers.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from rnn_dynamics.data.datasets.cleaning import check_rules, clean_texts
from rnn_dynamics.data.datasets.schema import (
    SPLITS,
    Classes,
    LabelError,
    is_number,
    label_mapping,
    label_type,
    reviews_schema,
    sorted_values,
    with_classes,
)
from rnn_dynamics.data.datasets.token_tables import stratified_holdout
from rnn_dynamics.ground import storage

__all__ = ["MISSING_VALUES", "TABLE_KIND", "read_table_files"]

log = logging.getLogger(__name__)

# The dataset kind of users' own files (the config schema's ``$defs.table``).
TABLE_KIND = "table"

# Cells that spell a missing value (pandas' spellings, which cover pyarrow's): read as such in text and
# label columns of CSV, TSV and Parquet files alike, besides nulls and float NaNs.
MISSING_VALUES = frozenset(
    ["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A",
     "NA", "NULL", "NaN", "None", "n/a", "nan", "null"]
)  # fmt: skip


def _format(path) -> str:
    """The table format of ``path`` by its name: ``parquet``, ``csv`` or ``tsv`` (compression suffixes aside)."""
    name = Path(path).name.lower()
    for suffix in (".gz", ".bz2", ".zst"):  # pyarrow.csv decompresses these by extension
        name = name.removesuffix(suffix)
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".tsv", ".tab")):
        return "tsv"
    raise ValueError(f"{path}: unknown table format; use .csv, .tsv or .parquet")


def _read_file(path: str | os.PathLike, encoding: str) -> pa.Table:
    """A CSV/TSV (text in ``encoding``) or Parquet file as a table."""
    kind = _format(path)
    if kind == "parquet":
        with storage.reading(path):  # not pq.read_table, which fails on a repeated column name without naming it
            return pq.ParquetFile(path).read()
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ValueError(f"{path}: unknown encoding {encoding!r} (the dataset's `encoding` key)") from None
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(encoding=encoding),
            parse_options=pacsv.ParseOptions(delimiter="," if kind == "csv" else "\t"),
        )
    except (UnicodeDecodeError, pa.ArrowInvalid) as exc:
        _raise_for_encoding(path, encoding)  # if a line does not decode, name it
        raise ValueError(f"{path}: not a readable {kind.upper()} file ({exc})") from exc
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


def _places(path, table: pa.Table, encoding: str) -> tuple[np.ndarray, str]:
    """Where each row of ``table`` (read from ``path``) is in its file, and the word for it: the line each
    record starts on in a CSV/TSV file (``"lines"``; a quoted field may span lines, and blank lines are
    skipped as pyarrow skips them), the row counting from 1 in a Parquet file (``"rows"``)."""
    kind = _format(path)
    if kind == "parquet":
        return np.arange(1, table.num_rows + 1), "rows"
    starts, previous = [], 0
    with pa.input_stream(str(path), compression="detect") as stream:
        text = io.TextIOWrapper(stream, encoding=encoding, newline="")
        reader = csv.reader(text, delimiter="," if kind == "csv" else "\t")
        for record in reader:
            if record:
                starts.append(previous + 1)
            previous = reader.line_num
    starts = starts[1:]  # the header
    if len(starts) != table.num_rows:  # a quoting Python's csv reads otherwise: every record on one line
        return np.arange(2, table.num_rows + 2), "lines"
    return np.array(starts), "lines"


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


def _as_text(value) -> str:
    """A label value as text: a whole number without its ``.0``, so that 1.0 and "1" match."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _value_type(values: list) -> str:
    """The type of a file's label values, as the error about two files of different types names it."""
    if all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in values):
        return "numbers"
    if all(isinstance(value, str) for value in values):
        return "text"
    return ", ".join(sorted({type(value).__name__ for value in values}))


def _label_values(labels: list[list], paths: Sequence, column: str) -> list[list]:
    """The label values of each file, matched across the train and the test file: as they are where both
    hold values of one type, as text where one holds numbers and the other text (1 and "1" are one class).
    Files whose values match in neither way raise a LabelError naming both files and their types."""
    types = [_value_type(values) for values in labels]
    if len(set(types)) == 1:
        return labels
    as_text = [[_as_text(value) for value in values] for values in labels]
    if set(as_text[0]) != set(as_text[1]):
        found = "; ".join(
            f"{path} has {kind} {sorted_values(set(values))[:10]}" for path, kind, values in zip(paths, types, as_text)
        )
        raise LabelError(
            f"{paths[0]} and {paths[1]}: column {column!r} holds labels of different types that differ as text too "
            f"({found}); write the labels alike in both files"
        )
    log.warning(
        "labels of two types in column %r: %s has %s, %s has %s; matched as text", column, paths[0], types[0],
        paths[1], types[1],
    )  # fmt: skip
    return as_text


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
    clean: Sequence[str] = (),
) -> pa.Table:
    """Read users' CSV/TSV/Parquet files into a review table.

    CSV and TSV files are read as text in ``encoding``; a line that does not decode
    stops with an error naming the file, the line and the encoding; a file with a header only stops with
    an error naming it. One path: split into train and test by ``test_fraction`` (stratified, ``seed``).
    Two paths: the train file and the test file, whose labels are matched as text where one file holds
    numbers and the other text (``_label_values``). Labels must be at least two classes over
    all files, mapped to class indices by ``label_mapping`` (``classes``, the dataset's key,
    gives their order); more than two are recorded with ``ordered`` in the table's metadata
    (``Classes``); an order of more than two labels that are not all numbers must come from ``classes``.
    A missing value (null, NaN, or a cell spelling one, ``MISSING_VALUES``) is
    read alike in every format: a review without text is kept empty, which ``prepare``
    drops and counts (with a warning here naming the file and the lines or rows); a missing
    label stops with an error naming the file, the column and the lines or rows. The texts go through the
    cleaning rules named in ``clean`` (``cleaning.RULES``; the dataset's ``clean`` key), none by default.
    """
    clean = check_rules(clean, "the dataset's `clean` key")
    if len(paths) not in (1, 2):
        raise ValueError(f"expected one file or a train and a test file, got {list(paths)}")
    tables, places = [], []
    for path in paths:
        table = _read_file(path, encoding)
        texts, labels = _column(table, text_column, path), _column(table, label_column, path)
        if table.num_rows == 0:
            raise ValueError(f"{path}: has no rows (a header only: {table.column_names}); every file needs reviews")
        numbers, unit = _places(path, table, encoding)
        missing = np.flatnonzero(_missing(labels))
        if len(missing):
            raise ValueError(
                f"{path}: column {label_column!r} has {len(missing)} empty values (null, NaN or a spelling of a "
                f"missing value such as '' or 'nan'; {unit} {numbers[missing].tolist()[:10]})"
            )
        missing = _missing(texts)
        if missing.any():
            log.warning(
                "%s: %d reviews have no text in column %r (null, NaN, blanks or a spelling of a missing value such "
                "as 'nan'; %s %s): they are dropped with the empty reviews",
                path, int(missing.sum()), text_column, unit, numbers[missing].tolist()[:10],
            )  # fmt: skip
            cells = texts.cast(pa.string()).to_pylist()
            texts = pa.array(["" if gone else cell for cell, gone in zip(cells, missing)], pa.string())
            table = table.set_column(table.column_names.index(text_column), text_column, texts)
        tables.append(table)
        places.append(numbers)
    labels = _label_values([table.column(label_column).to_pylist() for table in tables], paths, label_column)
    sources = " and ".join(str(p) for p in paths)
    mapping = label_mapping([v for values in labels for v in values], f"{sources}, column {label_column!r}", classes)
    if classes is None and ordered and len(mapping) > 2 and not all(is_number(value) for value in mapping):
        raise LabelError(
            f"{sources}, column {label_column!r}: `ordered: true` with labels {sorted_values(mapping)[:20]}, which "
            f"are not all numbers, so the data cannot give their order: list them in order under the dataset's "
            f"`classes` key"
        )
    names = [str(name) for name in classes] if classes is not None else [None] * len(set(mapping.values()))
    if classes is None:
        for value, index in mapping.items():
            names[index] = str(value)
    found = Classes(tuple(names), ordered)

    def reviews(table, values, numbers, path, splits):
        return pa.table(
            [
                [f"{Path(path).name}:{number}" for number in numbers],
                splits,
                pa.array([mapping[v] for v in values], label_type(len(found))),
                pa.array(clean_texts(table.column(text_column).cast(pa.string()).to_pylist(), clean), pa.string())
                if clean
                else table.column(text_column).cast(pa.string()),
            ],
            schema=reviews_schema(len(found)),
        )

    if len(paths) == 2:
        table = pa.concat_tables(
            [
                reviews(table, values, numbers, path, [split] * table.num_rows)
                for table, values, numbers, path, split in zip(tables, labels, places, paths, SPLITS)
            ]
        )
    else:
        is_test = stratified_holdout(np.array([mapping[v] for v in labels[0]]), test_fraction, seed)
        table = reviews(tables[0], labels[0], places[0], paths[0], np.where(is_test, "test", "train").tolist())
    return with_classes(table, found)
