"""The geometry of integration over N classes (Aitken et al., ICLR 2021), read off a system's fixed points.

A classifier of N categorical classes integrates evidence on an attractor manifold of about N - 1
dimensions; ordered classes (star ratings) on fewer. The measures here:

- the manifold's dimension: the PCs reaching a share of the fixed points' variance, the participation
  ratio (``spectra.participation_ratio``), its local version, and two nonlinear
  estimates (Levina-Bickel and the correlation dimension, from scikit-dimension);
- the readout's simplex: pairwise angles between the classes' readout vectors, against the regular
  simplex's ``arccos(-1 / (N - 1))``;
- how much of the readout's row space lies in the manifold's top N - 1 PCs and in the slow modes;
- the number of slow modes at each fixed point, stable (``threshold < |lambda| < 1``) and unstable
  (``|lambda| >= 1``, ``UNSTABLE_MODULUS``) counted apart.

A binary model's one logit ``w . h + b`` is the class vectors ``0`` and ``w``: a line, a 180 degree
angle. Nothing here knows of networks or files; ``analyses`` feeds it.
"""

from __future__ import annotations

import numpy as np

from rnn_dynamics.dynamics import spectra

__all__ = [
    "LOCAL_NEIGHBOURS",
    "LOCAL_MINIMUM",
    "LOCAL_SHARE",
    "SLOW_MODULI",
    "UNSTABLE_MODULUS",
    "centred_class_vectors",
    "components_to_reach",
    "correlation_dimension",
    "dimensions",
    "levina_bickel",
    "local_participation_ratio",
    "mode_counts",
    "principal_axes",
    "random_span_shares",
    "readout_angles",
    "set_measures",
    "simplex_angle",
    "slow_mode_counts",
    "slow_subspace",
    "span_share",
    "unstable_mode_counts",
]

# The |lambda| thresholds counted as slow modes (tau of about 9.5 and 99.5 steps).
SLOW_MODULI = (0.9, 0.99)
# A mode of |lambda| at least this does not decay: unstable (marginal at exactly 1), never a stable slow mode.
UNSTABLE_MODULUS = 1.0
# The local participation ratio's neighbourhood: ``LOCAL_NEIGHBOURS * classes`` nearest points, at most
# ``LOCAL_SHARE`` of the set (a neighbourhood as large as the set is the global measure again).
LOCAL_NEIGHBOURS = 50
LOCAL_SHARE = 0.25
# The fewest points a neighbourhood may have: fewer give a participation ratio of the noise.
LOCAL_MINIMUM = 10


def components_to_reach(fractions: np.ndarray, level: float) -> int:
    """The fewest principal components whose variance fractions (largest first) reach ``level`` (0 if none)."""
    cumulative = np.cumsum(fractions)
    reached = np.flatnonzero(cumulative >= level - 1e-12)
    return int(reached[0] + 1) if len(reached) else 0


def local_participation_ratio(points: np.ndarray, classes: int, seed: int, centres: int = 20) -> float:
    """The median participation ratio of the neighbourhoods of ``centres`` random fixed points (Aitken et
    al.'s local measure: the manifold's dimension where it curves).

    A neighbourhood is the ``LOCAL_NEIGHBOURS * classes`` nearest points, at most ``LOCAL_SHARE`` of the
    set, so that it is always smaller than the set. NaN where that leaves fewer than ``LOCAL_MINIMUM``
    points: the set is too small for a local measure apart from the global one."""
    points = np.asarray(points, dtype=np.float64)
    neighbours = min(LOCAL_NEIGHBOURS * classes, int(LOCAL_SHARE * len(points)))
    if neighbours < LOCAL_MINIMUM:
        return float("nan")
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(points), size=min(centres, len(points)), replace=False)
    ratios = []
    for centre in chosen:
        nearest = np.argsort(np.linalg.norm(points - points[centre], axis=1), kind="stable")[:neighbours]
        ratios.append(spectra.participation_ratio(points[nearest]))
    return float(np.nanmedian(ratios)) if np.isfinite(ratios).any() else float("nan")


def _distinct(points: np.ndarray) -> np.ndarray:
    return np.unique(np.asarray(points, dtype=np.float64), axis=0)


def levina_bickel(points: np.ndarray, neighbours: int = 20) -> float:
    """The Levina-Bickel maximum-likelihood dimension of the distinct points, NaN with too few of them.

    Each point's estimate reads its ``neighbours`` nearest (``skdim.id.MLE``'s ``fit(n_neighbors=...)``:
    the count its neighbourhood estimate uses; the constructor's ``K`` is not); the points' estimates are
    combined as MacKay and Ghahramani (2005) advise, the inverse of the mean of their inverses
    (``comb="mle"``), the maximum-likelihood combination, not the mean of the estimates."""
    points = _distinct(points)
    if len(points) <= neighbours:
        return float("nan")
    import skdim  # numba: a few seconds to import, so only when asked

    return float(skdim.id.MLE().fit(points, n_neighbors=neighbours, comb="mle").dimension_)


def correlation_dimension(points: np.ndarray, k1: int = 10, k2: int = 20) -> float:
    """The correlation dimension (Grassberger-Procaccia, ``skdim.id.CorrInt`` between the ``k1``-th and
    ``k2``-th neighbour distances) of the distinct points; NaN with too few of them."""
    points = _distinct(points)
    if len(points) <= k2:
        return float("nan")
    import skdim

    return float(skdim.id.CorrInt(k1=k1, k2=k2).fit(points).dimension_)


def dimensions(points: np.ndarray, modulus: np.ndarray) -> dict:
    """The measures of a fixed-point set (K, S) that need no readout and no number of classes: the PCs
    reaching 90% and 95% of its variance, its participation ratio, Levina-Bickel and correlation
    dimensions, and the median counts of stable slow modes (per threshold) and of unstable modes at its
    points (``modulus`` (K, S'), their |lambda|)."""
    fractions = spectra.variance_fractions(points)
    measures = {
        "pcs_90": components_to_reach(fractions, 0.9),
        "pcs_95": components_to_reach(fractions, 0.95),
        "participation_ratio": spectra.participation_ratio(points),
        "levina_bickel_dimension": levina_bickel(points),
        "correlation_dimension": correlation_dimension(points),
    }
    for name, counts in mode_counts(modulus).items():
        measures[f"{name}_median"] = float(np.median(counts)) if len(counts) else float("nan")
    return measures


def set_measures(points: np.ndarray, starts: np.ndarray) -> dict:
    """What a set of unique fixed points (K, S) is: how many, their extent against their ``starts`` (B, S)
    (``spectra.extent``), first-PC share, the PCs reaching 90% of their variance (``pcs_90``; NaN below two
    points) and their participation ratio. The tolerance table, the evidence rows and their nulls read these."""
    fractions = spectra.variance_fractions(points)
    return {
        "unique_fixed_points": len(points),
        "extent": spectra.extent(points, starts),
        "first_pc_share": spectra.first_pc_share(points),
        "pcs_90": components_to_reach(fractions, 0.9) if len(fractions) else float("nan"),
        "participation_ratio": spectra.participation_ratio(points),
    }


def mode_counts(modulus: np.ndarray) -> dict[str, np.ndarray]:
    """Per fixed point (rows of ``modulus``): the stable slow modes of each threshold of ``SLOW_MODULI``
    (``slow_modes_stable_{threshold}``) and the unstable ones (``slow_modes_unstable``)."""
    counts = {f"slow_modes_stable_{threshold}": slow_mode_counts(modulus, threshold) for threshold in SLOW_MODULI}
    return counts | {"slow_modes_unstable": unstable_mode_counts(modulus)}


def principal_axes(points: np.ndarray, count: int) -> np.ndarray:
    """The points' (K, S) top ``count`` principal axes as orthonormal columns (S, count)."""
    points = np.asarray(points, dtype=np.float64)
    _, _, rows = np.linalg.svd(points - points.mean(axis=0), full_matrices=False)
    return rows[:count].T


def centred_class_vectors(weights: np.ndarray) -> np.ndarray:
    """The classes' readout vectors (C, S) less their mean (softmax ignores a vector added to every class's);
    one row ``w`` (a binary logit) is the classes ``0`` and ``w``."""
    weights = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    if len(weights) == 1:
        weights = np.vstack([np.zeros_like(weights[0]), weights[0]])
    return weights - weights.mean(axis=0)


def readout_angles(weights: np.ndarray) -> np.ndarray:
    """The pairwise angles in degrees between the centred class readout vectors, one per pair of classes."""
    vectors = centred_class_vectors(weights)
    vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    rows, cols = np.triu_indices(len(vectors), k=1)
    return np.degrees(np.arccos(np.clip(np.sum(vectors[rows] * vectors[cols], axis=1), -1.0, 1.0)))


def simplex_angle(classes: int) -> float:
    """The angle between two vertices of the regular simplex of ``classes`` vertices about its centre."""
    return float(np.degrees(np.arccos(-1.0 / (classes - 1))))


def span_share(vectors: np.ndarray, basis: np.ndarray) -> float:
    """The share of the rows' (C, S) squared norm inside the span of ``basis``' columns (S, d)."""
    vectors = np.atleast_2d(vectors)
    total = float((vectors**2).sum())
    if basis.shape[1] == 0 or total == 0:
        return 0.0
    # An orthonormal basis of the span, less directions the columns do not reach (parallel eigenvectors).
    axes, singular, _ = np.linalg.svd(basis, full_matrices=False)
    axes = axes[:, singular > singular[0] * 1e-10] if singular[0] > 0 else axes[:, :0]
    return float(((vectors @ axes) ** 2).sum() / total)


def random_span_shares(vectors: np.ndarray, dimension: int, samples: int, seed: int) -> np.ndarray:
    """``span_share`` of the rows in ``samples`` random subspaces of ``dimension``: the null for a span of
    that size (its mean is ``dimension / S``)."""
    rng = np.random.default_rng(seed)
    size = np.atleast_2d(vectors).shape[1]
    return np.array([span_share(vectors, rng.standard_normal((size, dimension))) for _ in range(samples)])


def slow_mode_counts(modulus: np.ndarray, threshold: float) -> np.ndarray:
    """Per fixed point (rows of ``modulus`` (K, S)), the stable slow eigenvalues of ``J_rec``:
    ``threshold < |lambda| < UNSTABLE_MODULUS``."""
    modulus = np.asarray(modulus)
    return ((modulus > threshold) & (modulus < UNSTABLE_MODULUS)).sum(axis=1)


def unstable_mode_counts(modulus: np.ndarray) -> np.ndarray:
    """Per fixed point (rows of ``modulus`` (K, S)), the eigenvalues of ``J_rec`` that do not decay:
    ``|lambda| >= UNSTABLE_MODULUS``."""
    return (np.asarray(modulus) >= UNSTABLE_MODULUS).sum(axis=1)


def slow_subspace(eigenvalues: np.ndarray, right: np.ndarray, threshold: float) -> np.ndarray:
    """The real span (S, d) of one fixed point's right eigenvectors (rows of ``right``) whose |lambda|
    exceeds ``threshold``: a complex pair's real and imaginary parts span its rotation plane."""
    slow = right[np.abs(eigenvalues) > threshold]
    return np.concatenate([slow.real, slow.imag[np.abs(slow.imag).sum(axis=1) > 0]]).T
