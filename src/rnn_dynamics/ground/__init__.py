"""The ground layer: what every other layer stands on, and which imports nothing of the package above it.

``config`` (the schema and the settings types built from it), ``grid`` (model ids, grid axes, split tags),
``storage`` (atomic writes, schema-checked reads, locks), ``logs`` (one log per job),
``provenance`` (commit and machine).
"""

# Bottom to top: a module imports only those before it (tests/test_layout.py reads this order).
__all__ = ["config", "grid", "stages", "storage", "logs", "provenance"]
