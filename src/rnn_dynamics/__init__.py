"""Train recurrent sentiment classifiers and reverse-engineer their dynamics.

Modules, one concept each: ``grid`` (model ids), ``storage`` (atomic writes,
schema-checked Parquet), ``logs``, ``text``, ``download``, ``datasets``,
``synthetic``, ``embeddings``, ``cells``, ``model``, ``training``, ``states``,
``fixed_points``, ``linearization``, ``figures``, ``tables``.
"""

__version__ = "0.1.0"
