"""The fixed-point search of a recurrent layer (or the stack): starts, shards, gathering, deduplication.

A network that reads text is a discrete dynamical system ``h_t = F(h_{t-1}, x_t)``; with the
input held at ``x* = 0`` its slow regions show the attractors it computes with. Two objects
come out of the same search: the paper's **approximate fixed points**, where each start (a
visited state) descends ``q(h) = 1/S ||h - F(h, x*)||^2`` until ``q < q_tol`` and, on a line
attractor, stays near where it started, spread along the slow line; and, as an extension
(``exact_roots``), the **exact roots** of ``h = F(h, x*)`` each of them leads to, a few points
where the line collapses, some beyond the states the network can reach.

The solver (``solver.find``, ``solver.polish``) finds both. This module is the search around
it: the starts are sampled once from a seed and split into shards (independent jobs,
``solve_shard``); ``gather`` joins the shards, decides which starts converged and merges
duplicates into one table per system; ``counts`` and ``line_summary`` say what was found.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch

from rnn_dynamics.dynamics import solver
from rnn_dynamics.dynamics.spectra import first_pc_share, time_constant
from rnn_dynamics.dynamics.states import read_layer
from rnn_dynamics.ground.stages import GatherSettings, SearchSettings
from rnn_dynamics.ground.storage import list_matrix, read_table

__all__ = [
    "FIXED_POINT_COLUMNS",
    "STRICT_Q_TOL",
    "UNIQUE_METRICS",
    "GatherSettings",
    "SearchSettings",
    "approximate_set",
    "counts",
    "exact_roots",
    "gather",
    "gather_shards",
    "line_summary",
    "merge_duplicates",
    "parse_scatteritem",
    "read_fixed_points",
    "read_shard",
    "sample_starts",
    "shard_rows",
    "solve",
    "solve_shard",
    "search_scale",
    "system_states",
    "tolerance_sweep",
    "unique_fixed_points",
]

log = logging.getLogger(__name__)

UNIQUE_METRICS = ("chebyshev", "euclidean")
# The original paper counts a start as converged below this q; the reproduction used 1e-6.
STRICT_Q_TOL = 1e-8


# ---------------------------------------------------------------------------
# Starting states


def sample_starts(states: np.ndarray, n: int, noise: float, seed: int) -> np.ndarray:
    """``n`` distinct rows of ``states`` (N, S), chosen with ``seed``, plus Gaussian noise of std ``noise``.

    Returned in float64: the solver works in double precision.
    """
    states = np.asarray(states)
    if states.ndim != 2:
        raise ValueError(f"states must be a (N, S) array, got shape {states.shape}")
    if n > len(states):
        raise ValueError(f"cannot sample {n} distinct starts from {len(states)} states; lower fixed_points.starts")
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(states), size=n, replace=False))
    starts = states[rows].astype(np.float64)
    if noise > 0:
        starts += noise * rng.standard_normal(starts.shape)
    return starts


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


def shard_rows(n_starts: int, index: int, count: int) -> slice:
    """The rows of the start array that shard ``index`` (0-based) of ``count`` solves.

    Contiguous, near-equal slices of starts sampled once: every split covers the
    same starts, so the gathered result does not depend on ``count``.
    """
    if not 0 <= index < count:
        raise ValueError(f"shard index {index} is outside 0..{count - 1}")
    bounds = np.linspace(0, n_starts, count + 1).round().astype(int)
    return slice(int(bounds[index]), int(bounds[index + 1]))


def parse_scatteritem(scatteritem: str) -> tuple[int, int]:
    """Snakemake's ``"i-of-n"`` (1-based) as (0-based index, count)."""
    try:
        i, n = (int(part) for part in scatteritem.split("-of-"))
    except ValueError:
        raise ValueError(f"scatteritem {scatteritem!r} is not of the form 'i-of-n'") from None
    if not 1 <= i <= n:
        raise ValueError(f"scatteritem {scatteritem!r}: i must lie in 1..n")
    return i - 1, n


# ---------------------------------------------------------------------------
# Gathering shards into one table per system


def read_shard(path: str | Path) -> pa.Table:
    return read_table(path, solver.RESULT_COLUMNS)


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
    converged = solver.below_tolerance(q, tolerance)
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
    rooted = np.flatnonzero(
        table["exact_root_in_state_space"].to_numpy() & solver.below_tolerance(root_q, solver.EXACT_Q_TOL)
    )
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
    **solver.RESULT_COLUMNS,
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
        "converged_1e-8": int(np.sum(solver.below_tolerance(q, STRICT_Q_TOL))),
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


def tolerance_sweep(
    table: pa.Table, multiples, system, search: SearchSettings, device: str | torch.device = "cpu"
) -> list[tuple[float, float, pa.Table]]:
    """A gathered ``table``'s search run again from its starts with each of ``multiples`` of its tolerance
    (each start stopped there, as the search would have, and judged by the table's own gather settings, its
    ``gather`` metadata): (multiple, tolerance, the gathered table) per multiple; multiple 1 is ``table``
    itself, the published set. Where a start stops decides where its point lies along a slow manifold, so a
    sweep re-solves rather than re-reads one search's endpoints. ``system`` and ``search`` (the shards'
    settings) are the table's."""
    metadata = table.schema.metadata or {}
    if b"gather" not in metadata:
        raise ValueError("the table has no gather metadata: it is not a gathered fixed-point table")
    settings = GatherSettings.from_params(json.loads(metadata[b"gather"]))
    scale = search_scale([table])
    starts = list_matrix(table["start"], system.state_size)
    swept = []
    for multiple in map(float, multiples):
        if multiple == 1.0:
            gathered = table
        else:
            result = solve(system, starts, search, device, progress=False, scale=scale, multiple=multiple)
            gathered = gather([result.to_table(table["start_index"].to_numpy())], settings, multiple)
        swept.append((multiple, settings.tolerance(scale) * multiple, gathered))
    return swept


def approximate_set(result: solver.FixedPointResult, settings: GatherSettings) -> np.ndarray:
    """The unique approximate fixed points (K, S) of a solver result held in memory, ordered by fixed_point_id:
    ``gather``'s verdicts (below ``q_tol``, inside the state space, not an outlier, deduplicated) on its one
    table, so an analysis run outside the pipeline keeps the points the pipeline would keep."""
    points = unique_fixed_points(gather([result.to_table()], settings))["fixed_point"]
    return list_matrix(points, result.fixed_point.shape[1])


# ---------------------------------------------------------------------------
# The pipeline's steps


def solve(
    system,
    starts,
    settings: SearchSettings,
    device: str | torch.device = "cpu",
    progress: bool = True,
    scale: float | None = None,
    multiple: float = 1.0,
    **options,
) -> solver.FixedPointResult:
    """``solver.find`` from ``starts`` (B, S) with the search's ``settings``, on ``device``, each start stopped
    at the search's tolerance (``settings.tolerance``) for the speed scale ``scale`` (the median q of the
    search's starts, ``solver.speed_scale``; None: of ``starts``), which the result carries to the gather;
    ``multiple`` times it for a tolerance sweep (``tolerance_sweep``).

    ``options`` go to ``solver.find`` unchanged (``x``, ``batched``, ``linear_algebra``, ...).
    """
    if scale is None:
        scale = solver.speed_scale(system, starts, options.get("x"), device)
    result = solver.find(
        system, starts, method=settings.method, max_iterations=settings.max_iterations,
        tolerance=settings.tolerance(scale) * multiple, damping=settings.damping, learning_rate=settings.learning_rate,
        bounded=settings.bounded, single_precision=settings.single_precision, device=device, progress=progress,
        **options,
    )  # fmt: skip
    return dataclasses.replace(result, speed_scale=scale)


def solve_shard(
    system, states: np.ndarray, settings: SearchSettings, index: int, count: int, device: str | torch.device = "cpu"
) -> pa.Table:
    """Shard ``index`` of ``count``: sample the search's starts from ``states``, solve this shard's slice,
    measure its slow points and, where ``settings.exact_roots``, polish its endpoints to exact roots."""
    if count > settings.starts:  # the Snakefile's config check stops this before any job runs
        raise ValueError(
            f"shard {index + 1} of {count}: fixed_points.shards ({count}) is larger than fixed_points.starts "
            f"({settings.starts}), so some shards have no starts; set fixed_points.shards to at most "
            f"{settings.starts}"
        )
    starts = sample_starts(states, settings.starts, settings.noise, settings.seed)
    rows = shard_rows(len(starts), index, count)
    log.info(
        "shard %d of %d: starts %d..%d of %d on %s", index + 1, count, rows.start, rows.stop - 1, len(starts), device
    )
    result = solve(system, starts[rows], settings, device, scale=solver.speed_scale(system, starts, device=device))
    log.info(
        "%s: %d of %d starts reached approximate fixed points (q < %.0e) in %.1f s (at most %d iterations)",
        result.method,
        result.converged.sum(),
        len(result.q),
        result.tolerance,
        result.seconds,
        result.iterations.max(initial=0),
    )
    result = solver.measure_slow_points(system, result, device=device)
    if settings.exact_roots:
        result = solver.polish(
            system, result, max_iterations=settings.max_iterations, bounded=settings.bounded, device=device
        )
        roots = result.exact_roots
        log.info(
            "exact roots: %d of %d starts reached q < %.0e in %.1f s",
            roots.converged.sum(),
            len(roots.q),
            solver.EXACT_Q_TOL,
            roots.seconds,
        )
    return result.to_table(np.arange(len(starts))[rows])


def gather_shards(paths: list[str | Path], settings: GatherSettings) -> pa.Table:
    """Read shard files and ``gather`` them with ``settings``."""
    table = gather([read_shard(path) for path in paths], settings)
    log.info("%s", counts(table))
    return table
