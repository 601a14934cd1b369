"""The dynamics layer: what a trained network does, read off its states, fixed points and Jacobians.

``states`` (extraction, Parquet, streaming PCA), ``normal_equations`` and ``solver`` (the root finding),
``spectra`` (time constants, variance shares), ``fixed_points`` (starts, shards, gathering, deduplication),
``linearization`` (Jacobians and eigendecompositions), ``manifold`` (the N-class geometry), ``words`` (the
words for a set or a measure), ``evidence`` (seed spread, tests over seeds, nulls), ``analyses`` (one
system's measures), ``context`` (how modifier words change the next word's effect), ``similarity`` (two systems
compared: DSA, CKA).
"""

# Bottom to top: a module imports only those before it and the layers below (tests/test_layout.py reads this order).
__all__ = [
    "states",
    "normal_equations",
    "solver",
    "spectra",
    "fixed_points",
    "linearization",
    "manifold",
    "words",
    "evidence",
    "analyses",
    "context",
    "similarity",
]
