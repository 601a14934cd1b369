"""Train recurrent text classifiers and reverse-engineer their dynamics.

Six layers, one subpackage each; imports run one way, from the bottom up (``tests/test_layout.py`` holds it,
reading each layer's order from its ``__all__``):

- ``ground``: ``config`` (the schema and the settings types built from it), ``grid``, ``storage``, ``logs``,
  ``provenance``;
- ``data``: ``download``, ``text``, ``synthetic``, ``datasets``, ``embeddings``, ``batches``;
- ``networks``: ``cells`` (update equations with closed-form Jacobians), ``scan``, ``model`` (the classifier),
  ``training``;
- ``dynamics``: ``states`` (hidden states), ``normal_equations``, ``solver`` (the root finding), ``spectra``,
  ``fixed_points`` (the search), ``linearization``, ``manifold``, ``analyses``, ``similarity``;
- ``outputs``: ``catalogue`` (every table once), ``tables``, ``timeline``, ``report``, ``results_page``, ``figures``;
- ``api``: ``systems`` (any recurrent network as a system), ``search`` (``find_fixed_points``, ``FixedPoints``,
  ``linearize``), ``measures``, ``plots``: the public API below, which needs no Snakemake, config or results
  folder.

The public API (docs/api.md), for a network of your own::

    import rnn_dynamics as rd
    gru = torch.nn.GRU(3, 64, batch_first=True)           # or LSTM, RNN, a cell, or any step(h, x) -> h
    states = rd.trajectories(gru, inputs)                 # (B, T, S) while it reads inputs (B, T, I)
    starts = rd.sample_starts(states.reshape(-1, 64), 500, noise=0.01, seed=0)
    found = rd.find_fixed_points(gru, starts)             # at input zero; inputs=(I,) or (B, I)
    found.unique_points, found.eigenvalues, found.is_stable, found.to_pandas()

docs/architecture.md says which module owns which decision and where new work goes.
"""

from typing import TYPE_CHECKING

# The public API: each name and the module of the api layer that defines it, imported on first use, so that
# the pipeline's stages that import a layer below (``rnn_dynamics.ground.config``, ...) do not load torch.
_EXPORTS = {
    "find_fixed_points": "search",
    "FixedPoints": "search",
    "sample_starts": "search",
    "linearize": "search",
    "jacobians": "search",
    "as_system": "systems",
    "trajectories": "systems",
    "manifold_dimension": "measures",
    "participation_ratio": "measures",
    "dsa": "measures",
    "cka": "measures",
    "plot_fixed_points": "plots",
}

__all__ = [
    "__version__",
    "FixedPoints",
    "as_system",
    "cka",
    "dsa",
    "find_fixed_points",
    "jacobians",
    "linearize",
    "manifold_dimension",
    "participation_ratio",
    "plot_fixed_points",
    "sample_starts",
    "trajectories",
]

__version__ = "0.1.0"

if TYPE_CHECKING:
    from rnn_dynamics.api.measures import cka, dsa, manifold_dimension, participation_ratio
    from rnn_dynamics.api.plots import plot_fixed_points
    from rnn_dynamics.api.search import FixedPoints, find_fixed_points, jacobians, linearize, sample_starts
    from rnn_dynamics.api.systems import as_system, trajectories


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f"rnn_dynamics.api.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'rnn_dynamics' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
