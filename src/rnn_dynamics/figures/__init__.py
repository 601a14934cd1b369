"""Figures: one module per stage (``states``, ``fixed_points``), shared look in ``style``."""

__all__: list[str] = []
