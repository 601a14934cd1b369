"""The fixed-point solver (``dynamics.solver``) on linear maps whose fixed points are known in closed form."""

import numpy as np
import pytest
import torch

from rnn_dynamics.dynamics import fixed_point_sets, solver
from rnn_dynamics.networks.cells import DynamicalSystem

LM = dict(method="lm", damping=1e-2, single_precision=False, progress=False)
ADAM = dict(method="adam", learning_rate=1e-2, progress=False)


def linear_map(matrix, bias, bound=None) -> DynamicalSystem:
    """``h -> A h + b + x`` (float64; Jacobians by autograd): its fixed points solve ``(I - A) h = b``."""
    a, b = torch.tensor(matrix, dtype=torch.float64), torch.tensor(bias, dtype=torch.float64)
    size = len(b)
    return DynamicalSystem(
        step=lambda h, x: h @ a.T + b + x.to(h.dtype), state_size=size, input_size=size, readout=lambda h: h,
        state_bound=None if bound is None else np.full(size, bound),
    )  # fmt: skip


def contraction(size=6, seed=0):
    """A random map of spectral radius 0.8 and its one fixed point."""
    rng = np.random.default_rng(seed)
    matrix = rng.standard_normal((size, size))
    matrix *= 0.8 / np.abs(np.linalg.eigvals(matrix)).max()
    bias = rng.uniform(-0.3, 0.3, size)
    return matrix, bias, np.linalg.solve(np.eye(size) - matrix, bias)


def starts(count, size, seed=1, scale=1.0):
    return np.random.default_rng(seed).uniform(-scale, scale, (count, size))


@pytest.mark.parametrize("options, iterations", [(LM, 10), (ADAM, 5000)], ids=["lm", "adam"])
def test_lm_and_adam_find_the_one_fixed_point_of_a_contraction(options, iterations):
    matrix, bias, fixed = contraction()
    result = solver.find(
        linear_map(matrix, bias), starts(20, 6), max_iterations=iterations, tolerance=1e-10, bounded=False, **options
    )
    assert result.converged.all() and (result.q < 1e-10).all(), result.q.max()
    # q = |(I - A)(h - h*)|^2 / S, and I - A is well conditioned here: q < 1e-10 puts h within ~1e-4 of h*.
    np.testing.assert_allclose(result.fixed_point, np.broadcast_to(fixed, (20, 6)), atol=1e-4)
    assert result.in_state_space is None and result.inside().all() and result.tolerance == 1e-10
    if options is LM:
        assert result.iterations.max() <= 10  # the problem is linear: Newton-like steps end it at once


def test_lm_leaves_each_start_where_it_was_along_a_line_of_fixed_points():
    """A = diag(1, 0.5, 0.2), b = 0: the fixed points are the first axis, a line attractor. The damped steps
    solve the fast directions and do not move a start along the line: each ends at its own projection."""
    system = linear_map(np.diag([1.0, 0.5, 0.2]), np.zeros(3))
    h0 = starts(30, 3, scale=0.9)
    result = solver.find(system, h0, max_iterations=100, tolerance=1e-12, bounded=False, **LM)
    assert result.converged.all()
    np.testing.assert_allclose(result.fixed_point[:, 0], h0[:, 0], atol=1e-9)
    np.testing.assert_allclose(result.fixed_point[:, 1:], 0, atol=1e-5)


def test_a_bounded_search_stops_on_the_bound_where_the_fixed_point_lies_beyond():
    """h* = 2 in every coordinate, outside |h| <= 1: the bounded search ends on the bound, flagged, and the
    unbounded one reaches h* outside the state space."""
    system = linear_map(0.5 * np.eye(4), np.ones(4), bound=1.0)
    h0 = starts(10, 4, scale=0.5)
    bounded = solver.find(system, h0, max_iterations=50, tolerance=1e-10, bounded=True, **LM)
    assert (np.abs(bounded.fixed_point) <= 1.0).all() and bounded.at_bound.all() and bounded.in_state_space.all()
    assert not bounded.inside().any() and not bounded.converged.any()
    free = solver.find(system, h0, max_iterations=50, tolerance=1e-10, bounded=False, **LM)
    np.testing.assert_allclose(free.fixed_point, 2.0, atol=1e-5)
    assert free.converged.all() and not free.in_state_space.any() and not free.inside().any()


def test_a_minimum_of_q_above_the_tolerance_is_a_slow_point_with_its_modulus():
    """A = diag(1, 0.5), b = (0.01, 0): along the first axis h moves by 0.01 every step, so no point is fixed;
    q's least value is 0.01^2 / 2 = 5e-5. The search stops there (a slow point), and dF/dh's largest |lambda|
    there is 1."""
    system = linear_map(np.diag([1.0, 0.5]), np.array([0.01, 0.0]))
    result = solver.find(system, starts(8, 2), max_iterations=200, tolerance=1e-8, bounded=False, **LM)
    assert not result.converged.any() and result.iterations.max() < 200
    np.testing.assert_allclose(result.q, 5e-5, rtol=1e-3)
    measured = solver.measure_slow_points(system, result)
    np.testing.assert_allclose(measured.slow_point_modulus, 1.0)


def test_polish_takes_approximate_points_on_to_exact_roots_and_keeps_them():
    matrix, bias, fixed = contraction(seed=2)
    system = linear_map(matrix, bias)
    approximate = solver.find(system, starts(10, 6), max_iterations=50, tolerance=1e-4, bounded=False, **LM)
    polished = solver.polish(system, approximate, max_iterations=50, bounded=False, progress=False)
    np.testing.assert_array_equal(polished.fixed_point, approximate.fixed_point)
    roots = polished.exact_roots
    assert roots.converged.all() and (roots.q < solver.EXACT_Q_TOL).all()
    np.testing.assert_allclose(roots.fixed_point, np.broadcast_to(fixed, (10, 6)), atol=1e-6)
    table = polished.to_table(start_index=np.arange(10, 20))
    assert table.column_names == list(fixed_point_sets.RESULT_COLUMNS)
    assert table["start_index"].to_pylist() == list(range(10, 20)) and table["exact_root_in_state_space"].to_pylist()


def test_wrong_arguments_are_refused_naming_what_is_wrong():
    system = linear_map(np.eye(3) * 0.5, np.zeros(3))
    with pytest.raises(ValueError, match="method must be one of"):
        solver.find(system, starts(2, 3), method="newton", max_iterations=5, tolerance=1e-6, bounded=False)
    with pytest.raises(ValueError, match="method lm needs damping, single_precision"):
        solver.find(system, starts(2, 3), method="lm", max_iterations=5, tolerance=1e-6, bounded=False)
    with pytest.raises(ValueError, match=r"starts must have shape \(B, 3\), got \(2, 4\)"):
        solver.find(system, starts(2, 4), max_iterations=5, tolerance=1e-6, bounded=False, **LM)
