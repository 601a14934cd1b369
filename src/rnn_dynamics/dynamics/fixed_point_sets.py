"""What a fixed-point search found, as tables: the shard and gathered files' columns, ``gather`` (the shards
joined into one table per system, with the verdicts: converged below the search's tolerance, inside the state
space, outlier, one fixed point among duplicates), reading them back, and ``counts`` and ``line_summary``.

Numpy and Arrow only, no torch: the gather, table and page jobs read a search's results through this module
and start in a fraction of the time a torch import takes. The search itself is ``fixed_points``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pyarrow as pa

from rnn_dynamics.dynamics.spectra import first_pc_share, time_constant
from rnn_dynamics.ground.stages import EXACT_Q_TOL, GatherSettings, below_tolerance
from rnn_dynamics.ground.storage import list_matrix, read_table

__all__ = [
    "FIXED_POINT_COLUMNS",
    "RESULT_COLUMNS",
    "STRICT_Q_TOL",
    "UNIQUE_METRICS",
    "counts",
    "exact_roots",
    "gather",
    "gather_shards",
    "line_summary",
    "merge_duplicates",
    "read_fixed_points",
    "read_shard",
    "search_scale",
    "unique_fixed_points",
]

log = logging.getLogger(__name__)

UNIQUE_METRICS = ("chebyshev", "euclidean")
# The original paper counts a start as converged below this q; the reproduction used 1e-6.
STRICT_Q_TOL = 1e-8

# The columns of ``FixedPointResult.to_table`` (a shard file of the search), with their types
# (None: a list column, checked by name only).
RESULT_COLUMNS = {
    "start_index": pa.int32(),
    "start": None,
    "fixed_point": None,
    "q": pa.float64(),
    "iterations": pa.int32(),
    "solver_converged": pa.bool_(),
    "in_state_space": pa.bool_(),
    "at_bound": pa.bool_(),
    "exact_root": None,
    "exact_root_q": pa.float64(),
    "exact_root_in_state_space": pa.bool_(),
    "slow_point_modulus": pa.float64(),
}


def read_shard(path: str | Path) -> pa.Table:
    return read_table(path, RESULT_COLUMNS)


def search_scale(shards: list[pa.Table]) -> float | None:
    """The speed scale the shards' search stopped its starts by (their ``speed_scale`` metadata), one for all
    of them; None where none carries one (a result of ``solver.find`` alone)."""
    found = {(table.schema.metadata or {}).get(b"speed_scale") for table in shards}
    if len(found) > 1:
        raise ValueError(
            f"the shards were searched at different speed scales {sorted(map(str, found))}: they are not one "
            "search (their starts or their network differ); make them again"
        )
    value = found.pop() if found else None
    return None if value is None else float(value)


def gather(shards: list[pa.Table], settings: GatherSettings, multiple: float = 1.0) -> pa.Table:
    """Join shard tables into one table of all starts, ordered by start_index, with the verdicts added.

    A start converged where its q is below the search's tolerance (``settings.tolerance`` at the shards'
    speed scale, ``search_scale``) times ``multiple`` (1: the published set; the tolerance table's sweep
    reads the same search at looser ones). The gathered table's metadata records that tolerance.

    Added columns: ``converged`` (q below the tolerance); ``outlier`` (a converged point whose nearest
    other converged point is farther than ``outlier_distance``, Euclidean); ``fixed_point_id``
    (the unique fixed point of a converged, non-outlier start inside the state space
    (``in_state_space`` and not ``at_bound``), -1 otherwise) and ``representative`` (the row
    with the lowest q of its fixed point); ``exact_root_id`` and ``exact_root_representative``
    do the same for the exact roots, where sought (-1 and false otherwise). Two points are one
    fixed point when every coordinate differs by less than ``unique_tol`` (``chebyshev``, the
    reproduction's rule) or their Euclidean distance is below it (``euclidean``, FixedPointFinder's).
    """
    unique_tol, unique_metric = settings.unique_tol, settings.unique_metric
    scale = search_scale(shards) if settings.q_rule == "relative" else None
    tolerance = settings.tolerance(scale) * multiple
    if unique_metric not in UNIQUE_METRICS:
        raise ValueError(f"unique_metric must be one of {UNIQUE_METRICS}, not {unique_metric!r}")
    table = pa.concat_tables(shards).sort_by("start_index")
    start_index = table["start_index"].to_numpy()
    if len(np.unique(start_index)) != len(start_index):
        raise ValueError("shards overlap: a start_index occurs in more than one shard")
    points = list_matrix(table["fixed_point"])
    q = table["q"].to_numpy()
    converged = below_tolerance(q, tolerance)
    reachable = converged & table["in_state_space"].to_numpy() & ~table["at_bound"].to_numpy()
    outlier = np.zeros(len(q), dtype=bool)
    if settings.outlier_distance is not None:
        outlier[reachable] = _isolated(points[reachable], settings.outlier_distance)
    kept = np.flatnonzero(reachable & ~outlier)
    ids = np.full(len(q), -1, dtype=np.int32)
    representative = np.zeros(len(q), dtype=bool)
    ids[kept], rep_rows = merge_duplicates(points[kept], q[kept], unique_tol, unique_metric)
    representative[kept[rep_rows]] = True
    # Exact roots (where sought) are merged on their own: many approximate points lead to one root.
    root_q = table["exact_root_q"].to_numpy()
    rooted = np.flatnonzero(table["exact_root_in_state_space"].to_numpy() & below_tolerance(root_q, EXACT_Q_TOL))
    root_ids = np.full(len(q), -1, dtype=np.int32)
    root_representative = np.zeros(len(q), dtype=bool)
    root_ids[rooted], root_rows = merge_duplicates(
        list_matrix(table["exact_root"])[rooted], root_q[rooted], unique_tol, unique_metric
    )
    root_representative[rooted[root_rows]] = True
    metadata = dict(table.schema.metadata or {})
    metadata[b"gather"] = json.dumps(settings.params()).encode()
    metadata[b"tolerance"] = repr(tolerance).encode()
    if scale is not None:
        metadata[b"speed_scale"] = repr(scale).encode()
    return (
        table.append_column("converged", pa.array(converged))
        .append_column("outlier", pa.array(outlier))
        .append_column("fixed_point_id", pa.array(ids))
        .append_column("representative", pa.array(representative))
        .append_column("exact_root_id", pa.array(root_ids))
        .append_column("exact_root_representative", pa.array(root_representative))
        .replace_schema_metadata(metadata)
    )


def merge_duplicates(points: np.ndarray, q: np.ndarray, tol: float, metric: str):
    """Group ``points`` (K, S) into fixed points, each represented by its lowest-q member.

    Points are visited in increasing q; one within ``tol`` of an existing
    representative joins it, otherwise it becomes a new one. Returns (the id of each
    point's fixed point, numbered in increasing q of the representatives; the row
    index of each representative).
    """
    ids = np.full(len(points), -1, dtype=np.int32)
    representatives: list[int] = []
    for row in np.argsort(q, kind="stable"):
        if representatives:
            diff = points[representatives] - points[row]
            distance = np.abs(diff).max(axis=1) if metric == "chebyshev" else np.linalg.norm(diff, axis=1)
            nearest = int(np.argmin(distance))
            if distance[nearest] < tol:
                ids[row] = nearest
                continue
        ids[row] = len(representatives)
        representatives.append(int(row))
    return ids, np.array(representatives, dtype=np.int64)


def _isolated(points: np.ndarray, distance: float) -> np.ndarray:
    """Which points have no other point within ``distance`` (Euclidean)."""
    if len(points) < 2:
        return np.ones(len(points), dtype=bool)
    squared = (points**2).sum(axis=1)
    gaps = np.sqrt(np.maximum(squared[:, None] + squared[None, :] - 2 * points @ points.T, 0.0))
    np.fill_diagonal(gaps, np.inf)
    return gaps.min(axis=1) > distance


FIXED_POINT_COLUMNS = {
    **RESULT_COLUMNS,
    "converged": pa.bool_(),
    "outlier": pa.bool_(),
    "fixed_point_id": pa.int32(),
    "representative": pa.bool_(),
    "exact_root_id": pa.int32(),
    "exact_root_representative": pa.bool_(),
}


def read_fixed_points(path: str | Path) -> pa.Table:
    """A gathered table (one row per start), schema-checked."""
    return read_table(path, FIXED_POINT_COLUMNS)


def unique_fixed_points(table: pa.Table) -> pa.Table:
    """The representative rows of a gathered table, ordered by fixed_point_id."""
    return table.filter(table["representative"]).sort_by("fixed_point_id")


def exact_roots(table: pa.Table) -> pa.Table:
    """The representative rows of the exact roots in a gathered table, ordered by exact_root_id."""
    return table.filter(table["exact_root_representative"]).sort_by("exact_root_id")


def counts(table: pa.Table) -> dict:
    """Starts, the search's speed scale and tolerance (NaN where the table does not record them), converged
    starts (below that tolerance, and below 1e-8), slow points, approximate fixed points and exact roots.

    Slow points are the starts that settled at a minimum of q above q_tol (common for an
    LSTM's (h, c) state): counted apart, with their median q, not lost. ``exact_roots``
    is -1 where they were not sought.
    """
    q = table["q"].to_numpy()
    converged = table["converged"].to_numpy()
    sought = bool(np.isfinite(table["exact_root_q"].to_numpy()).any())
    metadata = table.schema.metadata or {}
    return {
        "starts": len(q),
        "speed_scale": float(metadata.get(b"speed_scale", b"nan")),
        "tolerance": float(metadata.get(b"tolerance", b"nan")),
        "converged": int(np.sum(converged)),
        "slow_points": int(np.sum(~converged)),
        "slow_point_median_q": float(np.median(q[~converged])) if (~converged).any() else float("nan"),
        "slow_point_time_constant": float(
            time_constant(np.nanmedian(table["slow_point_modulus"].to_numpy()[~converged]))
        )
        if np.isfinite(table["slow_point_modulus"].to_numpy()[~converged]).any()
        else float("nan"),
        "converged_1e-8": int(np.sum(below_tolerance(q, STRICT_Q_TOL))),
        "outside_state_space": int(np.sum(converged & ~table["in_state_space"].to_numpy())),
        "at_bound": int(np.sum(converged & table["at_bound"].to_numpy())),
        "unique_fixed_points": int(np.sum(table["representative"].to_numpy())),
        "exact_roots": int(np.sum(table["exact_root_representative"].to_numpy())) if sought else -1,
    }


def line_summary(points: np.ndarray, axis: np.ndarray, origin: np.ndarray) -> dict:
    """How a set of fixed points (K, S) lies: its extent along ``axis`` (the visited states' PC1, through
    ``origin``, their mean) and the share of its own variance on its first principal component."""
    points = np.asarray(points, dtype=np.float64)
    if len(points) < 2:
        return {
            "count": len(points),
            "axis_min": float("nan"),
            "axis_max": float("nan"),
            "first_pc_share": float("nan"),
        }
    along = (points - origin) @ axis
    return {
        "count": len(points),
        "axis_min": float(along.min()),
        "axis_max": float(along.max()),
        "first_pc_share": first_pc_share(points),
    }


def gather_shards(paths: list[str | Path], settings: GatherSettings) -> pa.Table:
    """Read shard files and ``gather`` them with ``settings``."""
    table = gather([read_shard(path) for path in paths], settings)
    log.info("%s", counts(table))
    return table
