"""Fixed points drawn from plain arrays: stable ones filled, unstable ones hollow with their unstable modes.

The points are projected on given components (a PCA's rows) or on the top two principal components of the
visited states (or of the points themselves), with the states behind them where given.
"""

from __future__ import annotations

import numpy as np

__all__ = ["plot_fixed_points"]


def plot_fixed_points(
    points: np.ndarray,
    eigenvalues: np.ndarray | None = None,
    eigenvectors: np.ndarray | None = None,
    *,
    states: np.ndarray | None = None,
    components: np.ndarray | None = None,
    mode_length: float = 0.25,
    ax=None,
):
    """Draw fixed points (K, S) on two components; returns the matplotlib axes.

    Args:
        points: the fixed points (``FixedPoints.unique_points``).
        eigenvalues: (K, S) their Jacobians' eigenvalues: a point with every |lambda| < 1 is drawn filled
            (stable), one with some |lambda| > 1 hollow; None draws every point filled.
        eigenvectors: (K, S, S) the right eigenvectors, row m of point k for ``eigenvalues[k, m]``: each
            unstable mode of an unstable point is drawn as a segment of ``mode_length`` through it.
        states: (N, S) visited states, drawn faintly; their top two PCs are the axes unless ``components``.
        components: (2, S) orthonormal rows to project on; with it the axes are centred at zero.
    """
    import matplotlib.pyplot as plt

    points = np.asarray(points, dtype=np.float64)
    reference = points if states is None else np.asarray(states, dtype=np.float64)
    mean = np.zeros(points.shape[1]) if components is not None else reference.mean(axis=0)
    if components is None:
        _, _, rows = np.linalg.svd(reference - mean, full_matrices=False)
        components = rows[:2]
    components = np.asarray(components, dtype=np.float64)[:2]
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    if states is not None:
        flat = (reference - mean) @ components.T
        ax.plot(flat[:, 0], flat[:, 1], ".", color="0.8", markersize=2, zorder=0, label="visited states")
    projected = (points - mean) @ components.T
    stable = np.ones(len(points), dtype=bool) if eigenvalues is None else np.abs(eigenvalues).max(axis=1) < 1
    ax.plot(*projected[stable].T, "o", color="black", label="stable")
    if (~stable).any():
        ax.plot(*projected[~stable].T, "o", markerfacecolor="white", color="tab:red", label="unstable")
    if eigenvectors is not None and eigenvalues is not None:
        for k in np.flatnonzero(~stable):
            for m in np.flatnonzero(np.abs(eigenvalues[k]) > 1):
                direction = np.real(eigenvectors[k, m])
                direction = direction / (np.linalg.norm(direction) or 1.0)
                ends = (points[k] + np.outer([-mode_length, mode_length], direction) - mean) @ components.T
                ax.plot(*ends.T, "-", color="tab:red", linewidth=1)
    ax.set_xlabel("component 1")
    ax.set_ylabel("component 2")
    ax.legend(loc="best", fontsize="small")
    return ax
