"""The manifold and similarity measures on plain arrays: the pipeline's own functions, without its files.

``manifold_dimension`` and ``participation_ratio`` read a set of points (fixed points or states; the
``dynamics.manifold`` and ``dynamics.spectra`` measures), ``cka`` and ``dsa`` compare two systems' states over
the same inputs (``dynamics.similarity``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from rnn_dynamics.dynamics import manifold, similarity, spectra

__all__ = ["DSA_SETTINGS", "cka", "dsa", "manifold_dimension", "participation_ratio"]

participation_ratio = spectra.participation_ratio
cka = similarity.linear_cka
# The ``similarity`` keys of the config that DSA reads (``dsa``'s settings), each defaulting to the schema's.
DSA_SETTINGS = ("n_delays", "delay_interval", "rank_variance", "rank", "iters", "seed")


def manifold_dimension(points: np.ndarray, eigenvalues: np.ndarray | None = None) -> dict:
    """The dimension of a point set (K, S): the PCs reaching 90% and 95% of its variance, its participation
    ratio and Levina-Bickel dimension (``dynamics.manifold.dimensions``) and, given the ``eigenvalues``
    (K, S) of the Jacobians at the points (``FixedPoints.eigenvalues``), the median count of slow modes.

    Example:
        >>> import numpy as np
        >>> from rnn_dynamics import manifold_dimension
        >>> line = np.outer(np.linspace(-1, 1, 50), np.ones(4))
        >>> manifold_dimension(line)["pcs_90"], round(manifold_dimension(line)["participation_ratio"], 6)
        (1, 1.0)
    """
    points = np.asarray(points, dtype=np.float64)
    modulus = np.zeros((len(points), 0)) if eigenvalues is None else np.abs(np.asarray(eigenvalues))
    measures = manifold.dimensions(points, modulus)
    if eigenvalues is None:
        measures = {key: value for key, value in measures.items() if not key.startswith("slow_modes_")}
    return measures


def dsa(x: np.ndarray, y: np.ndarray, **settings) -> float:
    """Dynamical Similarity Analysis' distance between trajectories ``x`` and ``y`` (trials, time, S): 0 for
    the same dynamics in any rotated state space (the angular Procrustes distance of the delay-embedded DMD
    operators, as Ostrow et al. publish it). ``settings``: ``n_delays``, ``delay_interval``, ``rank_variance``,
    ``rank``, ``iters``, ``seed``, the config's ``similarity`` keys, each defaulting to the schema's value.

    Example:
        >>> import numpy as np
        >>> from rnn_dynamics import dsa
        >>> x = np.random.default_rng(0).standard_normal((10, 20, 3)).cumsum(axis=1)
        >>> dsa(x, x) < 1e-6
        True
    """
    unknown = sorted(set(settings) - set(DSA_SETTINGS))
    if unknown:
        raise ValueError(f"unknown DSA setting(s) {unknown}; known: {list(DSA_SETTINGS)}")
    names = {field.name for field in dataclasses.fields(similarity.Settings)}
    assert set(DSA_SETTINGS) <= names
    return similarity.dsa_distance(np.asarray(x), np.asarray(y), similarity.Settings(**settings))
