"""Writing outputs atomically and reading tables with the schema a step expects.

Every output goes to a temporary file beside its destination and is renamed
into place only when complete, so an interrupted job never leaves a
half-written file that looks finished.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it onto ``path`` if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    # mkstemp makes the file private (0600); give it the permissions a plain open() would.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_table(table: pa.Table, path: str | os.PathLike, **kwargs) -> None:
    """Write a Parquet table atomically."""
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, **kwargs)


def write_json(obj, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def list_column(matrix: np.ndarray) -> pa.FixedSizeListArray:
    """A (rows, ...) array as a column with one fixed-size list per row, trailing dimensions flattened."""
    matrix = np.ascontiguousarray(matrix)
    return pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1)), int(np.prod(matrix.shape[1:])))


def list_matrix(column: pa.Array | pa.ChunkedArray, *shape: int) -> np.ndarray:
    """A list column as an array (rows, *shape); ``shape`` defaults to a fixed-size list's length."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if not shape:
        shape = (array.type.list_size,) if pa.types.is_fixed_size_list(array.type) else (-1,)
    return array.flatten().to_numpy(zero_copy_only=False).reshape(len(array), *shape)


class SchemaError(ValueError):
    """A table on disk lacks a column the reader needs, or has it with another type."""


def check_schema(schema: pa.Schema, expected: pa.Schema | dict, source: str | os.PathLike) -> None:
    """Raise SchemaError naming ``source`` and the column when ``schema`` lacks a field of ``expected``."""
    fields = expected.items() if isinstance(expected, dict) else ((f.name, f.type) for f in expected)
    for name, type_ in fields:
        if name not in schema.names:
            raise SchemaError(f"{source}: missing column {name!r} (has {schema.names})")
        actual = schema.field(name).type
        if type_ is not None and actual != type_:
            raise SchemaError(f"{source}: column {name!r} has type {actual}, expected {type_}")


def read_table(path: str | os.PathLike, expected: pa.Schema | dict, columns: list[str] | None = None) -> pa.Table:
    """Read a Parquet file after checking that it has the ``expected`` columns and types.

    ``expected`` maps column names to pyarrow types (``None`` accepts any type).
    """
    try:
        schema = pq.read_schema(path)
    except FileNotFoundError:
        raise
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise SchemaError(f"{path}: not a readable Parquet file ({exc})") from exc
    check_schema(schema, expected, path)
    return pq.read_table(path, columns=columns)
