"""Train recurrent text classifiers and reverse-engineer their dynamics.

Five layers, one subpackage each; imports run one way, from the bottom up (``tests/test_layout.py`` holds it,
reading each layer's order from its ``__all__``):

- ``ground``: ``config`` (the schema and the settings types built from it), ``grid``, ``storage``, ``logs``,
  ``provenance``;
- ``data``: ``download``, ``text``, ``synthetic``, ``datasets``, ``embeddings``, ``batches``;
- ``networks``: ``cells`` (update equations with closed-form Jacobians), ``scan``, ``model`` (the classifier),
  ``training``;
- ``dynamics``: ``states`` (hidden states), ``normal_equations``, ``solver`` (the root finding), ``spectra``,
  ``fixed_points`` (the search), ``linearization``, ``manifold``, ``analyses``, ``similarity``;
- ``outputs``: ``tables``, ``timeline``, ``report``, ``results_page``, ``figures``.

docs/architecture.md says which module owns which decision and where new work goes.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
