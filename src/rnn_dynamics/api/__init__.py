"""The API layer: the library's analyses applied to any recurrent network, with no pipeline around them.

``systems`` (torch's recurrent modules and cells, or any ``step(h, x)``, as a ``cells.DynamicalSystem``),
``search`` (the fixed-point search and its result, ``FixedPoints``; the linearization), ``measures`` (the
manifold and similarity measures on arrays), ``plots`` (fixed points drawn from plain arrays). The package's
top level (``rnn_dynamics.find_fixed_points``, ...) exports their public functions; docs/api.md shows them.
"""

# Bottom to top: a module imports only those before it and the layers below (tests/test_layout.py reads this order).
__all__ = ["systems", "search", "measures", "plots"]
