"""Figures: one module per stage (``data``, ``states``, ``fixed_points``, ``analyses``, ``similarity``,
``context``); the look in ``style``."""

# Bottom to top: a module imports only those before it and the layers below (tests/test_layout.py reads this order).
__all__ = ["style", "data", "states", "fixed_points", "analyses", "similarity", "context"]
