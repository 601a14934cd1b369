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
``solve_shard``). What the search found, as tables (``gather``, which joins the shards, decides
which starts converged and merges duplicates into one table per system; ``counts`` and
``line_summary``), is ``fixed_point_sets``, whose names this module also carries.
"""

from __future__ import annotations

import dataclasses
import json
import logging

import numpy as np
import pyarrow as pa
import torch

from rnn_dynamics.dynamics import solver

# The set a search finds, its files and its counts (``fixed_point_sets``), under this module's names too.
from rnn_dynamics.dynamics.fixed_point_sets import (
    FIXED_POINT_COLUMNS,
    STRICT_Q_TOL,
    UNIQUE_METRICS,
    counts,
    exact_roots,
    gather,
    gather_shards,
    line_summary,
    merge_duplicates,
    read_fixed_points,
    read_shard,
    search_scale,
    unique_fixed_points,
)
from rnn_dynamics.dynamics.state_dumps import system_states
from rnn_dynamics.ground.stages import GatherSettings, SearchSettings
from rnn_dynamics.ground.storage import list_matrix

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
