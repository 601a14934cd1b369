"""The fixed-point solver: minimising ``q(h) = 1/S ||h - F(h, x*)||^2`` from many starts at once.

``find`` solves every start together in float64 (LM's normal equations in float32),
by batched Levenberg-Marquardt on the residual ``h - F(h, x*)`` with the cell's
closed-form Jacobians (see its docstring for how the damping picks the paper's
approximate fixed points or exact roots), or by Adam, the reproduction's method,
kept for comparison and for the fidelity test. ``polish`` drives approximate fixed
points on to exact roots; ``measure_slow_points`` takes the largest |lambda| of
dF/dh where a start settled above the tolerance. The solver knows nothing of files,
shards or configs: the search (``fixed_points``) samples the starts and gathers the
results.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import torch
from tqdm import tqdm

from rnn_dynamics.dynamics.normal_equations import NormalEquations
from rnn_dynamics.ground.stages import EXACT_Q_TOL, TOLERANCE_RULES, approximate_tolerance, below_tolerance
from rnn_dynamics.ground.storage import list_column

__all__ = [
    "APPROXIMATE_MIN_DAMPING",
    "EXACT_DAMPING",
    "EXACT_MIN_DAMPING",
    "EXACT_Q_TOL",
    "JACOBIAN_CHUNK_BYTES",
    "MAX_DAMPING",
    "METHODS",
    "SLOW_REDUCTION",
    "SINGLE_PRECISION_MIN_DAMPING",
    "STALL_MIN_DAMPING",
    "STALL_PATIENCE",
    "STALL_REDUCTION",
    "TOLERANCE_RULES",
    "FixedPointResult",
    "approximate_tolerance",
    "find",
    "measure_slow_points",
    "polish",
    "speed_scale",
]

METHODS = ("lm", "adam")
# The least LM's damping falls to when it searches for approximate fixed points. Near a line
# attractor J has one singular value s ~ 1 - |lambda| along the line and the rest near 1; a
# step hardly moves along a direction whose s^2 << mu. Above 1e-3 (s ~ 0.03: modes with
# |lambda| > 0.97, time constants above ~30 tokens) LM leaves the starts spread along the line
# as Adam does; ``test_lm_matches_adam`` holds the two to the same set of points.
APPROXIMATE_MIN_DAMPING = 1e-3
EXACT_DAMPING = 1e-9
EXACT_MIN_DAMPING = 1e-12
# Damping beyond this means no step, however short, lowers q: the start is at the
# precision floor of float64 and further iterations cannot help.
MAX_DAMPING = 1e20
# A start whose accepted steps lower q by less than SLOW_REDUCTION (a fraction of q),
# STALL_PATIENCE times in a row, is making slow progress at its damping floor: the
# floor is lowered tenfold, down to STALL_MIN_DAMPING, so that LM steps further along
# the slow directions, where Adam would creep on. A start whose steps lower q by less
# than STALL_REDUCTION, STALL_PATIENCE times in a row, at the lowest floor sits at a
# minimum of q above the tolerance (a slow point, not a fixed point): more iterations
# only cost time. Near a true fixed point q falls by orders of magnitude per step.
SLOW_REDUCTION = 1e-2
STALL_REDUCTION = 1e-3
STALL_PATIENCE = 3
STALL_MIN_DAMPING = 1e-6
# LM forms and solves its normal equations in float32 (``single_precision``) while every
# start's damping is at least this; below it, float32's rounding of J^T J (~1e-6) would
# be felt against mu, and the rest of the search runs in float64.
SINGLE_PRECISION_MIN_DAMPING = 1e-4
# On a CPU, LM forms its Jacobians this many bytes of them at a time (``_refresh_jacobians``).
JACOBIAN_CHUNK_BYTES = 4 * 2**20


def speed_scale(system, starts, x=None, device="cpu") -> float:
    """The network's own speed scale: the median ``q`` of ``starts`` (B, S) (the visited states the search
    starts from), at the input ``x`` of ``find``. A robust statistic of every start at once, so a few bits of
    rounding move it by a few bits, and a shard computes it from all the starts, not its own slice."""
    h = torch.from_numpy(np.array(starts, dtype=np.float64)).to(device)
    if h.ndim != 2 or h.shape[1] != system.state_size:
        raise ValueError(f"starts must have shape (B, {system.state_size}), got {tuple(h.shape)}")
    with torch.no_grad():
        q = _speed(system.step, h, _inputs(system, x, len(h), device))
    return float(np.median(q.cpu().numpy()))


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
    # (B,) bool: some coordinate of the fixed point sits on the state bound (where a bounded
    # search stops a start that would leave); None where the system has no bound.
    at_bound: np.ndarray | None = None
    # The exact root each approximate fixed point leads to (``polish``), or None when not sought.
    exact_roots: "FixedPointResult | None" = None
    # (B,) the largest |lambda| of dF/dh at the slow points (starts that stopped above the
    # tolerance; ``measure_slow_points``), NaN elsewhere; None when not measured.
    slow_point_modulus: np.ndarray | None = None
    # The median q of all the search's starts (``speed_scale``), which the relative tolerance reads; None
    # where the result did not come through ``fixed_points.solve``.
    speed_scale: float | None = None

    def inside(self) -> np.ndarray:
        """(B,) bool: strictly inside the state space (``in_state_space`` and not ``at_bound``), or
        every start where the system has no state bound."""
        inside = np.ones(len(self.q), dtype=bool) if self.in_state_space is None else self.in_state_space.copy()
        if self.at_bound is not None:
            inside &= ~self.at_bound
        return inside

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
        if self.speed_scale is not None:
            metadata["speed_scale"] = repr(self.speed_scale)
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
                "at_bound": pa.array(np.zeros(n, dtype=bool) if self.at_bound is None else self.at_bound),
                "exact_root": list_column(np.full_like(self.start, np.nan) if roots is None else roots.fixed_point),
                "exact_root_q": pa.array(np.full(n, np.nan) if roots is None else roots.q),
                "exact_root_in_state_space": pa.array(
                    np.zeros(n, dtype=bool) if roots is None else roots.converged & roots.inside()
                ),
                "slow_point_modulus": pa.array(
                    np.full(n, np.nan) if self.slow_point_modulus is None else self.slow_point_modulus
                ),
            }
        ).replace_schema_metadata(metadata)


def measure_slow_points(system, result: FixedPointResult, device="cpu", x=None) -> FixedPointResult:
    """``result`` with the largest |lambda| of dF/dh at each slow point: a start that settled at a
    minimum of q above the tolerance, at the input ``x`` of ``find``. Their time constants say how slow
    they are."""
    modulus = np.full(len(result.q), np.nan)
    slow = ~result.converged
    if slow.any():
        h = torch.from_numpy(result.fixed_point[slow]).to(device)
        x = _inputs(system, x, len(result.q), device)[torch.from_numpy(np.flatnonzero(slow)).to(device)]
        with torch.no_grad():
            j_rec, _ = system.jacobians(h, x)
            modulus[slow] = torch.linalg.eigvals(j_rec).abs().amax(dim=-1).cpu().numpy()
    return dataclasses.replace(result, slow_point_modulus=modulus)


def polish(
    system,
    result: FixedPointResult,
    *,
    max_iterations: int,
    bounded: bool,
    progress: bool = True,
    device="cpu",
    x=None,
) -> FixedPointResult:
    """``result`` with the exact roots its endpoints lead to: nearly undamped LM on to ``q < EXACT_Q_TOL``,
    at the input ``x`` of ``find``."""
    roots = find(
        system, result.fixed_point, method="lm", max_iterations=max_iterations, tolerance=EXACT_Q_TOL,
        damping=EXACT_DAMPING, min_damping=EXACT_MIN_DAMPING, single_precision=False, bounded=bounded,
        progress=progress, device=device, x=x,
    )  # fmt: skip
    return dataclasses.replace(result, exact_roots=roots)


def find(
    system,
    starts,
    *,
    method: str,
    max_iterations: int,
    tolerance: float,
    bounded: bool,
    damping: float | None = None,
    single_precision: bool | None = None,
    learning_rate: float | None = None,
    x=None,
    min_damping: float = APPROXIMATE_MIN_DAMPING,
    batched: bool = True,
    progress: bool = True,
    device: str | torch.device = "cpu",
    linear_algebra: str = "auto",
) -> FixedPointResult:
    """Minimise ``q`` from every row of ``starts`` (B, S) at the constant input ``x``: one input (I,) for
    every start, one per start (B, I), or zeros if None.

    ``lm``: Levenberg-Marquardt on ``r(h) = h - F(h, x)``, each step solving ``(J^T J + mu I) d
    = -J^T r``. Starting at ``damping`` and kept above ``min_damping``, it solves the fast directions
    in a few Newton-like steps and leaves a start where it was along the slow ones, as Adam does: the
    paper's approximate fixed points. With a tiny damping (``polish``) it drives them on to exact
    roots. A start whose progress is slow has its floor lowered tenfold at a time, down to
    ``STALL_MIN_DAMPING``; one that stalls there stops as a slow point. ``adam``: Adam on ``q``,
    the reproduction's method, all starts at once (``batched``) or one after another.

    Args: ``system`` (its weights on ``device``); ``method``, ``max_iterations``, ``tolerance``
    (each start stops below it), ``bounded`` (steps cut back to ``system.state_bound``; a start
    that would leave ends ``at_bound``); LM's ``damping`` and ``single_precision`` (its normal
    equations in float32 while every damping is at least ``SINGLE_PRECISION_MIN_DAMPING``; q in
    float64), ``linear_algebra`` (``normal_equations.BACKENDS``); Adam's ``learning_rate``.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    needed = ("damping", "single_precision") if method == "lm" else ("learning_rate",)
    given = {"damping": damping, "single_precision": single_precision, "learning_rate": learning_rate}
    if any(given[name] is None for name in needed):
        raise ValueError(f"method {method} needs {', '.join(needed)}")
    h0 = torch.from_numpy(np.array(starts, dtype=np.float64)).to(device)
    if h0.ndim != 2 or h0.shape[1] != system.state_size:
        raise ValueError(f"starts must have shape (B, {system.state_size}), got {tuple(h0.shape)}")
    inputs = _inputs(system, x, len(h0), device)
    limit = getattr(system, "state_bound", None)
    limit = None if limit is None else np.asarray(limit)
    bound = torch.as_tensor(limit, dtype=torch.float64, device=device) if bounded and limit is not None else None
    began = time.perf_counter()
    with torch.no_grad():
        if method == "lm":
            h, q, iterations = _levenberg_marquardt(
                system, h0, inputs, max_iterations, tolerance, damping, min_damping, bound, progress,
                single_precision, linear_algebra,
            )  # fmt: skip
        elif batched:
            h, q, iterations = _adam(system.step, h0, inputs, max_iterations, tolerance, learning_rate, bound, progress)
        else:
            solved = [
                _adam(
                    system.step,
                    h0[i : i + 1],
                    inputs[i : i + 1],
                    max_iterations,
                    tolerance,
                    learning_rate,
                    bound,
                    False,
                )
                for i in tqdm(range(len(h0)), desc="adam, one start at a time", disable=not progress)
            ]
            h, q, iterations = (torch.cat(parts) for parts in zip(*solved))
    if h.is_cuda:  # kernels still queued belong to the search's time
        torch.cuda.synchronize(h.device)
    seconds = time.perf_counter() - began
    q = q.cpu().numpy()
    fixed = h.cpu().numpy()
    # A hair of slack: a point on the boundary is reachable in the limit.
    inside = None if limit is None else (np.abs(fixed) <= limit + 1e-9).all(axis=1)
    return FixedPointResult(
        start=h0.cpu().numpy(),
        fixed_point=fixed,
        q=q,
        iterations=iterations.cpu().numpy(),
        converged=below_tolerance(q, tolerance),
        method=method if batched or method == "lm" else "adam-per-start",
        tolerance=tolerance,
        seconds=seconds,
        in_state_space=inside,
        at_bound=None if limit is None else inside & (np.abs(fixed) >= limit).any(axis=1),
    )


def _inputs(system, x, count: int, device) -> torch.Tensor:
    """The input (count, I) of every start, float64 on ``device``: ``x`` (I,) repeated, ``x`` (count, I)
    as given, or zeros where ``x`` is None."""
    if x is None:
        x = torch.zeros(system.input_size, dtype=torch.float64)
    x = torch.as_tensor(x).to(device=device, dtype=torch.float64)
    if x.shape == (system.input_size,):
        return x.expand(count, -1)
    if x.shape != (count, system.input_size):
        raise ValueError(
            f"x must have shape ({system.input_size},) or (B, {system.input_size}) with B = {count} starts, "
            f"got {tuple(x.shape)}"
        )
    return x


def _speed(step, h, x):
    """q(h) = mean squared residual of each row."""
    return (h - step(h, x)).pow(2).mean(dim=-1)


def _transition_jacobians(system, dtype):
    """A function (h, x) -> dF/dh at every row of ``h`` (float64): (B, S, S) in ``dtype``, from the
    cell's closed form, with the system's weights in ``dtype`` where it offers them
    (``in_dtype``), else cast from float64."""
    if dtype != torch.float64 and system.in_dtype is not None:
        lowered = system.in_dtype(dtype)
        return lambda h, x: lowered.jacobians(h.to(dtype), x.to(dtype))[0]
    return lambda h, x: system.jacobians(h, x)[0].to(dtype)


def _refresh_jacobians(jacobian, transition, h, x, rows):
    """``jacobian`` (B, S, S) with the residual Jacobians ``I - dF/dh`` of ``rows`` recomputed at ``h``
    (``transition`` gives ``dF/dh``), in place.

    On a CPU they are formed ``JACOBIAN_CHUNK_BYTES`` at a time: a whole batch's temporaries come
    fresh from the operating system on every call, and touching their new pages costs more than
    the arithmetic, while a few MB at a time the allocator hands out again.
    """
    identity = torch.eye(jacobian.shape[-1], dtype=jacobian.dtype, device=jacobian.device)
    chunk = len(rows)
    if jacobian.device.type == "cpu":
        chunk = max(1, JACOBIAN_CHUNK_BYTES // (jacobian[0].numel() * jacobian.element_size()))
    for part in rows.split(chunk) if len(rows) else ():
        jacobian.index_copy_(0, part, identity - transition(h[part], x[part]))
    return jacobian


def _clip(h, bound):
    """``h`` cut back to ``[-bound, bound]`` coordinate by coordinate; unchanged when ``bound`` is None."""
    return h if bound is None else torch.clamp(h, -bound, bound)


def _hold_at_bound(h, jtj, gradient, bound):
    """``J^T J`` and ``J^T r`` with the coordinates held that sit on the bound and that descent
    would push out: their rows and columns are zeroed, so the step leaves them where they are
    and solves for the rest (an active-set, projected LM step). Clipping the full step instead
    wastes it on coordinates that cannot move, and a start pressed on the bound creeps."""
    held = (h.abs() >= bound) & (torch.sign(h) * gradient < 0)
    start, coordinate = held.nonzero(as_tuple=True)
    if len(start) == 0:
        return jtj, gradient
    jtj[start, coordinate, :] = 0
    jtj[start, :, coordinate] = 0
    return jtj, gradient.masked_fill(held, 0)


def _levenberg_marquardt(
    system, h, x, max_iterations, tolerance, damping, min_damping, bound, progress, single_precision, linear_algebra
):
    step = system.step
    h = _clip(h.clone(), bound)
    residual = h - step(h, x)
    q = residual.pow(2).mean(dim=-1)
    mu = torch.full_like(q, damping)
    iterations = torch.zeros(len(h), dtype=torch.int64, device=h.device)
    stalled = torch.zeros(len(h), dtype=torch.int64, device=h.device)
    slow = torch.zeros(len(h), dtype=torch.int64, device=h.device)
    # How many times each start's damping floor was lowered tenfold (at most ``lowerings``) for slow progress.
    lowerings = max(0, round(np.log10(min_damping / STALL_MIN_DAMPING)))
    lowered = torch.zeros(len(h), dtype=torch.int64, device=h.device)

    def floor(rows):
        return min_damping * 10.0 ** -lowered[rows].to(mu.dtype)

    def jacobians_in(dtype, rows):
        transition = _transition_jacobians(system, dtype)
        jacobian = torch.empty(len(h), h.shape[1], h.shape[1], dtype=dtype, device=h.device)
        return transition, _refresh_jacobians(jacobian, transition, h, x, rows)

    active = ~below_tolerance(q, tolerance)
    single = single_precision and damping >= SINGLE_PRECISION_MIN_DAMPING
    transition, jacobian = jacobians_in(torch.float32 if single else h.dtype, active.nonzero().squeeze(1))
    with NormalEquations(h.device, linear_algebra) as equations:
        bar = tqdm(range(max_iterations), desc="levenberg-marquardt", disable=not progress)
        for _ in bar:
            rows = active.nonzero().squeeze(1)
            if len(rows) == 0:
                break
            if jacobian.dtype != h.dtype and (mu[rows] < SINGLE_PRECISION_MIN_DAMPING).any():
                # A start's floor was lowered for slow progress: the rest of the search in float64.
                transition, jacobian = jacobians_in(h.dtype, rows)
            hold = None if bound is None else functools.partial(_hold_at_bound, h[rows], bound=bound)
            # J^T J + mu I is symmetric positive definite for mu > 0: Cholesky is the cheap, stable solve.
            delta, info = equations.solve(jacobian, rows, residual[rows], mu[rows], hold)
            delta = delta.to(h.dtype)
            trial = _clip(h[rows] + delta, bound)
            trial_residual = trial - step(trial, x[rows])
            trial_q = trial_residual.pow(2).mean(dim=-1)
            # A step that does not lower q (or whose system was numerically singular) is
            # rejected and retried, shorter, with more damping.
            accept = (trial_q < q[rows]) & (info == 0)
            taken = rows[accept]
            reduction = 1 - trial_q[accept] / q[taken]
            slow[taken] = torch.where(reduction < SLOW_REDUCTION, slow[taken] + 1, 0)
            stalled[taken] = torch.where(reduction < STALL_REDUCTION, stalled[taken] + 1, 0)
            h[taken], residual[taken], q[taken] = trial[accept], trial_residual[accept], trial_q[accept]
            mu[taken] = torch.maximum(mu[taken] * 0.1, floor(taken))
            mu[rows[~accept]] *= 10.0
            iterations[rows] += 1
            relax = (slow >= STALL_PATIENCE) & ~below_tolerance(q, tolerance) & (lowered < lowerings)
            lowered[relax] += 1
            mu[relax], slow[relax], stalled[relax] = floor(relax), 0, 0
            active = ~below_tolerance(q, tolerance) & (mu < MAX_DAMPING) & (stalled < STALL_PATIENCE)
            jacobian = _refresh_jacobians(jacobian, transition, h, x, taken[active[taken]])
            bar.set_postfix(active=int(active.sum()), max_q=f"{q.max().item():.1e}")
    return h, q, iterations


def _adam(step, h, x, max_iterations, tolerance, learning_rate, bound, progress):
    """Adam on the sum of q over the starts, each step cut back to ``bound``; each start's answer is
    frozen once its q is below tolerance."""
    h = _clip(h, bound)
    found = h.clone()
    point = h.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([point], lr=learning_rate)
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
            active &= ~below_tolerance(q, tolerance)
        if not active.any() or iteration == max_iterations:
            break
        optimizer.step()
        optimizer.zero_grad()
        if bound is not None:
            with torch.no_grad():
                point.copy_(_clip(point, bound))
        if progress and iteration % 100 == 0:
            bar.set_postfix(active=int(active.sum()), max_q=f"{q.max().item():.1e}")
    return found.detach(), q, iterations
