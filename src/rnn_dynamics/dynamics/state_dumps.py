"""The hidden states as the hidden-states job stores them: a Parquet file per layer (review, t, label, h) and the
example reviews' trajectories, read back as numpy arrays; a system's states (a layer's, or the stack's joined).

Numpy and Arrow only, no torch: the figure jobs read the states through this module, and the search reads its
starts from it. ``states`` writes them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from rnn_dynamics.ground import storage

__all__ = ["EXAMPLES_SCHEMA", "layer_schema", "read_examples", "read_layer", "system_states"]


EXAMPLES_SCHEMA = pa.schema(
    [
        ("name", pa.string()),
        ("layer", pa.int32()),
        ("t", pa.int32()),
        ("token", pa.string()),
        ("h", pa.list_(pa.float32())),
        ("probability", pa.float64()),
    ]
)


def layer_schema(state_size: int) -> pa.Schema:
    """The schema of ``states/{model}/layer{n}.parquet`` for a layer with ``state_size`` units."""
    return pa.schema(
        [
            ("review", pa.int32()),
            ("t", pa.int32()),
            ("label", pa.int8()),
            ("h", pa.list_(pa.float32(), state_size)),
        ]
    )


def read_layer(path: str | Path, max_rows: int | None = None, seed: int | None = None) -> dict[str, np.ndarray]:
    """A layer dump as arrays (review, t, label, h (N, S)); a sample of ``max_rows`` rows chosen with
    ``seed`` if given.

    Reads one row group at a time, so a sample of a large dump needs memory only for the sample.
    """
    if max_rows is not None and seed is None:
        raise ValueError("a sample of max_rows rows needs a seed")
    with storage.reading(path):
        parquet = pq.ParquetFile(path)
    expected = {"review": pa.int32(), "t": pa.int32(), "label": pa.int8(), "h": None}
    storage.check_schema(parquet.schema_arrow, expected, path)
    h_type = parquet.schema_arrow.field("h").type
    if not pa.types.is_fixed_size_list(h_type) or h_type.value_type != pa.float32():
        raise storage.SchemaError(
            f"{path}: column 'h' has type {h_type}, expected fixed_size_list<float32>{storage.remake_hint(path)}"
        )
    n_rows = parquet.metadata.num_rows
    chosen = np.arange(n_rows)
    if max_rows is not None and max_rows < n_rows:
        chosen = np.sort(np.random.default_rng(seed).choice(n_rows, size=max_rows, replace=False))
    parts, start = [], 0
    for group in range(parquet.num_row_groups):
        size = parquet.metadata.row_group(group).num_rows
        rows = chosen[(chosen >= start) & (chosen < start + size)] - start
        if len(rows):
            with storage.reading(path):
                parts.append(parquet.read_row_group(group).take(pa.array(rows)))
        start += size
    table = pa.concat_tables(parts) if parts else parquet.schema_arrow.empty_table()
    return {
        "review": table.column("review").to_numpy(),
        "t": table.column("t").to_numpy(),
        "label": table.column("label").to_numpy(),
        "h": storage.list_matrix(table.column("h")),
    }


def read_examples(path: str | Path) -> pd.DataFrame:
    return storage.read_table(path, EXAMPLES_SCHEMA).to_pandas()


def system_states(states_dir: str | Path, system: str) -> np.ndarray:
    """The visited states of ``system`` read from a model's layer dumps, as a (N, S) float32 array.

    ``layer{k}`` is that layer's file; ``stack`` joins every layer's states on
    (review, t) and concatenates them in layer order, the joint state of the stack.
    """
    states_dir = Path(states_dir)
    if system.startswith("layer"):
        return read_layer(states_dir / f"{system}.parquet")["h"]
    if system != "stack":
        raise ValueError(f"system must be 'layer<k>' or 'stack', not {system!r}")
    paths = sorted(states_dir.glob("layer*.parquet"), key=lambda p: int(p.stem.removeprefix("layer")))
    if not paths:
        raise FileNotFoundError(f"{states_dir}: no layer*.parquet state dumps")
    keys, blocks = None, []
    for path in paths:
        layer = read_layer(path)
        index = {key: row for row, key in enumerate(zip(layer["review"].tolist(), layer["t"].tolist()))}
        if keys is None:
            keys = list(index)
        missing = [key for key in keys if key not in index]
        if missing:
            raise ValueError(f"{path}: lacks (review, t) = {missing[0]} present in {paths[0]}")
        blocks.append(layer["h"][[index[key] for key in keys]])
    return np.concatenate(blocks, axis=1)
