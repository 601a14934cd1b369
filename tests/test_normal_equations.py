"""LM's damped normal equations: LAPACK one matrix per call (the CPU's) against batched torch calls (a GPU's)."""

import pytest
import torch

from helpers import float64_layer
from rnn_dynamics.dynamics import solver
from rnn_dynamics.dynamics.normal_equations import NormalEquations
from rnn_dynamics.networks import cells

SIZE = 48


def gru_jacobians(batch, dtype, seed=0):
    """Residual Jacobians ``I - dF/dh`` of a GRU with random weights at random states, their residuals
    and dampings (row 5's damping negative enough that its matrix is not positive definite)."""
    generator = torch.Generator().manual_seed(seed)
    h = torch.rand(batch, SIZE, generator=generator, dtype=torch.float64) * 2 - 1
    j_rec, _ = cells.GRU.jacobians(float64_layer("gru", 8, SIZE, seed), h, torch.zeros(batch, 8, dtype=torch.float64))
    jacobian = (torch.eye(SIZE, dtype=torch.float64) - j_rec).to(dtype).contiguous()
    residual = torch.randn(batch, SIZE, generator=generator, dtype=torch.float64)
    mu = 10.0 ** -torch.randint(1, 4, (batch,), generator=generator).to(torch.float64)
    mu[5] = -1e3
    return h, jacobian, residual, mu


def hold_first_coordinates(jtj, gradient):
    """Holds coordinates 0-2 of every other row: the rows and columns of J^T J and J^T r zeroed there."""
    keep = torch.ones_like(gradient)
    keep[::2, :3] = 0
    jtj.mul_(keep.unsqueeze(2) * keep.unsqueeze(1))
    return jtj, gradient * keep


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("adjust", [None, hold_first_coordinates])
def test_lapack_solves_what_batched_torch_solves(threads, adjust):
    _, jacobian, residual, mu = gru_jacobians(30, torch.float64)
    rows = torch.tensor([0, 3, 4, 5, 9, 10, 11, 17, 20, 22, 23, 29])  # row 5 is not positive definite
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(threads)
        with NormalEquations("cpu", "lapack") as lapack:
            step, info = lapack.solve(jacobian, rows, residual[rows], mu[rows], adjust)
        assert torch.get_num_threads() == threads
    finally:
        torch.set_num_threads(previous)
    with NormalEquations("cpu", "torch") as batched:
        expected, expected_info = batched.solve(jacobian, rows, residual[rows], mu[rows], adjust)
    failed = (rows == 5).numpy()
    assert (info.numpy() != 0).tolist() == failed.tolist() and (expected_info.numpy() != 0).tolist() == failed.tolist()
    good = torch.from_numpy(~failed)
    torch.testing.assert_close(step[good], expected[good], rtol=1e-10, atol=1e-12)
    # And both solve the equations: (J^T J + mu I) d = -J^T r, held coordinates not moving.
    j = jacobian[rows]
    matrices = j.mT @ j
    gradient = (j.mT @ residual[rows].unsqueeze(-1)).squeeze(-1)
    if adjust is not None:
        matrices, gradient = adjust(matrices, gradient)
        held = gradient[good] == 0
        assert held.any() and (step[good][held] == 0).all()
    matrices = matrices + torch.diag_embed(mu[rows].unsqueeze(1).expand(-1, SIZE))
    torch.testing.assert_close(
        step[good], torch.linalg.solve(matrices[good], -gradient[good].unsqueeze(-1)).squeeze(-1), rtol=1e-8, atol=1e-10
    )


def test_lapack_in_float32_agrees_with_float64_to_its_rounding():
    _, jacobian, residual, mu = gru_jacobians(20, torch.float64, seed=1)
    mu[5] = 1e-2
    rows = torch.arange(20)
    with NormalEquations("cpu") as equations:
        single, info = equations.solve(jacobian.float(), rows, residual, mu)
        double, _ = equations.solve(jacobian, rows, residual, mu)
    assert single.dtype == torch.float32 and (info == 0).all()
    # Each step to float32's rounding, times the condition of J^T J + mu I (up to ~1e4 here).
    error = (single.double() - double).norm(dim=1) / double.norm(dim=1)
    assert error.max() < 1e-3, error.max()
    with NormalEquations("cpu", "torch") as batched:
        torch.testing.assert_close(single, batched.solve(jacobian.float(), rows, residual, mu)[0], rtol=0, atol=1e-3)


def test_the_jacobians_formed_in_chunks_are_the_closed_form(monkeypatch):
    """LM forms its Jacobians a few MB at a time on a CPU (``solver.JACOBIAN_CHUNK_BYTES``); rows
    scattered across chunks get ``I - dF/dh`` at their own states, the rest are left alone."""
    h, jacobian, _, _ = gru_jacobians(10, torch.float64)
    params = float64_layer("gru", 8, SIZE, seed=3)

    def transition(h, x):
        return cells.GRU.jacobians(params, h, x)[0]

    monkeypatch.setattr(solver, "JACOBIAN_CHUNK_BYTES", 3 * SIZE * SIZE * 8)  # three rows at a time
    rows = torch.tensor([0, 2, 3, 7, 8, 9, 4])
    untouched = jacobian.clone()
    x = torch.zeros(10, 8, dtype=torch.float64)
    refreshed = solver._refresh_jacobians(jacobian, transition, h, x, rows)
    assert refreshed is jacobian
    expected = torch.eye(SIZE, dtype=torch.float64) - transition(h, x)
    torch.testing.assert_close(jacobian[rows], expected[rows], rtol=0, atol=1e-15)
    others = torch.tensor([1, 5, 6])
    assert torch.equal(jacobian[others], untouched[others])


def test_an_unknown_backend_or_lapack_off_the_cpu_is_refused():
    with pytest.raises(ValueError, match="backend must be one of"):
        NormalEquations("cpu", "cusolver")
    with pytest.raises(ValueError, match="runs on the CPU"):
        NormalEquations("meta", "lapack")
    assert NormalEquations("cpu").lapack and not NormalEquations("meta").lapack
