"""The system linearized at its fixed points: Jacobians, eigenvalues, eigenvectors, time constants.

Near a fixed point ``h*`` a perturbation evolves as ``dh_t = J_rec dh_{t-1} + J_inp dx_t``
(``J_rec = dF/dh``, ``J_inp = dF/dx``). An eigenvalue ``lambda`` of ``J_rec`` is a mode that
decays (or rotates) with time constant ``tau = |1 / ln|lambda||`` steps; a line attractor has
one ``|lambda| ~ 1``. The right eigenvector ``r_k`` is the mode's direction, the left one
``l_k`` (rows of ``R^-1``, ``l_k . r_k = 1``) what projects onto it: a word moves the mode by
``l_k . J_inp x``. The linearization is taken at every unique approximate fixed point.

Table: one row per fixed point; eigenvalues sorted by modulus, largest first; row k of
``right_*``/``left_*`` (modes*S) is eigenvector k of the first ``modes``, and ``left_input_*``
(modes*I) is ``l_k^T J_inp``. The Jacobians (S*S per point) are not stored: the cells give
them in closed form from the model (``cells.DynamicalSystem.jacobians``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from rnn_dynamics.dynamics import fixed_point_sets
from rnn_dynamics.dynamics.spectra import time_constant
from rnn_dynamics.ground.storage import list_column, list_matrix, read_table

__all__ = [
    "COLUMNS",
    "DEFAULT_MODES",
    "Linearization",
    "eigendecomposition",
    "jacobians",
    "largest_modulus",
    "line_coordinate",
    "linearize",
    "linearize_table",
    "read",
    "read_modulus",
]

if TYPE_CHECKING:
    import torch

# Eigenvectors kept per fixed point: the slowest modes carry the computation (the
# analyses read the top one), and all S of them would take S*S values per point.
DEFAULT_MODES = 3


@dataclass
class Linearization:
    """The linearization at K fixed points of a system with state size S and input size I."""

    fixed_point_id: np.ndarray  # (K,) int
    fixed_point: np.ndarray  # (K, S)
    eigenvalues: np.ndarray  # (K, S) complex, |lambda| descending
    right: np.ndarray  # (K, modes, S) complex, right[k, m] is the m-th right eigenvector
    left: np.ndarray  # (K, modes, S) complex, left[k, m] . right[k, m] = 1
    left_input: np.ndarray  # (K, modes, I) complex, left[k, m] @ J_inp at fixed point k

    @property
    def modulus(self) -> np.ndarray:
        return np.abs(self.eigenvalues)

    @property
    def time_constants(self) -> np.ndarray:
        return time_constant(self.modulus)

    def to_table(self) -> pa.Table:
        k, size = self.fixed_point.shape
        inputs, modes = self.left_input.shape[2], self.right.shape[1]
        return pa.table(
            {
                "fixed_point_id": pa.array(self.fixed_point_id.astype(np.int32)),
                "state_size": pa.array(np.full(k, size, dtype=np.int32)),
                "input_size": pa.array(np.full(k, inputs, dtype=np.int32)),
                "modes": pa.array(np.full(k, modes, dtype=np.int32)),
                "fixed_point": list_column(self.fixed_point),
                "eigenvalue_real": list_column(self.eigenvalues.real),
                "eigenvalue_imag": list_column(self.eigenvalues.imag),
                "modulus": list_column(self.modulus),
                "time_constant": list_column(self.time_constants),
                "right_real": list_column(self.right.real),
                "right_imag": list_column(self.right.imag),
                "left_real": list_column(self.left.real),
                "left_imag": list_column(self.left.imag),
                "left_input_real": list_column(self.left_input.real),
                "left_input_imag": list_column(self.left_input.imag),
            }
        )

    @classmethod
    def from_table(cls, table: pa.Table) -> "Linearization":
        def matrix(name: str, *shape: int) -> np.ndarray:
            return list_matrix(table[name], *shape)

        if len(table) == 0:  # no fixed point: the columns' list sizes still carry the shapes
            size = table.schema.field("fixed_point").type.list_size
            modes = table.schema.field("right_real").type.list_size // max(size, 1)
            inputs = table.schema.field("left_input_real").type.list_size // max(modes, 1)
        else:
            size, inputs, modes = (int(table[name][0].as_py()) for name in ("state_size", "input_size", "modes"))
        return cls(
            fixed_point_id=table["fixed_point_id"].to_numpy(),
            fixed_point=matrix("fixed_point", size),
            eigenvalues=matrix("eigenvalue_real", size) + 1j * matrix("eigenvalue_imag", size),
            right=matrix("right_real", modes, size) + 1j * matrix("right_imag", modes, size),
            left=matrix("left_real", modes, size) + 1j * matrix("left_imag", modes, size),
            left_input=matrix("left_input_real", modes, inputs) + 1j * matrix("left_input_imag", modes, inputs),
        )


COLUMNS = {
    name: None
    for name in (
        "fixed_point_id state_size input_size modes fixed_point eigenvalue_real eigenvalue_imag "
        "modulus time_constant right_real right_imag left_real left_imag left_input_real left_input_imag"
    ).split()
}


def read(path: str | Path) -> Linearization:
    return Linearization.from_table(read_table(path, COLUMNS))


def read_modulus(path: str | Path) -> np.ndarray:
    """Only the eigenvalue moduli (K, S) of a linearization table, without loading the matrices."""
    return list_matrix(read_table(path, COLUMNS, columns=["modulus"])["modulus"])


def jacobians(system, points, x=None, device: str | torch.device = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """``dF/dh`` (K, S, S) and ``dF/dx`` (K, S, I) at each row of ``points`` with input ``x`` (I,) or one per
    point (K, I) (zeros if None), float64.

    Computed on ``device`` (where ``system``'s weights must be); returned as numpy arrays on the CPU. Torch is
    imported here, where a network runs: reading a stored linearization (the table jobs) needs none.
    """
    import torch

    h = torch.from_numpy(np.array(points, dtype=np.float64)).reshape(-1, system.state_size).to(device)
    x = (
        torch.zeros(system.input_size, dtype=torch.float64, device=device)
        if x is None
        else torch.as_tensor(np.array(x, dtype=np.float64), device=device)
    )
    with torch.no_grad():
        j_rec, j_inp = system.jacobians(h, x.expand(len(h), -1) if x.ndim == 1 else x)
    return j_rec.cpu().numpy(), j_inp.cpu().numpy()


def eigendecomposition(j_rec: np.ndarray, modes: int | None = DEFAULT_MODES):
    """Eigenvalues (K, S) sorted by modulus (descending), and the right and left eigenvectors of the first ``modes``."""
    size = j_rec.shape[-1]
    modes = size if modes is None else min(modes, size)
    # A diverged network's Jacobian holds inf or NaN: its spectrum is NaN, not a crash.
    finite = np.isfinite(j_rec).all(axis=(-2, -1))
    values, vectors = np.linalg.eig(np.where(finite[:, None, None], j_rec, 0.0))
    values[~finite], vectors[~finite] = np.nan, np.eye(size)
    order = np.argsort(-np.abs(values), axis=-1, kind="stable")
    values = np.take_along_axis(values, order, axis=-1)
    vectors = np.take_along_axis(vectors, order[:, None, :], axis=-1)  # columns are eigenvectors
    left = np.linalg.inv(vectors)  # rows are left eigenvectors, biorthonormal to the columns
    vectors[~finite], left[~finite] = np.nan, np.nan
    right = vectors.transpose(0, 2, 1)[:, :modes]
    return values, right, left[:, :modes]


def linearize(
    system,
    fixed_points: np.ndarray,
    fixed_point_id=None,
    x=None,
    modes: int | None = DEFAULT_MODES,
    chunk: int = 64,
    device: str | torch.device = "cpu",
) -> Linearization:
    """Eigendecomposition of the Jacobians at each row of ``fixed_points`` (K, S) with input ``x`` (I,) or one
    per point (K, I) (zeros if None), ``chunk`` points at a time.

    The Jacobians are formed on ``device`` (where ``system``'s weights must be); the
    eigendecomposition runs in numpy on the CPU, as on a CPU-only machine."""
    fixed_points = np.asarray(fixed_points, dtype=np.float64).reshape(-1, system.state_size)
    kept = system.state_size if modes is None else min(modes, system.state_size)
    eigenvalues = np.zeros((len(fixed_points), system.state_size), dtype=complex)
    right = np.zeros((len(fixed_points), kept, system.state_size), dtype=complex)
    left = np.zeros_like(right)
    left_input = np.zeros((len(fixed_points), kept, system.input_size), dtype=complex)
    for begin in range(0, len(fixed_points), chunk):
        rows = slice(begin, begin + chunk)
        point_x = x if x is None or np.ndim(x) == 1 else np.asarray(x)[rows]
        j_rec, j_inp = jacobians(system, fixed_points[rows], point_x, device)
        eigenvalues[rows], right[rows], left[rows] = eigendecomposition(j_rec, modes)
        left_input[rows] = left[rows] @ j_inp
    if fixed_point_id is None:
        fixed_point_id = np.arange(len(fixed_points))
    return Linearization(np.asarray(fixed_point_id), fixed_points, eigenvalues, right, left, left_input)


def largest_modulus(modulus: np.ndarray) -> tuple[float, float]:
    """Median over fixed points of the largest |lambda| (modulus (K, S)), and its time constant (NaN if K = 0)."""
    if len(modulus) == 0:
        return float("nan"), float("nan")
    median = float(np.median(modulus.max(axis=1)))
    return median, float(time_constant(median))


def linearize_table(
    system, fixed_point_table: pa.Table, modes: int | None = DEFAULT_MODES, device: str | torch.device = "cpu"
) -> Linearization:
    """The linearization at every unique approximate fixed point of a gathered table (input zero)."""
    unique = fixed_point_sets.unique_fixed_points(fixed_point_table)
    points = list_matrix(unique["fixed_point"])
    return linearize(system, points, unique["fixed_point_id"].to_numpy(), modes=modes, device=device)


def line_coordinate(points: np.ndarray) -> np.ndarray:
    """Each fixed point's coordinate along the line they form: its projection on their first principal
    component, the paper's theta (zeros below two points). The sign of the axis is arbitrary."""
    points = np.asarray(points, dtype=np.float64)
    if len(points) < 2:
        return np.zeros(len(points))
    centred = points - points.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[0]
