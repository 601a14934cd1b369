"""The fixed-point search of any recurrent network, its result (``FixedPoints``) and the linearization.

``find_fixed_points`` runs the pipeline's own search (``dynamics.fixed_points.solve``: batched
Levenberg-Marquardt with closed-form Jacobians for torch's modules) from the starts given, under one
constant input or one per start, and joins the starts into unique fixed points by the pipeline's own
verdicts (``dynamics.fixed_points.gather``: converged below ``q_tol``, inside the states the network can
reach, deduplicated), each input condition apart. Its settings are the config's ``fixed_points`` keys, each
defaulting to the schema's value, as in the pipeline: nothing here needs Snakemake or a config file.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os

import numpy as np
import pandas as pd
import pyarrow as pa
import torch

from rnn_dynamics.api.systems import CELL_MODULES, RECURRENT_MODULES, Layer, Network, as_system
from rnn_dynamics.dynamics import fixed_points, linearization, solver
from rnn_dynamics.ground.storage import atomic_path, list_column, list_matrix, reading
from rnn_dynamics.networks import cells, model

__all__ = ["SETTINGS", "FixedPoints", "find_fixed_points", "jacobians", "linearize", "sample_starts"]

sample_starts = fixed_points.sample_starts

# The keys ``find_fixed_points`` takes: the ``fixed_points`` keys of the search and of the verdicts, less
# those of sampling (the starts are given) and ``exact_roots`` (the argument ``exact``).
SETTINGS = sorted(
    (
        {field.name for field in dataclasses.fields(fixed_points.SearchSettings)}
        - {"starts", "noise", "seed", "exact_roots"}
    )
    | {field.name for field in dataclasses.fields(fixed_points.GatherSettings)}
)


@dataclasses.dataclass
class FixedPoints:
    """The outcome of every start of a search, and the unique fixed points among them.

    ``table`` is the pipeline's gathered table (``dynamics.fixed_points.FIXED_POINT_COLUMNS``: one row per
    start, in the order of the starts) with the constant ``input`` of each start; ``jacobian`` (K, S, S) is
    ``dF/dh`` at the K unique points (``unique_points``, numbered by ``fixed_point_id``). Where ``exact``,
    every column describes the exact root (q < 1e-12) each start was driven on to.

    Example:
        >>> import numpy as np, torch
        >>> import rnn_dynamics as rd
        >>> _ = torch.manual_seed(0)
        >>> rnn = torch.nn.RNN(2, 4, bias=False)
        >>> with torch.no_grad():
        ...     _ = rnn.weight_hh_l0.copy_(0.5 * torch.eye(4))
        >>> found = rd.find_fixed_points(rnn, np.random.default_rng(0).uniform(-1, 1, (20, 4)), exact=True)
        >>> len(found), bool(found.is_stable.all()), bool(np.abs(found.unique_points).max() < 1e-6)
        (1, True, True)
        >>> found.to_pandas()[["fixed_point_id", "q", "converged"]].shape
        (20, 3)
    """

    table: pa.Table
    jacobian: np.ndarray
    exact: bool = False

    @property
    def state_size(self) -> int:
        return self.jacobian.shape[-1]

    def _matrix(self, name: str, table: pa.Table | None = None) -> np.ndarray:
        table = self.table if table is None else table
        return list_matrix(table[name], self.state_size if name != "input" else self.table["input"].type.list_size)

    # Every start, in the order of the starts.
    @property
    def starts(self) -> np.ndarray:
        """(B, S) where each start began."""
        return self._matrix("start")

    @property
    def points(self) -> np.ndarray:
        """(B, S) where each start ended: x*, an approximate fixed point where ``converged``."""
        return self._matrix("fixed_point")

    @property
    def inputs(self) -> np.ndarray:
        """(B, I) the constant input of each start's search."""
        return self._matrix("input")

    @property
    def q(self) -> np.ndarray:
        """(B,) ``q = 1/S ||x* - F(x*)||^2`` at each end."""
        return self.table["q"].to_numpy()

    @property
    def iterations(self) -> np.ndarray:
        return self.table["iterations"].to_numpy()

    @property
    def converged(self) -> np.ndarray:
        """(B,) bool: q below the tolerance (``q_tol``; 1e-12 where ``exact``)."""
        return self.table["converged"].to_numpy()

    @property
    def slow(self) -> np.ndarray:
        """(B,) bool: the start settled at a minimum of q above the tolerance, a slow point."""
        return ~self.converged

    @property
    def at_bound(self) -> np.ndarray:
        """(B,) bool: the end sits on the state bound, where the search stopped a start that would leave the
        states the network can reach (``bounded``); never a fixed point."""
        return self.table["at_bound"].to_numpy()

    @property
    def in_state_space(self) -> np.ndarray:
        """(B,) bool: the end lies within the state bound (always, for a system without one)."""
        return self.table["in_state_space"].to_numpy()

    @property
    def fixed_point_id(self) -> np.ndarray:
        """(B,) int: the unique fixed point each start found, -1 where it found none."""
        return self.table["fixed_point_id"].to_numpy()

    # The unique fixed points, numbered by fixed_point_id.
    @functools.cached_property
    def _unique(self) -> pa.Table:
        return fixed_points.unique_fixed_points(self.table)

    @property
    def unique_points(self) -> np.ndarray:
        """(K, S) the unique fixed points, each its lowest-q member."""
        return self._matrix("fixed_point", self._unique)

    @property
    def unique_inputs(self) -> np.ndarray:
        """(K, I) the input each unique fixed point is a fixed point of."""
        return list_matrix(self._unique["input"], self.table["input"].type.list_size)

    @property
    def unique_q(self) -> np.ndarray:
        return self._unique["q"].to_numpy()

    @functools.cached_property
    def _spectrum(self) -> tuple[np.ndarray, np.ndarray]:
        values, right, _ = linearization.eigendecomposition(self.jacobian, modes=None)
        return values, right

    @property
    def eigenvalues(self) -> np.ndarray:
        """(K, S) complex: the eigenvalues of ``jacobian`` at each unique point, |lambda| descending."""
        return self._spectrum[0]

    @property
    def eigenvectors(self) -> np.ndarray:
        """(K, S, S) complex: row m of point k is the right eigenvector of ``eigenvalues[k, m]``."""
        return self._spectrum[1]

    @property
    def is_stable(self) -> np.ndarray:
        """(K,) bool: every eigenvalue inside the unit circle (an attractor of the discrete map)."""
        return np.abs(self.eigenvalues).max(axis=1, initial=0.0) < 1.0

    def __len__(self) -> int:
        return len(self._unique)

    def __repr__(self) -> str:
        counts = self.counts()
        return (
            f"FixedPoints({counts['starts']} starts: {counts['converged']} converged, {counts['slow_points']} slow, "
            f"{counts['at_bound']} at the bound; {len(self)} unique, {int(self.is_stable.sum())} stable"
            f"{', exact roots' if self.exact else ''})"
        )

    def counts(self) -> dict:
        """The pipeline's counts (``dynamics.fixed_points.counts``): starts, converged, slow points, at the
        bound, unique fixed points, ..."""
        return fixed_points.counts(self.table)

    def to_pandas(self) -> pd.DataFrame:
        """One row per start with the pipeline's columns (``start``, ``fixed_point``, ``q``, ``iterations``,
        ``converged``, ``at_bound``, ``fixed_point_id``, ``representative``, ...) and ``input``."""
        return self.table.to_pandas()

    def project(self, components: np.ndarray, mean: np.ndarray | None = None) -> np.ndarray:
        """The unique points (K, S) in the coordinates of ``components`` (k, S), orthonormal rows such as a
        PCA's (scikit-learn's ``components_``), about ``mean`` (S,) (zero if None): (K, k)."""
        centred = self.unique_points - (0.0 if mean is None else np.asarray(mean))
        return centred @ np.asarray(components).T

    def save(self, path: str | os.PathLike) -> None:
        """Write the result to one ``.npz`` file atomically (``load`` reads it back)."""
        arrays = {
            f"column:{name}": self._matrix(name)
            if pa.types.is_fixed_size_list(self.table[name].type)
            else self.table[name].to_numpy()
            for name in self.table.column_names
        }
        metadata = {key.decode(): value.decode() for key, value in (self.table.schema.metadata or {}).items()}
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez_compressed(
                handle, **arrays, jacobian=self.jacobian, exact=self.exact, metadata=json.dumps(metadata)
            )

    @classmethod
    def load(cls, path: str | os.PathLike) -> "FixedPoints":
        """A result written by ``save``."""
        with reading(path), np.load(path) as data:
            columns = {
                key.removeprefix("column:"): list_column(data[key]) if data[key].ndim == 2 else pa.array(data[key])
                for key in data.files
                if key.startswith("column:")
            }
            metadata = json.loads(str(data["metadata"]))
            return cls(pa.table(columns).replace_schema_metadata(metadata), data["jacobian"], bool(data["exact"]))


def _settings(settings: dict) -> tuple[fixed_points.SearchSettings, fixed_points.GatherSettings]:
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise ValueError(
            f"unknown fixed-point setting(s) {unknown}; known: {SETTINGS} (the fixed_points keys of "
            "config.schema.yaml, which documents each and holds its default)"
        )

    def of(kind):
        names = {field.name for field in dataclasses.fields(kind)}
        return kind(**{key: value for key, value in settings.items() if key in names})

    return of(fixed_points.SearchSettings), of(fixed_points.GatherSettings)


def _device(network: Network, name: str, given: bool) -> torch.device:
    """Where the search runs: the setting ``device`` for torch's own modules; a callable's tensors are where
    its author put them, so it runs on the CPU unless ``device`` is given."""
    if given or type(network) in RECURRENT_MODULES or type(network) in CELL_MODULES:
        return model.resolve_device(name, "device")
    return torch.device("cpu")


def _inputs(inputs, count: int, system: cells.DynamicalSystem | None, input_size: int | None) -> np.ndarray:
    """The constant input of each of ``count`` starts (count, I), float64: zeros where ``inputs`` is None."""
    size = system.input_size if system is not None else input_size
    if inputs is None:
        if size is None:
            raise ValueError("a step(h, x) function needs inputs ((I,) or (B, I)): its input size is not known")
        return np.zeros((count, size))
    inputs = np.asarray(inputs.detach().cpu() if torch.is_tensor(inputs) else inputs, dtype=np.float64)
    if inputs.ndim == 1:
        inputs = np.broadcast_to(inputs, (count, len(inputs)))
    if inputs.shape[0] != count or (size is not None and inputs.shape[1] != size) or inputs.ndim != 2:
        raise ValueError(f"inputs must be (I,) or (B, I) with B = {count} starts and I = {size}, got {inputs.shape}")
    return np.ascontiguousarray(inputs)


def _gather(table: pa.Table, inputs: np.ndarray, settings: fixed_points.GatherSettings) -> pa.Table:
    """The pipeline's verdicts on every start, each input condition apart (a point is a fixed point of one
    input), the unique ids numbered on across the conditions."""
    _, group = np.unique(inputs, axis=0, return_inverse=True)
    group = group.ravel()
    parts, offsets = [], {"fixed_point_id": 0, "exact_root_id": 0}
    for condition in range(group.max(initial=-1) + 1):
        part = fixed_points.gather([table.filter(pa.array(group == condition))], settings)
        for column, flag in (("fixed_point_id", "representative"), ("exact_root_id", "exact_root_representative")):
            ids = part[column].to_numpy()
            shifted = pa.array(np.where(ids >= 0, ids + offsets[column], -1).astype(np.int32))
            part = part.set_column(part.schema.get_field_index(column), column, shifted)
            offsets[column] += int(part[flag].to_numpy().sum())
        parts.append(part)
    return pa.concat_tables(parts).sort_by("start_index") if parts else fixed_points.gather([table], settings)


def find_fixed_points(
    network: Network,
    starts,
    inputs=None,
    exact: bool = False,
    *,
    layer: Layer = None,
    state_bound: np.ndarray | float | None = None,
    progress: bool = False,
    **settings,
) -> FixedPoints:
    """The fixed points of ``network`` reached from ``starts`` (B, S), at the constant ``inputs``.

    Args:
        network: a ``torch.nn.GRU``/``LSTM``/``RNN``, a ``GRUCell``/``LSTMCell``/``RNNCell``, or a callable
            ``step(h, x) -> h'`` on float64 batches (its Jacobians by autograd), as ``systems.as_system``.
        starts: (B, S) initial states, used as given (``sample_starts`` draws them from visited states); for
            an LSTM the state is ``[h, c]``, S = 2H; for the stack of a multi-layer module, every layer's.
        inputs: the constant input, (I,) for every start or (B, I), one per start (several input conditions
            in one search); zeros if None (a callable needs it given).
        exact: drive every start on to an exact root (q < 1e-12) rather than stop at the approximate
            tolerance ``q_tol``, the paper's approximate fixed points.
        layer: for a multi-layer module, its layer (0-based) or ``"stack"`` (None: the stack).
        state_bound: for a callable, its largest reachable |h| (torch's modules have their architecture's).
        progress: show the solver's progress bar.
        settings: any ``fixed_points`` key of the config (``method``, ``max_iterations``, ``q_tol``,
            ``damping``, ``learning_rate``, ``bounded``, ``single_precision``, ``device``, ``unique_tol``,
            ``unique_metric``, ``outlier_distance``), each defaulting to the schema's value.

    Example:
        >>> import numpy as np, torch
        >>> import rnn_dynamics as rd
        >>> gru = torch.nn.GRU(input_size=3, hidden_size=16, batch_first=True)
        >>> states = rd.trajectories(gru, torch.randn(10, 20, 3)).reshape(-1, 16)
        >>> found = rd.find_fixed_points(gru, rd.sample_starts(states, 50, noise=0.01, seed=0))
        >>> found.points.shape, found.converged.dtype
        ((50, 16), dtype('bool'))
    """
    search, verdicts = _settings(settings)
    device = _device(network, search.device, "device" in settings)
    starts = np.asarray(starts.detach().cpu() if torch.is_tensor(starts) else starts, dtype=np.float64)
    if starts.ndim != 2:
        raise ValueError(f"starts must be a (B, S) array, got shape {starts.shape}")
    given = None if inputs is None else np.asarray(inputs.detach().cpu() if torch.is_tensor(inputs) else inputs)
    system = as_system(
        network, layer, state_size=starts.shape[1], input_size=None if given is None else given.shape[-1],
        state_bound=state_bound, device=device,
    )  # fmt: skip
    x = _inputs(inputs, len(starts), system, None)
    result = fixed_points.solve(system, starts, search, device, progress=progress, x=x)
    if exact:
        roots = solver.polish(
            system, result, max_iterations=search.max_iterations, bounded=search.bounded, progress=progress,
            device=device, x=x,
        ).exact_roots  # fmt: skip
        result = dataclasses.replace(roots, start=result.start, iterations=result.iterations + roots.iterations)
        verdicts = dataclasses.replace(verdicts, q_tol=solver.EXACT_Q_TOL, q_rule="absolute")
    result = solver.measure_slow_points(system, result, device=device, x=x)
    table = _gather(result.to_table().append_column("input", list_column(x)), x, verdicts)
    unique = fixed_points.unique_fixed_points(table)
    points = list_matrix(unique["fixed_point"], system.state_size)
    if len(points):
        j_rec, _ = linearization.jacobians(system, points, list_matrix(unique["input"], x.shape[1]), device)
    else:
        j_rec = np.zeros((0, system.state_size, system.state_size))
    return FixedPoints(table, j_rec, exact)


def _points_and_inputs(network: Network, points, inputs, layer: Layer):
    """The points (K, S), their inputs (K, I) and the system, from a ``FixedPoints`` (its unique points) or
    an array."""
    if isinstance(points, FixedPoints):
        if inputs is None:
            inputs = points.unique_inputs
        points = points.unique_points
    points = np.atleast_2d(np.asarray(points, dtype=np.float64))
    given = None if inputs is None else np.asarray(inputs)
    system = as_system(
        network, layer, state_size=points.shape[1], input_size=None if given is None else given.shape[-1]
    )
    return points, _inputs(inputs, len(points), system, None), system


def jacobians(network: Network, points, inputs=None, *, layer: Layer = None) -> tuple[np.ndarray, np.ndarray]:
    """``J_rec = dF/dh`` (K, S, S) and ``J_inp = dF/dx`` (K, S, I) at ``points`` (K, S) (or a ``FixedPoints``'
    unique points), at ``inputs`` ((I,) or (K, I); zeros, or the points' own, if None).

    Example:
        >>> import numpy as np, torch
        >>> import rnn_dynamics as rd
        >>> j_rec, j_inp = rd.jacobians(torch.nn.LSTMCell(3, 4), np.zeros((2, 8)))
        >>> j_rec.shape, j_inp.shape
        ((2, 8, 8), (2, 8, 3))
    """
    points, x, system = _points_and_inputs(network, points, inputs, layer)
    return linearization.jacobians(system, points, x)


def linearize(
    network: Network, points, inputs=None, *, layer: Layer = None, modes: int | None = linearization.DEFAULT_MODES
) -> linearization.Linearization:
    """The pipeline's ``Linearization`` at ``points`` (K, S) (or a ``FixedPoints``' unique points): eigenvalues
    (K, S) by |lambda| descending, the right and left eigenvectors of the first ``modes`` (None: all),
    ``left_input`` (``l_k J_inp``), ``time_constants``.

    Example:
        >>> import numpy as np, torch
        >>> import rnn_dynamics as rd
        >>> rnn = torch.nn.RNN(2, 3, bias=False)
        >>> with torch.no_grad():
        ...     _ = rnn.weight_hh_l0.copy_(torch.diag(torch.tensor([0.9, -0.5, 0.1])))
        >>> np.round(rd.linearize(rnn, np.zeros((1, 3))).eigenvalues.real, 6).tolist()
        [[0.9, -0.5, 0.1]]
    """
    points, x, system = _points_and_inputs(network, points, inputs, layer)
    return linearization.linearize(system, points, x=x, modes=modes)
