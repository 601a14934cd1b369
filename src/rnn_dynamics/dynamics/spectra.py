"""Numbers read off spectra and point sets: time constants, principal-component shares, dimension, spread.

The linearization, the search's counts and the analyses all read these; they know nothing of
networks, searches or files.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "extent",
    "first_pc_share",
    "participation_ratio",
    "time_constant",
    "variance_fractions",
    "variance_participation_ratio",
]


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


def extent(points: np.ndarray, starts: np.ndarray) -> float:
    """How far the fixed points spread, as a fraction of how far their starts spread: the rms
    distance of ``points`` (K, S) from their mean over that of ``starts`` (B, S) from theirs
    (NaN below two points).

    Of the order of 1 for fixed points strung along the visited states (a line attractor);
    near 0 for approximate fixed points around one stable point, however many of them the
    deduplication counts as unique: stopped at ``q < q_tol`` from different sides, they
    scatter around it by about ``sqrt(q_tol) / (1 - |lambda|)``, beyond ``unique_tol``.
    """
    if len(points) < 2 or len(starts) < 2:
        return float("nan")

    def spread(rows) -> float:
        rows = np.asarray(rows, dtype=np.float64)
        return float(np.sqrt(((rows - rows.mean(axis=0)) ** 2).sum(axis=1).mean()))

    return spread(points) / spread(starts)


def first_pc_share(points: np.ndarray) -> float:
    """The share of the points' (K, S) variance on their first principal component (NaN below two points):
    near 1 for points on a line."""
    fractions = variance_fractions(points)
    return float(fractions[0]) if len(fractions) else float("nan")


def participation_ratio(points: np.ndarray) -> float:
    """The dimension of the points (K, S): ``(sum l)^2 / sum l^2`` of their PCA variances ``l``, 1 for a line and
    d for d equal directions (NaN below two distinct points). The manifold measures and the similarity
    stage's geometry both read this one."""
    return variance_participation_ratio(variance_fractions(points))


def variance_participation_ratio(variances: np.ndarray) -> float:
    """``(sum l)^2 / sum l^2`` of the variances ``l`` along orthogonal directions (a covariance's eigenvalues,
    or their fractions): the participation ratio of points whose PCA variances they are (NaN where all are 0)."""
    variances = np.clip(np.asarray(variances, dtype=np.float64), 0.0, None)
    total = float((variances**2).sum())
    return float(variances.sum() ** 2 / total) if total > 0 else float("nan")
