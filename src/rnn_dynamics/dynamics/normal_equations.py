"""Levenberg-Marquardt's damped normal equations ``(J^T J + mu I) d = -J^T r`` for a batch of Jacobians.

``NormalEquations.solve`` forms and solves them for some rows of a batch of square
Jacobians, in the Jacobians' dtype, each row with its own damping ``mu``. On a GPU it
is a handful of batched torch calls (``bmm``, ``cholesky_ex``, two triangular solves).
On a CPU it calls BLAS and LAPACK one matrix at a time (``?syrk`` for the lower half of
``J^T J``, ``?gemv``, ``?potrf``, ``?potrs``) through scipy's Cython interface (via
``ctypes``, which lets go of the GIL), the rows dealt out among ``torch.get_num_threads()``
threads: half the products of ``bmm`` (``J^T J`` is symmetric), no copy of the rows, and
OpenBLAS's factorisation rather than the one torch's CPU Cholesky calls per matrix, which
is slower (docs/training-notes.md, "Measurements formerly in docstrings").

Both paths solve the same equations: ``tests/test_normal_equations.py`` holds them to
each other in float64 on GRU Jacobians, and ``tests/test_fixed_point_fidelity.py`` holds
whole searches to each other on a trained GRU.
"""

from __future__ import annotations

import ctypes
import logging
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Callable

import numpy as np
import scipy.linalg.cython_blas as cython_blas
import scipy.linalg.cython_lapack as cython_lapack
import torch
from threadpoolctl import threadpool_limits
from torch import Tensor

__all__ = ["BACKENDS", "PARTS_PER_THREAD", "NormalEquations"]

log = logging.getLogger(__name__)

BACKENDS = ("auto", "lapack", "torch")
# The CPU's rows are dealt out in this many parts per thread, taken in turn by whichever thread
# is free: with one part each, one thread waits on the other.
PARTS_PER_THREAD = 4

# (J^T J, J^T r) -> (J^T J, J^T r), changed in place or anew, before the damping is added.
Adjust = Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]


def _capsule_function(module, name: str, arguments: int):
    """The C function ``name`` of scipy's Cython BLAS/LAPACK module as a ctypes function of
    ``arguments`` pointers (every argument of a Fortran routine is a pointer)."""
    capsule = module.__pyx_capi__[name]
    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype, get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype, get_pointer.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    address = get_pointer(capsule, get_name(capsule))
    return ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * arguments)(address)


class _Lapack:
    """One precision's four routines, by the BLAS/LAPACK prefix (``s`` float32, ``d`` float64)."""

    def __init__(self, prefix: str):
        self.syrk = _capsule_function(cython_blas, f"{prefix}syrk", 10)
        self.gemv = _capsule_function(cython_blas, f"{prefix}gemv", 11)
        self.potrf = _capsule_function(cython_lapack, f"{prefix}potrf", 5)
        self.potrs = _capsule_function(cython_lapack, f"{prefix}potrs", 8)
        scalar = ctypes.c_float if prefix == "s" else ctypes.c_double
        self.one, self.zero = scalar(1.0), scalar(0.0)


_ROUTINES: dict[torch.dtype, _Lapack] = {}


def _routines(dtype: torch.dtype) -> _Lapack:
    if dtype not in _ROUTINES:
        _ROUTINES[dtype] = _Lapack({torch.float32: "s", torch.float64: "d"}[dtype])
    return _ROUTINES[dtype]


class NormalEquations:
    """Solves LM's damped normal equations for rows of a batch of (B, S, S) Jacobians.

    A context manager: on a CPU it holds the worker threads and keeps BLAS to one
    thread per call while open. ``backend`` is ``"lapack"`` (the CPU's), ``"torch"``
    (batched torch calls, a GPU's) or ``"auto"``: LAPACK on a CPU, torch elsewhere.
    """

    def __init__(self, device: torch.device | str = "cpu", backend: str = "auto"):
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, not {backend!r}")
        device = torch.device(device)
        if backend == "lapack" and device.type != "cpu":
            raise ValueError(f"the lapack backend runs on the CPU, not on {device}")
        self.lapack = backend == "lapack" or (backend == "auto" and device.type == "cpu")
        if self.lapack:
            try:
                _routines(torch.float32), _routines(torch.float64)
            except (AttributeError, KeyError, ValueError, OSError) as error:
                if backend == "lapack":
                    raise RuntimeError(f"scipy's BLAS/LAPACK could not be reached through ctypes: {error!r}") from error
                log.warning("scipy's BLAS/LAPACK unreachable (%r): LM's normal equations by batched torch calls", error)
                self.lapack = False
        self.threads = max(1, torch.get_num_threads())
        self._stack = ExitStack()
        self._pool: ThreadPoolExecutor | None = None
        self._workspace: dict[torch.dtype, Tensor] = {}

    def __enter__(self) -> "NormalEquations":
        if self.lapack:
            self._stack.enter_context(threadpool_limits(limits=1, user_api="blas"))
            if self.threads > 1:
                self._pool = self._stack.enter_context(ThreadPoolExecutor(self.threads))
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()
        self._pool = None

    def solve(
        self, jacobian: Tensor, rows: Tensor, residual: Tensor, mu: Tensor, adjust: Adjust | None = None
    ) -> tuple[Tensor, Tensor]:
        """The steps ``d`` (R, S) for ``rows`` (R,) of ``jacobian`` (B, S, S), with their residuals
        ``residual`` (R, S) and dampings ``mu`` (R,), in ``jacobian``'s dtype; and each row's
        ``info`` (R,): nonzero where ``J^T J + mu I`` was not positive definite (its step is
        then meaningless). ``adjust`` may change ``J^T J`` and ``J^T r`` before the damping is
        added (holding coordinates at a bound); only ``J^T J``'s lower triangle is read."""
        residual = residual.to(jacobian.dtype)
        mu = mu.to(jacobian.dtype)
        if self.lapack:
            return self._solve_lapack(jacobian, rows, residual, mu, adjust)
        jac = jacobian if len(rows) == len(jacobian) else jacobian[rows]
        jtj = torch.bmm(jac.mT, jac)
        gradient = torch.bmm(jac.mT, residual.unsqueeze(-1)).squeeze(-1)
        if adjust is not None:
            jtj, gradient = adjust(jtj, gradient)
        jtj.diagonal(dim1=1, dim2=2).add_(mu.unsqueeze(1))
        factor, info = torch.linalg.cholesky_ex(jtj)
        # Two triangular solves, not ``torch.cholesky_solve``: the same arithmetic, and on a CPU
        # batch of factors torch's call was several times slower (docs/training-notes.md).
        half = torch.linalg.solve_triangular(factor, -gradient.unsqueeze(-1), upper=False)
        return torch.linalg.solve_triangular(factor.mT, half, upper=True).squeeze(-1), info

    def _solve_lapack(self, jacobian, rows, residual, mu, adjust):
        if jacobian.device.type != "cpu" or not jacobian.is_contiguous():
            raise ValueError("the lapack backend needs a contiguous batch of Jacobians on the CPU")
        count, size = len(rows), jacobian.shape[-1]
        dtype = jacobian.dtype
        if dtype not in self._workspace or len(self._workspace[dtype]) < len(jacobian):
            # Reused from call to call: a new 262 MB buffer each iteration costs its page faults.
            self._workspace[dtype] = torch.empty(len(jacobian), size, size, dtype=dtype)
        jtj = self._workspace[dtype][:count]
        gradient = torch.empty(count, size, dtype=dtype)
        residual = residual.contiguous()
        lapack = _routines(dtype)
        # Fortran takes every argument by reference; these are only read.
        n, one = ctypes.byref(ctypes.c_int(size)), ctypes.byref(ctypes.c_int(1))
        alpha, beta = ctypes.byref(lapack.one), ctypes.byref(lapack.zero)
        j_base, a_base = jacobian.data_ptr(), jtj.data_ptr()
        r_base, g_base = residual.data_ptr(), gradient.data_ptr()
        matrix, vector = size * size * jacobian.element_size(), size * jacobian.element_size()
        row_numbers = rows.tolist()

        # A row-major J read as column-major is J^T: syrk("L", "N") of it is J^T J (its lower
        # half in LAPACK's column-major sense) and gemv("N") of it is J^T r.
        def form(part: range) -> None:
            for k in part:
                j, a = j_base + row_numbers[k] * matrix, a_base + k * matrix
                lapack.syrk(b"L", b"N", n, n, alpha, j, n, beta, a, n)
                lapack.gemv(b"N", n, n, alpha, j, n, r_base + k * vector, one, beta, g_base + k * vector, one)

        self._each(form, count)
        if adjust is not None:
            # LAPACK's lower half (column-major) is the row-major buffer's upper half: adjust
            # sees the transpose, whose lower half is J^T J's, as torch's path hands it over.
            adjusted, gradient = adjust(jtj.mT, gradient)
            if adjusted.data_ptr() != jtj.data_ptr():
                jtj.mT.copy_(adjusted)
        jtj.diagonal(dim1=1, dim2=2).add_(mu.unsqueeze(1))
        step = gradient.neg().contiguous()
        info = np.zeros(count, dtype=np.int32)
        s_base = step.data_ptr()

        def factorise(part: range) -> None:
            status = ctypes.c_int(0)
            for k in part:
                a = a_base + k * matrix
                lapack.potrf(b"L", n, a, n, ctypes.byref(status))
                info[k] = status.value
                if status.value == 0:
                    lapack.potrs(b"L", n, one, a, n, s_base + k * vector, n, ctypes.byref(status))

        self._each(factorise, count)
        return step, torch.from_numpy(info)

    def _each(self, work: Callable[[range], None], count: int) -> None:
        """``work`` on ``PARTS_PER_THREAD`` contiguous parts of ``range(count)`` per thread."""
        if self._pool is None or count < 2 * self.threads:
            work(range(count))
            return
        bounds = np.linspace(0, count, PARTS_PER_THREAD * self.threads + 1).astype(int)
        for future in [self._pool.submit(work, range(a, b)) for a, b in zip(bounds[:-1], bounds[1:])]:
            future.result()
