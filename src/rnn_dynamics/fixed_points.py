"""Fixed points of a recurrent layer: minimising ``q(h) = 1/S ||h - F(h, x*)||^2`` from many starts at once.

A network that reads text is a discrete dynamical system ``h_t = F(h_{t-1}, x_t)``;
with the input held at ``x* = 0`` its slow regions show the attractors it computes
with. Two objects come out of the same search:

- **approximate fixed points (the paper's)**, the default: each start, a state the
  network visited, descends ``q`` and stops once ``q < q_tol`` (1e-6, the
  reproduction's rule). On a line attractor they stay spread along the slow line,
  hundreds of them, near where they started;
- **exact roots** (an extension, ``exact_roots: true``): each approximate fixed
  point is driven on to ``q < 1e-12`` by nearly undamped Levenberg-Marquardt. The
  line collapses into a few true roots of ``h = F(h, x*)``, some beyond the states
  the network can reach.

``find`` solves all starts together (see its docstring for how the damping picks
one object or the other); Adam, the reproduction's method, is kept for comparison
and for the fidelity test. The pipeline samples the starts once from a seed and
splits them into shards (independent jobs); ``gather`` joins the shards, decides
which starts converged and merges duplicates into one table per system.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch
from tqdm import tqdm

from .storage import list_column, list_matrix, read_table

log = logging.getLogger(__name__)

METHODS = ("lm", "adam")
# The config's fixed_points keys that decide a shard's solution, and those that decide the gathered verdicts.
SEARCH_KEYS = ("starts", "noise", "seed", "method", "max_iterations", "q_tol", "damping", "learning_rate", "exact_roots")
GATHER_KEYS = ("q_tol", "unique_tol", "unique_metric", "outlier_distance")
UNIQUE_METRICS = ("chebyshev", "euclidean")
# The reproduction's tolerance: a start has reached an approximate fixed point below this q.
APPROXIMATE_Q_TOL = 1e-6
# LM damping for approximate fixed points, and the least it may fall to: see ``find``.
APPROXIMATE_DAMPING = 1e-2
APPROXIMATE_MIN_DAMPING = 1e-3
# Exact roots of h = F(h, x): FixedPointFinder's tol_q, reached by nearly undamped LM.
EXACT_Q_TOL = 1e-12
EXACT_DAMPING = 1e-9
EXACT_MIN_DAMPING = 1e-12
# The original paper counts a start as converged below this q; the reproduction used 1e-6.
STRICT_Q_TOL = 1e-8
# Damping beyond this means no step, however short, lowers q: the start is at the
# precision floor of float64 and further iterations cannot help.
MAX_DAMPING = 1e20
# A start whose accepted steps lower q by less than this fraction, STALL_PATIENCE times
# in a row, sits at a minimum of q above the tolerance (a slow point, not a fixed
# point): more iterations only cost time. Near a true fixed point q falls by orders
# of magnitude per step.
STALL_REDUCTION = 1e-3
STALL_PATIENCE = 3


# ---------------------------------------------------------------------------
# Starting states


def sample_starts(states: np.ndarray, n: int, noise: float = 0.0, seed: int = 0) -> np.ndarray:
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
    from .states import read_layer

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
# The solver


@dataclass
class FixedPointResult:
    """The outcome for every start, in the order of the starts (all arrays float64 unless noted)."""

    start: np.ndarray  # (B, S)
    fixed_point: np.ndarray  # (B, S)
    q: np.ndarray  # (B,) 1/S ||h - F(h, x*)||^2 at fixed_point
    iterations: np.ndarray  # (B,) int: iterations this start ran
    converged: np.ndarray  # (B,) bool: q below the solver's tolerance
    method: str
    tolerance: float
    seconds: float
    # (B,) bool: the fixed point lies where the network's states can be (cells.DynamicalSystem.state_bound)
    in_state_space: np.ndarray | None = None
    # The exact root each approximate fixed point leads to (``polish``), or None when not sought.
    exact_roots: "FixedPointResult | None" = None
    # (B,) the largest |lambda| of dF/dh at the slow points (starts that stopped above the
    # tolerance; ``measure_slow_points``), NaN elsewhere; None when not measured.
    slow_point_modulus: np.ndarray | None = None

    def to_table(self, start_index: np.ndarray | None = None) -> pa.Table:
        """One row per start; ``start_index`` numbers the starts within the full, unsharded set.

        The ``exact_root*`` columns are NaN (and ``exact_root_in_state_space`` false) when
        no exact roots were sought.
        """
        n = len(self.start)
        if start_index is None:
            start_index = np.arange(n)
        metadata = {"method": self.method, "tolerance": repr(self.tolerance), "seconds": repr(self.seconds)}
        roots = self.exact_roots
        if roots is not None:
            metadata["exact_roots_seconds"] = repr(roots.seconds)
        return pa.table(
            {
                "start_index": pa.array(np.asarray(start_index, dtype=np.int32)),
                "start": list_column(self.start),
                "fixed_point": list_column(self.fixed_point),
                "q": pa.array(self.q),
                "iterations": pa.array(self.iterations.astype(np.int32)),
                "solver_converged": pa.array(self.converged),
                "in_state_space": pa.array(
                    np.ones(n, dtype=bool) if self.in_state_space is None else self.in_state_space
                ),
                "exact_root": list_column(np.full_like(self.start, np.nan) if roots is None else roots.fixed_point),
                "exact_root_q": pa.array(np.full(n, np.nan) if roots is None else roots.q),
                "exact_root_in_state_space": pa.array(
                    np.zeros(n, dtype=bool) if roots is None else roots.converged & _inside(roots)
                ),
                "slow_point_modulus": pa.array(
                    np.full(n, np.nan) if self.slow_point_modulus is None else self.slow_point_modulus
                ),
            }
        ).replace_schema_metadata(metadata)


def _inside(result: FixedPointResult) -> np.ndarray:
    return np.ones(len(result.q), dtype=bool) if result.in_state_space is None else result.in_state_space


def measure_slow_points(system, result: FixedPointResult, device="cpu") -> FixedPointResult:
    """``result`` with the largest |lambda| of dF/dh at each slow point: a start that settled at a
    minimum of q above the tolerance. Their time constants say how slow they are."""
    modulus = np.full(len(result.q), np.nan)
    slow = ~result.converged
    if slow.any():
        h = torch.from_numpy(result.fixed_point[slow]).to(device)
        x = torch.zeros(len(h), system.input_size, dtype=h.dtype, device=device)
        with torch.no_grad():
            j_rec, _ = system.jacobians(h, x)
            modulus[slow] = torch.linalg.eigvals(j_rec).abs().amax(dim=-1).cpu().numpy()
    return dataclasses.replace(result, slow_point_modulus=modulus)


def polish(system, result: FixedPointResult, max_iterations: int = 200, progress: bool = True, device="cpu") -> FixedPointResult:
    """``result`` with the exact roots its endpoints lead to: nearly undamped LM on to ``q < EXACT_Q_TOL``."""
    roots = find(
        system, result.fixed_point, method="lm", max_iterations=max_iterations, tolerance=EXACT_Q_TOL,
        damping=EXACT_DAMPING, min_damping=EXACT_MIN_DAMPING, progress=progress, device=device,
    )  # fmt: skip
    return dataclasses.replace(result, exact_roots=roots)


def find(
    system,
    starts,
    x=None,
    method: str = "lm",
    max_iterations: int = 200,
    tolerance: float = APPROXIMATE_Q_TOL,
    damping: float = APPROXIMATE_DAMPING,
    min_damping: float = APPROXIMATE_MIN_DAMPING,
    learning_rate: float = 1e-2,
    batched: bool = True,
    progress: bool = True,
    device: str | torch.device = "cpu",
) -> FixedPointResult:
    """Minimise ``q`` from every row of ``starts`` (B, S) in float64; each start stops once ``q < tolerance``.

    ``x`` is the constant input (``system.input_size`` values, zeros by default);
    ``system``'s weights must be on ``device``.

    The defaults find the paper's *approximate* fixed points: every start stops at
    the reproduction's ``q < 1e-6``. ``method="adam"`` is the reproduction's way
    (Adam on ``q`` with ``learning_rate``, all starts at once when ``batched``, else
    one after another). ``method="lm"`` (the default) is Levenberg-Marquardt on the
    residual ``r(h) = h - F(h, x)``: a step solves ``(J^T J + mu I) d = -J^T r``.
    The damping ``mu`` decides which object it finds. Near a line attractor ``J`` has
    one singular value ``s ~ 1 - |lambda| ~ 1e-4`` along the line and the rest near
    1. Where ``s^2 << mu`` a step hardly moves (like gradient descent, like Adam);
    where ``s^2 >> mu`` it is a Newton step. Starting at ``mu = 1e-2`` and never
    going below ``min_damping = 1e-3`` (``s ~ 0.03``: modes with ``|lambda| > 0.97``,
    time constants above ~30 tokens, are hardly stepped along), LM solves the fast
    directions in a handful of Newton-like iterations and leaves each start where it
    was along the slow directions, as Adam does. ``test_lm_matches_adam`` holds the
    two to the same set of points on a small trained GRU; there a floor of 1e-6
    let LM run 20% of the starts' span further along the line than Adam, and a
    floor of 1e-2 left 15% of the starts above the tolerance after 200 iterations. With a tiny damping
    (``EXACT_DAMPING`` down to ``EXACT_MIN_DAMPING``) and ``EXACT_Q_TOL``, LM instead
    takes Newton steps along the line and drives the starts on to a few *exact
    roots* of ``h = F(h, x)``: an extension the pipeline offers apart (``polish``,
    ``exact_roots``). The damping is raised tenfold when a step fails and lowered
    tenfold, down to ``min_damping``, when it succeeds.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    h0 = torch.from_numpy(np.array(starts, dtype=np.float64)).to(device)
    if h0.ndim != 2 or h0.shape[1] != system.state_size:
        raise ValueError(f"starts must have shape (B, {system.state_size}), got {tuple(h0.shape)}")
    x = torch.zeros(system.input_size, dtype=torch.float64, device=device) if x is None else torch.as_tensor(x, dtype=torch.float64, device=device)
    if x.shape != (system.input_size,):
        raise ValueError(f"x must have shape ({system.input_size},), got {tuple(x.shape)}")
    inputs = x.expand(len(h0), -1)
    began = time.perf_counter()
    with torch.no_grad():
        if method == "lm":
            h, q, iterations = _levenberg_marquardt(system, h0, inputs, max_iterations, tolerance, damping, min_damping, progress)
        elif batched:
            h, q, iterations = _adam(system.step, h0, inputs, max_iterations, tolerance, learning_rate, progress)
        else:
            solved = [
                _adam(system.step, h0[i : i + 1], inputs[i : i + 1], max_iterations, tolerance, learning_rate, False)
                for i in tqdm(range(len(h0)), desc="adam, one start at a time", disable=not progress)
            ]
            h, q, iterations = (torch.cat(parts) for parts in zip(*solved))
    seconds = time.perf_counter() - began
    q = q.cpu().numpy()
    fixed = h.cpu().numpy()
    bound = getattr(system, "state_bound", None)
    return FixedPointResult(
        start=h0.cpu().numpy(),
        fixed_point=fixed,
        q=q,
        iterations=iterations.cpu().numpy(),
        converged=q < tolerance,
        method=method if batched or method == "lm" else "adam-per-start",
        tolerance=tolerance,
        seconds=seconds,
        # A hair of slack: a point on the boundary is reachable in the limit.
        in_state_space=None if bound is None else (np.abs(fixed) <= np.asarray(bound) + 1e-9).all(axis=1),
    )


def _speed(step, h, x):
    """q(h) = mean squared residual of each row."""
    return (h - step(h, x)).pow(2).mean(dim=-1)


def _residual_jacobians(system, h, x):
    """d r / d h = I - dF/dh at every row of ``h``: (B, S, S), from the cell's closed form."""
    j_rec, _ = system.jacobians(h, x)
    return torch.eye(h.shape[1], dtype=h.dtype, device=h.device) - j_rec


def _levenberg_marquardt(system, h, x, max_iterations, tolerance, damping, min_damping, progress):
    step = system.step
    h = h.clone()
    residual = h - step(h, x)
    q = residual.pow(2).mean(dim=-1)
    mu = torch.full_like(q, damping)
    iterations = torch.zeros(len(h), dtype=torch.int64, device=h.device)
    jacobian = torch.empty(len(h), h.shape[1], h.shape[1], dtype=h.dtype, device=h.device)
    stalled = torch.zeros(len(h), dtype=torch.int64, device=h.device)
    active = q >= tolerance
    if active.any():
        jacobian[active] = _residual_jacobians(system, h[active], x[active])
    eye = torch.eye(h.shape[1], dtype=h.dtype, device=h.device)
    bar = tqdm(range(max_iterations), desc="levenberg-marquardt", disable=not progress)
    for _ in bar:
        rows = active.nonzero().squeeze(1)
        if len(rows) == 0:
            break
        jac, res = jacobian[rows], residual[rows]
        jtj = jac.transpose(1, 2) @ jac
        gradient = (jac.transpose(1, 2) @ res.unsqueeze(-1)).squeeze(-1)
        # J^T J + mu I is symmetric positive definite for mu > 0: Cholesky is the cheap, stable solve.
        factor, info = torch.linalg.cholesky_ex(jtj + mu[rows, None, None] * eye)
        delta = torch.cholesky_solve(-gradient.unsqueeze(-1), factor).squeeze(-1)
        trial = h[rows] + delta
        trial_residual = trial - step(trial, x[rows])
        trial_q = trial_residual.pow(2).mean(dim=-1)
        # A step that does not lower q (or whose system was numerically singular) is
        # rejected and retried, shorter, with more damping.
        accept = (trial_q < q[rows]) & (info == 0)
        taken = rows[accept]
        small = trial_q[accept] > (1 - STALL_REDUCTION) * q[taken]
        stalled[taken] = torch.where(small, stalled[taken] + 1, 0)
        h[taken], residual[taken], q[taken] = trial[accept], trial_residual[accept], trial_q[accept]
        mu[taken] = (mu[taken] * 0.1).clamp(min=min_damping)
        mu[rows[~accept]] *= 10.0
        iterations[rows] += 1
        active = (q >= tolerance) & (mu < MAX_DAMPING) & (stalled < STALL_PATIENCE)
        refresh = taken[active[taken]]
        if len(refresh):
            jacobian[refresh] = _residual_jacobians(system, h[refresh], x[refresh])
        bar.set_postfix(active=int(active.sum()), max_q=f"{q.max().item():.1e}")
    return h, q, iterations


def _adam(step, h, x, max_iterations, tolerance, learning_rate, progress):
    """Adam on the sum of q over the starts; each start's answer is frozen once its q is below tolerance."""
    found = h.clone()
    point = h.clone().requires_grad_(True)
    optimiser = torch.optim.Adam([point], lr=learning_rate)
    q = torch.full((len(h),), float("inf"), dtype=h.dtype, device=h.device)
    iterations = torch.zeros(len(h), dtype=torch.int64, device=h.device)
    active = torch.ones(len(h), dtype=torch.bool, device=h.device)
    bar = tqdm(range(max_iterations + 1), desc="adam", disable=not progress)
    for iteration in bar:
        with torch.enable_grad():
            speed = _speed(step, point, x)
            (speed * active).sum().backward()
        with torch.no_grad():
            found[active], q[active] = point[active], speed.detach()[active]
            iterations[active] = iteration
            active &= q >= tolerance
        if not active.any() or iteration == max_iterations:
            break
        optimiser.step()
        optimiser.zero_grad()
        if progress and iteration % 100 == 0:
            bar.set_postfix(active=int(active.sum()), max_q=f"{q.max().item():.1e}")
    return found.detach(), q, iterations


# ---------------------------------------------------------------------------
# Gathering shards into one table per system

SHARD_COLUMNS = {
    "start_index": pa.int32(),
    "start": None,
    "fixed_point": None,
    "q": pa.float64(),
    "iterations": pa.int32(),
    "solver_converged": pa.bool_(),
    "in_state_space": pa.bool_(),
    "exact_root": None,
    "exact_root_q": pa.float64(),
    "exact_root_in_state_space": pa.bool_(),
    "slow_point_modulus": pa.float64(),
}


def read_shard(path: str | Path) -> pa.Table:
    return read_table(path, SHARD_COLUMNS)


def gather(
    shards: list[pa.Table],
    q_tol: float = 1e-6,
    unique_tol: float = 1e-3,
    unique_metric: str = "chebyshev",
    outlier_distance: float | None = None,
) -> pa.Table:
    """Join shard tables into one table of all starts, ordered by start_index, with the verdicts added.

    Added columns: ``converged`` (q < q_tol), ``outlier`` (a converged point whose
    nearest other converged point is farther than ``outlier_distance``, Euclidean),
    ``fixed_point_id`` (the unique fixed point a converged, non-outlier start found
    within the network's state space (``in_state_space``); -1 otherwise) and
    ``representative`` (the row that stands for its fixed point:
    the one with the lowest q); ``exact_root_id`` and ``exact_root_representative``
    do the same for the exact roots, where they were sought (-1 and false otherwise). Two points are one fixed point when every coordinate
    differs by less than ``unique_tol`` (``chebyshev``, the reproduction's rule) or
    their Euclidean distance is below it (``euclidean``, FixedPointFinder's).
    """
    if unique_metric not in UNIQUE_METRICS:
        raise ValueError(f"unique_metric must be one of {UNIQUE_METRICS}, not {unique_metric!r}")
    table = pa.concat_tables(shards).sort_by("start_index")
    start_index = table["start_index"].to_numpy()
    if len(np.unique(start_index)) != len(start_index):
        raise ValueError("shards overlap: a start_index occurs in more than one shard")
    points = list_matrix(table["fixed_point"])
    q = table["q"].to_numpy()
    converged = q < q_tol
    reachable = converged & table["in_state_space"].to_numpy()
    outlier = np.zeros(len(q), dtype=bool)
    if outlier_distance is not None:
        outlier[reachable] = _isolated(points[reachable], outlier_distance)
    kept = np.flatnonzero(reachable & ~outlier)
    ids = np.full(len(q), -1, dtype=np.int32)
    representative = np.zeros(len(q), dtype=bool)
    ids[kept], rep_rows = merge_duplicates(points[kept], q[kept], unique_tol, unique_metric)
    representative[kept[rep_rows]] = True
    # Exact roots (where sought) are merged on their own: many approximate points lead to one root.
    root_q = table["exact_root_q"].to_numpy()
    rooted = np.flatnonzero(table["exact_root_in_state_space"].to_numpy() & (root_q < EXACT_Q_TOL))
    root_ids = np.full(len(q), -1, dtype=np.int32)
    root_representative = np.zeros(len(q), dtype=bool)
    root_ids[rooted], root_rows = merge_duplicates(list_matrix(table["exact_root"])[rooted], root_q[rooted], unique_tol, unique_metric)
    root_representative[rooted[root_rows]] = True
    metadata = dict(table.schema.metadata or {})
    metadata[b"gather"] = json.dumps(
        {"q_tol": q_tol, "unique_tol": unique_tol, "unique_metric": unique_metric, "outlier_distance": outlier_distance}
    ).encode()
    return (
        table.append_column("converged", pa.array(converged))
        .append_column("outlier", pa.array(outlier))
        .append_column("fixed_point_id", pa.array(ids))
        .append_column("representative", pa.array(representative))
        .append_column("exact_root_id", pa.array(root_ids))
        .append_column("exact_root_representative", pa.array(root_representative))
        .replace_schema_metadata(metadata)
    )


def merge_duplicates(points: np.ndarray, q: np.ndarray, tol: float, metric: str = "chebyshev"):
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
    **SHARD_COLUMNS,
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
    """Starts, converged starts (at the table's q_tol and at 1e-8), slow points, approximate fixed points
    and exact roots.

    Slow points are the starts that settled at a minimum of q above q_tol (common for an
    LSTM's (h, c) state): counted apart, with their median q, not lost. ``exact_roots``
    is -1 where they were not sought.
    """
    q = table["q"].to_numpy()
    converged = table["converged"].to_numpy()
    sought = bool(np.isfinite(table["exact_root_q"].to_numpy()).any())
    return {
        "starts": len(q),
        "converged": int(np.sum(converged)),
        "slow_points": int(np.sum(~converged)),
        "slow_point_median_q": float(np.median(q[~converged])) if (~converged).any() else float("nan"),
        "slow_point_time_constant": float(time_constant(np.nanmedian(table["slow_point_modulus"].to_numpy()[~converged])))
        if np.isfinite(table["slow_point_modulus"].to_numpy()[~converged]).any()
        else float("nan"),
        "converged_1e-8": int(np.sum(q < STRICT_Q_TOL)),
        "outside_state_space": int(np.sum(table["converged"].to_numpy() & ~table["in_state_space"].to_numpy())),
        "unique_fixed_points": int(np.sum(table["representative"].to_numpy())),
        "exact_roots": int(np.sum(table["exact_root_representative"].to_numpy())) if sought else -1,
    }


def time_constant(modulus):
    """tau = |1 / ln|lambda||, in steps (infinite for |lambda| = 1), of a modulus or an array of them."""
    with np.errstate(divide="ignore"):
        return np.abs(1.0 / np.log(np.asarray(modulus, dtype=np.float64)))


def variance_fractions(points: np.ndarray) -> np.ndarray:
    """The fraction of the points' (K, S) variance on each principal component, largest first (empty if K < 2)."""
    points = np.asarray(points, dtype=np.float64)
    if len(points) < 2:
        return np.zeros(0)
    singular = np.linalg.svd(points - points.mean(axis=0), compute_uv=False)
    variance = singular**2
    return variance / variance.sum() if variance.sum() > 0 else np.zeros(0)


def first_pc_share(points: np.ndarray) -> float:
    """The share of the points' (K, S) variance on their first principal component (NaN below two points):
    near 1 for points on a line."""
    fractions = variance_fractions(points)
    return float(fractions[0]) if len(fractions) else float("nan")


def line_summary(points: np.ndarray, axis: np.ndarray, origin: np.ndarray) -> dict:
    """How a set of fixed points (K, S) lies: its extent along ``axis`` (the visited states' PC1, through
    ``origin``, their mean) and the share of its own variance on its first principal component."""
    points = np.asarray(points, dtype=np.float64)
    if len(points) < 2:
        return {"count": len(points), "axis_min": float("nan"), "axis_max": float("nan"), "first_pc_share": float("nan")}
    along = (points - origin) @ axis
    return {
        "count": len(points),
        "axis_min": float(along.min()),
        "axis_max": float(along.max()),
        "first_pc_share": first_pc_share(points),
    }


def approximate_set(result: FixedPointResult, q_tol: float = APPROXIMATE_Q_TOL, unique_tol: float = 1e-3) -> np.ndarray:
    """The unique approximate fixed points (K, S) of a solver result: converged, inside the state space, deduplicated."""
    kept = (result.q < q_tol) & _inside(result)
    _, representatives = merge_duplicates(result.fixed_point[kept], result.q[kept], unique_tol)
    return result.fixed_point[kept][representatives]


# ---------------------------------------------------------------------------
# The pipeline's steps


def solve_shard(system, states: np.ndarray, settings: dict, index: int, count: int, device="cpu") -> pa.Table:
    """Shard ``index`` of ``count``: sample the config's starts from ``states``, solve this shard's slice.

    ``settings`` holds the ``fixed_points`` keys that decide the result: starts,
    noise, seed, method, max_iterations, q_tol, damping, learning_rate, exact_roots.
    """
    starts = sample_starts(states, settings["starts"], settings["noise"], settings["seed"])
    rows = shard_rows(len(starts), index, count)
    log.info("shard %d of %d: starts %d..%d of %d on %s", index + 1, count, rows.start, rows.stop - 1, len(starts), device)
    result = find(
        system,
        starts[rows],
        method=settings["method"],
        max_iterations=settings["max_iterations"],
        tolerance=settings["q_tol"],
        damping=settings["damping"],
        learning_rate=settings["learning_rate"],
        device=device,
    )
    log.info(
        "%s: %d of %d starts reached approximate fixed points (q < %.0e) in %.1f s (at most %d iterations)",
        result.method, result.converged.sum(), len(result.q), result.tolerance, result.seconds, result.iterations.max(initial=0),
    )
    result = measure_slow_points(system, result, device=device)
    if settings["exact_roots"]:
        result = polish(system, result, settings["max_iterations"], device=device)
        roots = result.exact_roots
        log.info("exact roots: %d of %d starts reached q < %.0e in %.1f s", roots.converged.sum(), len(roots.q), EXACT_Q_TOL, roots.seconds)
    return result.to_table(np.arange(len(starts))[rows])


def gather_shards(paths: list[str | Path], settings: dict) -> pa.Table:
    """Read shard files and ``gather`` them with the config's ``fixed_points`` settings."""
    table = gather(
        [read_shard(path) for path in paths],
        q_tol=settings["q_tol"],
        unique_tol=settings["unique_tol"],
        unique_metric=settings["unique_metric"],
        outlier_distance=settings.get("outlier_distance"),
    )
    log.info("%s", counts(table))
    return table
