"""How similar two systems' dynamics are: DSA and linear CKA of their states, and their fixed-point geometry.

A system here is one analysed system (``layerN`` or ``stack``) of one model on one split, named
``{model}{split_tag}/{system}`` as its fixed-point table's path names it. Two systems are compared
on the state trajectories of the same reviews (the first ``steps`` tokens of each):

- Dynamical Similarity Analysis (Ostrow et al., NeurIPS 2023), through the authors' package
  ``dsa-metric``: a linear (DMD) operator fitted to each system's delay-embedded trajectories (``n_delays``,
  of one rank for both by the rule ``pair_rank``), and the angular Procrustes distance between the two
  operators over orthogonal changes of basis (``dsa``); beside it the eigenvalue variant
  (``dsa_eigenvalue_w2``, ``EIGENVALUE_W2``): the Wasserstein distance between the eigenvalues alone of
  rank-10 operators fitted without delays, which ignores their eigenvectors;
- InputDSA (the same package): a DMD with control fitted to the states with the token embeddings as the
  input, and the distances of the state operators, the input operators and both jointly;
- linear CKA of the states at the same reviews and tokens (1: the same up to rotation and scale);
- the scale of DSA on the run's own data, per system over the pair's reviews: its distance from the same
  system of its untrained (initial) network (and their CKA), and its noise floor, its distance from itself
  over other reviews of its split, which no distance between two systems can be told below;
- beside them each system's fixed-point geometry (``geometry``).

Pairs come from the config (``similarity.pairs``) or from the grid (``similarity.axes``: every pair
of systems that differ in one axis alone).
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd
import torch

from rnn_dynamics.data.batches import Reviews, padded_batch, training_rows
from rnn_dynamics.dynamics import analyses, fixed_points, linearization, spectra
from rnn_dynamics.ground.grid import ModelSpec
from rnn_dynamics.ground.stages import (
    AXIS_KEYS,
    GEOMETRY,
    PAIR,
    PER_SYSTEM,
    SCALE,
    SystemName,
    axis_pairs,
    axis_value,
    pairs,
)
from rnn_dynamics.ground.stages import SIMILARITY_COLUMNS as COLUMNS
from rnn_dynamics.ground.stages import SimilaritySettings as Settings
from rnn_dynamics.ground.storage import list_matrix

__all__ = [
    "AXIS_KEYS",
    "COLUMNS",
    "EIGENVALUE_W2",
    "GEOMETRY",
    "PAIR",
    "PER_SYSTEM",
    "SCALE",
    "Settings",
    "SystemName",
    "axis_pairs",
    "axis_value",
    "common_rows",
    "compare",
    "delay_rank",
    "dsa_distance",
    "dsa_scores",
    "eligible_rows",
    "embeddable",
    "embedded_inputs",
    "geometry",
    "input_dsa",
    "linear_cka",
    "other_rows",
    "pair_rank",
    "pairs",
    "row",
    "scale",
    "similarity_table",
    "trajectories",
]

log = logging.getLogger(__name__)

# The eigenvalue variant's operators: the states themselves (no delays), rank 10.
EIGENVALUE_W2 = {"n_delays": 1, "rank": 10}


def eligible_rows(split: Reviews, specs: list[ModelSpec], split_name: str, settings: Settings) -> np.ndarray:
    """Rows of ``split`` that every model of ``specs`` read there (for the train split, those all were trained
    on), at least ``steps`` tokens long. Raises ValueError naming the split where there is none."""
    rows = np.arange(len(split))
    if split_name == "train":
        for spec in specs:
            rows = np.intersect1d(rows, training_rows(len(split), spec.train_fraction, spec.seed))
    rows = rows[split.lengths[rows] >= settings.steps]
    if len(rows) == 0:
        raise ValueError(
            f"similarity: no review of the {split_name} split read by {[spec.id for spec in specs]} has "
            f"similarity.steps={settings.steps} tokens; lower similarity.steps"
        )
    return rows


def common_rows(split: Reviews, specs: list[ModelSpec], split_name: str, settings: Settings) -> np.ndarray:
    """The pair's reviews: a sample of ``reviews`` of the ``eligible_rows``, drawn with ``seed``."""
    rows = eligible_rows(split, specs, split_name, settings)
    if len(rows) > settings.reviews:
        rows = np.sort(np.random.default_rng(settings.seed).choice(rows, settings.reviews, replace=False))
    return rows


def other_rows(split: Reviews, specs: list[ModelSpec], split_name: str, settings: Settings) -> np.ndarray:
    """As many eligible rows as ``common_rows`` draws, or all that are left, none of them among those: the
    reviews of a system's noise floor (empty where the pair's reviews are all there are)."""
    rows = eligible_rows(split, specs, split_name, settings)
    rest = np.setdiff1d(rows, common_rows(split, specs, split_name, settings))
    count = min(len(rest), settings.reviews)
    return np.sort(np.random.default_rng(settings.seed + 1).choice(rest, count, replace=False))


def trajectories(model, system: str, reviews: Reviews, rows: np.ndarray, steps: int) -> np.ndarray:
    """The states (n, steps, S) of ``system`` (``layerN``; ``stack``: all layers' states side by side) over the
    first ``steps`` tokens of ``reviews[rows]``, in float64."""
    device = next(model.parameters()).device
    tokens, lengths, _ = padded_batch(reviews, np.asarray(rows), device)
    with torch.no_grad():
        layers = model.eval().layer_states(tokens[:, :steps], lengths)
    states = torch.cat(layers, dim=-1) if system == "stack" else layers[int(system.removeprefix("layer")) - 1]
    return states.double().cpu().numpy()


def embedded_inputs(model, reviews: Reviews, rows: np.ndarray, steps: int) -> np.ndarray:
    """The token embeddings (n, steps, E) the network reads over the first ``steps`` tokens of
    ``reviews[rows]``, in float64: InputDSA's control input."""
    device = next(model.parameters()).device
    tokens, _, _ = padded_batch(reviews, np.asarray(rows), device)
    with torch.no_grad():
        return model.embedding(tokens[:, :steps]).double().cpu().numpy()


def delay_rank(x: np.ndarray, settings: Settings) -> int:
    """The fewest components of the delay-embedded trajectories ``x`` (trials, time, S) reaching
    ``rank_variance`` of their (uncentred) variance: the package's ``rank_explained_variance`` rule."""
    from DSA.dmd import embed_signal_torch

    embedded = embed_signal_torch(torch.from_numpy(np.ascontiguousarray(x)), settings.n_delays, settings.delay_interval)
    singular = torch.linalg.svdvals(embedded.reshape(-1, embedded.shape[-1]).double()).numpy()
    share = np.cumsum(singular**2) / np.sum(singular**2)
    return int(np.searchsorted(share, settings.rank_variance) + 1)


def embeddable(x: np.ndarray, settings: Settings) -> bool:
    """Whether the delay-embedded trajectories ``x`` (trials, time, S) have at least as many rows (trials times
    the time steps left after the delays) as dimensions (S times ``n_delays``), as the package's DMD needs."""
    steps = x.shape[1] - (settings.n_delays - 1) * settings.delay_interval
    return steps >= 2 and x.shape[0] * steps >= x.shape[-1] * settings.n_delays


def pair_rank(x: np.ndarray, y: np.ndarray, settings: Settings) -> int:
    """The rank of both systems' DMD operators: the larger of their ``delay_rank``, at most ``rank`` and the
    smaller delay-embedded dimension. One rank for both, as the Procrustes score needs operators of one size
    (the package falls back to the eigenvalue score otherwise)."""
    rank = max(delay_rank(x, settings), delay_rank(y, settings))
    dims = min(x.shape[-1], y.shape[-1]) * settings.n_delays
    return min(rank, dims, settings.rank or dims)


def dsa_scores(x: np.ndarray, y: np.ndarray, settings: Settings) -> dict:
    """DSA of trajectories ``x`` and ``y`` (trials, time, S): ``dsa``, one DMD of ``pair_rank`` fitted to
    each delay-embedded set and the angular Procrustes distance of the two operators over orthogonal maps
    (Ostrow et al.: 0 for the same dynamics in any rotated state space, up to the package's optimiser;
    ``iters`` steps); ``dsa_eigenvalue_w2``, the Wasserstein distance between the eigenvalues of the
    ``EIGENVALUE_W2`` operators."""
    from DSA import DSA  # imported here: the package pulls in much that no other stage needs

    for states in (x, y):
        if not embeddable(states, settings):
            raise ValueError(
                f"similarity: {states.shape[0]} reviews of {states.shape[1]} steps of {states.shape[-1]} states give "
                f"fewer delay-embedded rows than the {states.shape[-1] * settings.n_delays} dimensions of "
                f"similarity.n_delays={settings.n_delays}; raise similarity.reviews or steps, or lower n_delays"
            )
    rank = pair_rank(x, y, settings)
    # The angular score's optimiser starts from torch's random weights: seeded, it is repeatable.
    with torch.random.fork_rng():
        torch.manual_seed(settings.seed)
        fitted = DSA(
            x, y, n_delays=settings.n_delays, delay_interval=settings.delay_interval, rank=rank,
            score_method="angular", iters=settings.iters,
        )  # fmt: skip
        angular = float(np.asarray(fitted.fit_score()).ravel()[0])
    rank = min(EIGENVALUE_W2["rank"], x.shape[-1], y.shape[-1])
    eigenvalues = DSA(x, y, n_delays=EIGENVALUE_W2["n_delays"], rank=rank, score_method="wasserstein").fit_score()
    return {"dsa": angular, "dsa_eigenvalue_w2": float(np.asarray(eigenvalues).ravel()[0])}


def dsa_distance(x: np.ndarray, y: np.ndarray, settings: Settings) -> float:
    """The published DSA (``dsa_scores``' angular Procrustes distance) between trajectories ``x`` and ``y``."""
    return dsa_scores(x, y, settings)["dsa"]


def input_dsa(x: np.ndarray, u: np.ndarray, y: np.ndarray, v: np.ndarray, settings: Settings) -> dict:
    """InputDSA of states ``x``, ``y`` (trials, time, S) driven by inputs ``u``, ``v`` (trials, time, E): a
    subspace DMD with control of ``pair_rank`` fitted to each, and the angular distances (closed-form
    Procrustes on their controllability matrices) of the state operators, the input operators and both
    jointly (``input_dsa_state``, ``_control``, ``_joint``). NaN where the inputs differ in size: the package
    does not yet align two input spaces."""
    names = ("input_dsa_joint", "input_dsa_state", "input_dsa_control")
    if u.shape[-1] != v.shape[-1]:
        log.info("similarity: InputDSA needs inputs of one size, not %d and %d: NaN", u.shape[-1], v.shape[-1])
        return dict.fromkeys(names, float("nan"))
    from DSA import InputDSA

    config = {"score_method": "angular", "compare": "joint", "return_distance_components": True}
    with warnings.catch_warnings():
        # Lists of one array each: the package's one-to-one mode cannot return the three components.
        warnings.filterwarnings("ignore", message="When using cross-comparison")
        scores = InputDSA(
            [x], [u], [y], [v], dmd_config={"n_delays": settings.n_delays, "rank": pair_rank(x, y, settings)},
            simdist_config=config,
        ).fit_score()  # fmt: skip
    return dict(zip(names, map(float, np.asarray(scores).ravel())))


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear centred kernel alignment of states ``x`` (N, S) and ``y`` (N, S') at the same N inputs (Kornblith
    et al. 2019): 1 where one is a rotation and scaling of the other, near 0 for unrelated states."""
    x = np.asarray(x, dtype=np.float64).reshape(-1, np.shape(x)[-1])
    y = np.asarray(y, dtype=np.float64).reshape(-1, np.shape(y)[-1])
    x, y = x - x.mean(axis=0), y - y.mean(axis=0)
    cross = np.linalg.norm(y.T @ x) ** 2
    return float(cross / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)))


def _median_iqr(values: np.ndarray) -> tuple[float, float]:
    if len(values) == 0:
        return float("nan"), float("nan")
    low, median, high = np.percentile(values, [25, 50, 75])
    return float(median), float(high - low)


def geometry(fixed_point_path, linearization_path, model, system: str) -> dict:
    """One system's fixed-point geometry (``GEOMETRY``): its unique approximate fixed points, their manifold's
    dimension (participation ratio), the median and interquartile range of the top |lambda| and its tau over
    them, and the median |cos| between the readout and the top right eigenvector (NaN where the system is not
    read out)."""
    table = fixed_points.read_fixed_points(fixed_point_path)
    points = list_matrix(fixed_points.unique_fixed_points(table)["fixed_point"])
    lin = linearization.read(linearization_path)
    top = lin.modulus.max(axis=1) if len(lin.fixed_point) else np.zeros(0)
    readout = analyses.system_readout(model, system)
    aligned = analyses.alignment(lin, readout[0], 1, 0)[0] if readout is not None else np.zeros(0)
    modulus = _median_iqr(top)
    tau = _median_iqr(spectra.time_constant(top))
    return {
        "unique_fixed_points": int(len(points)),
        "manifold_dimension": spectra.participation_ratio(points),
        "top_modulus_median": modulus[0],
        "top_modulus_iqr": modulus[1],
        "time_constant_median": tau[0],
        "time_constant_iqr": tau[1],
        "alignment_median": float(np.median(aligned)) if len(aligned) else float("nan"),
    }


def scale(
    system: SystemName, networks: dict, untrained: dict, reviews: Reviews, rows: np.ndarray, floor: np.ndarray,
    settings: Settings,
) -> dict:  # fmt: skip
    """``SCALE`` of one system over its pair's reviews ``rows``: DSA and CKA of its states against its
    untrained network's over the same reviews, and DSA of those states against its states over the other
    reviews ``floor`` of its split (the noise floor; NaN with fewer than two such reviews)."""
    model_id = system.model.id
    x = trajectories(networks[model_id], system.system, reviews, rows, settings.steps)
    initial = trajectories(untrained[model_id], system.system, reviews, rows, settings.steps)
    found = {"dsa_untrained": dsa_distance(x, initial, settings), "cka_untrained": linear_cka(x, initial)}
    other = trajectories(networks[model_id], system.system, reviews, floor, settings.steps) if len(floor) >= 2 else None
    if other is None or not embeddable(other, settings):
        log.info("similarity: %s has %d other reviews, too few for its noise floor: NaN", system.name, len(floor))
        found["dsa_floor"] = float("nan")
    else:
        found["dsa_floor"] = dsa_distance(x[: len(other)], other, settings)
    return found


def compare(
    a: SystemName, b: SystemName, networks: dict, splits: dict[str, Reviews], settings: Settings, untrained: dict,
    scales: dict | None = None,
) -> dict:  # fmt: skip
    """``PAIR`` of systems ``a`` and ``b``, and each one's ``SCALE`` over the pair's reviews (``networks``,
    ``untrained``: model id -> the loaded trained and initial networks; ``splits``: the split tables by name).
    Systems of two splits read their own split's reviews: DSA compares their dynamics, while CKA, which needs
    the same inputs, is NaN. ``scales`` keeps each system's scale by its reviews, computed once."""
    scales = {} if scales is None else scales
    same_split = a.split == b.split
    states, inputs, found = [], [], {}
    for side, system in zip("ab", (a, b)):
        reviews = splits[system.split]
        specs = [a.model, b.model] if same_split else [system.model]
        rows = common_rows(reviews, specs, system.split, settings)
        network = networks[system.model.id]
        states.append(trajectories(network, system.system, reviews, rows, settings.steps))
        inputs.append(embedded_inputs(network, reviews, rows, settings.steps))
        key = (system.name, rows.tobytes())
        if key not in scales:
            floor = other_rows(reviews, specs, system.split, settings)
            scales[key] = scale(system, networks, untrained, reviews, rows, floor, settings)
        found |= {f"{name}_{side}": value for name, value in scales[key].items()}
    x, y = states
    u, v = inputs
    if not same_split:  # the same number of trials for both
        n = min(len(x), len(y))
        x, y, u, v = x[:n], y[:n], u[:n], v[:n]
    return {
        "reviews": len(x),
        **dsa_scores(x, y, settings),
        **input_dsa(x, u, y, v, settings),
        "cka": linear_cka(x, y) if same_split else float("nan"),
        **found,
    }


def row(axis: str, a: SystemName, b: SystemName, measures: dict, geometries: dict) -> dict:
    """One row of the similarity table: the pair's ``measures`` (``compare``) and both systems' geometry."""
    values = (axis_value(a, axis), axis_value(b, axis)) if axis in AXIS_KEYS else ("", "")
    found = {"axis": axis, "a": a.name, "b": b.name, "value_a": values[0], "value_b": values[1], **measures}
    for key in GEOMETRY:
        found[f"{key}_a"], found[f"{key}_b"] = geometries[a.name][key], geometries[b.name][key]
    return found


def similarity_table(
    compared: list[tuple[str, SystemName, SystemName]],
    networks: dict,
    splits: dict[str, Reviews],
    tables: dict[str, tuple],
    settings: Settings,
    untrained: dict,
) -> pd.DataFrame:
    """One row per compared pair (``pairs``): axis, the two systems and their axis values, ``PAIR``, and each
    one's ``SCALE`` over the pair's reviews (``untrained``: model id -> the loaded initial weights) and
    ``GEOMETRY``. ``tables``: system name -> (fixed-point table, linearization table) paths."""
    geometries, scales = {}, {}
    for _, a, b in compared:
        for system in (a, b):
            if system.name not in geometries:
                geometries[system.name] = geometry(*tables[system.name], networks[system.model.id], system.system)
    rows = []
    for axis, a, b in compared:
        log.info("similarity: %s against %s (%s)", a.name, b.name, axis)
        rows.append(row(axis, a, b, compare(a, b, networks, splits, settings, untrained, scales), geometries))
    return pd.DataFrame(rows, columns=COLUMNS)
