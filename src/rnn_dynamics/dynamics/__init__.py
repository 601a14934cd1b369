"""The dynamics layer: what a trained network does, read off its states, fixed points and Jacobians.

``pca`` (the states' principal components, as stored), ``state_dumps`` (the stored states, read back),
``states`` (extraction, Parquet, streaming PCA),
``normal_equations`` (the solver's linear algebra), ``spectra`` (time constants, variance shares),
``fixed_point_sets`` (a search's tables: gathering, deduplication, counts), ``solver`` (the root finding),
``fixed_points`` (the search: starts, shards, a tolerance sweep),
``linearization`` (Jacobians and eigendecompositions), ``manifold`` (the N-class geometry), ``words`` (the
words for a set or a measure), ``evidence`` (seed spread, tests over seeds, nulls), ``analyses`` (one
system's measures), ``context`` (how modifier words change the next word's effect), ``similarity`` (two systems
compared: DSA, CKA).
"""

# Bottom to top: a module imports only those before it and the layers below (tests/test_layout.py reads this order).
__all__ = [
    "pca",
    "state_dumps",
    "states",
    "normal_equations",
    "spectra",
    "fixed_point_sets",
    "solver",
    "fixed_points",
    "linearization",
    "manifold",
    "words",
    "evidence",
    "analyses",
    "context",
    "similarity",
]
