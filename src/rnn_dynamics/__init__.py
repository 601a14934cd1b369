"""Train recurrent sentiment classifiers and reverse-engineer their dynamics.

Modules, one concept each; imports run one way, from the top of this list down
(``tests/test_layout.py`` holds the order):

- outputs: ``figures``, ``tables``, ``report``, ``timeline``;
- dynamics: ``analyses`` (the paper's line-attractor measures), ``linearization``,
  ``fixed_points`` (the search), ``spectra`` (time constants, variance shares),
  ``solver`` (the root finding), ``normal_equations``, ``states`` (hidden states);
- networks: ``training``, ``model`` (the classifier), ``scan`` (cells over whole
  sequences), ``cells`` (update equations with closed-form Jacobians);
- data: ``batches``, ``embeddings``, ``datasets``, ``synthetic``, ``text``, ``download``;
- ground: ``provenance``, ``logs``, ``storage``, ``grid``, ``config`` (the schema and
  the settings types built from it).
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
