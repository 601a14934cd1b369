"""The principal components of a network's visited states, as the hidden-states job stores them: one row per
(weights, layer) in ``pca/{model}.parquet``, read back as numpy arrays.

Numpy and Arrow only, no torch: the table and figure jobs read the PCA through this module. It is fitted from
the states as they stream past by ``states.StreamingPCA``, or from states in memory by ``fit``; both through
``from_moments``, which holds the convention (descending variance, scikit-learn's signs).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from rnn_dynamics.ground import storage

__all__ = ["PCA", "PCA_SCHEMA", "WEIGHTS", "fit", "from_moments", "pca_table", "read_pca"]

# The networks whose states are fitted: the trained one and the same network at its initial weights.
WEIGHTS = ("trained", "untrained")

PCA_SCHEMA = pa.schema(
    [
        ("weights", pa.string()),
        ("layer", pa.int32()),
        ("n_states", pa.int64()),
        ("mean", pa.list_(pa.float64())),
        ("components", pa.list_(pa.list_(pa.float64()))),
        ("explained_variance", pa.list_(pa.float64())),
        ("explained_variance_ratio", pa.list_(pa.float64())),
    ]
)


@dataclass(frozen=True)
class PCA:
    """Principal components of a set of states; ``components[k]`` is the k-th direction."""

    mean: np.ndarray
    components: np.ndarray
    explained_variance: np.ndarray
    explained_variance_ratio: np.ndarray
    n_states: int

    def project(self, states: np.ndarray, k: int = 2) -> np.ndarray:
        """Coordinates of ``states`` (N, S) on the first ``k`` components."""
        return (np.asarray(states, dtype=np.float64) - self.mean) @ self.components[:k].T

    def cumulative(self, k: int) -> float:
        """Fraction of the variance explained by the first ``k`` components (all, if fewer)."""
        return float(self.explained_variance_ratio[:k].sum())


def from_moments(shift: np.ndarray, shifted_sum: np.ndarray, shifted_outer: np.ndarray, n: int) -> PCA:
    """The PCA of ``n`` states from their sum and sum of outer products taken around ``shift`` (which keeps a
    large common offset from cancelling the small variances): mean, components by descending variance, and
    their (ratio of) variance, as scikit-learn's PCA."""
    if n < 2:
        raise ValueError(f"a PCA needs at least 2 states, has {n}")
    shifted_mean = shifted_sum / n
    covariance = (shifted_outer - n * np.outer(shifted_mean, shifted_mean)) / (n - 1)
    values, vectors = np.linalg.eigh((covariance + covariance.T) / 2)
    order = np.argsort(values)[::-1]
    values = np.clip(values[order], 0.0, None)
    components = vectors[:, order].T
    # scikit-learn's sign convention: each component's largest entry (in absolute value) is positive.
    largest = components[np.arange(len(components)), np.abs(components).argmax(axis=1)]
    components *= np.where(largest < 0, -1.0, 1.0)[:, None]
    total = values.sum()
    return PCA(
        mean=shift + shifted_mean,
        components=components,
        explained_variance=values,
        explained_variance_ratio=values / total if total > 0 else np.zeros_like(values),
        n_states=n,
    )


def fit(states: np.ndarray) -> PCA:
    """The PCA of ``states`` (N, S) held in memory, in float64 around their first state."""
    x = np.asarray(states, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"a PCA needs states of shape (N, S), got {x.shape}")
    shift = x[0] if len(x) else np.zeros(x.shape[1])
    centred = x - shift
    return from_moments(shift, centred.sum(axis=0), centred.T @ centred, len(x))


def pca_table(pcas: dict[tuple[str, int], PCA]) -> pa.Table:
    """One row per (weights, layer), in the schema ``read_pca`` checks."""
    keys = sorted(pcas, key=lambda key: (WEIGHTS.index(key[0]), key[1]))
    return pa.table(
        {
            "weights": [w for w, _ in keys],
            "layer": [layer for _, layer in keys],
            "n_states": [pcas[k].n_states for k in keys],
            "mean": [pcas[k].mean.tolist() for k in keys],
            "components": [pcas[k].components.tolist() for k in keys],
            "explained_variance": [pcas[k].explained_variance.tolist() for k in keys],
            "explained_variance_ratio": [pcas[k].explained_variance_ratio.tolist() for k in keys],
        },
        schema=PCA_SCHEMA,
    )


def read_pca(path: str | Path) -> dict[tuple[str, int], PCA]:
    """The PCA of every (weights, layer) in ``path``, as numpy arrays."""
    rows = storage.read_table(path, PCA_SCHEMA).to_pylist()
    return {
        (row["weights"], row["layer"]): PCA(
            mean=np.array(row["mean"]),
            components=np.array(row["components"]),
            explained_variance=np.array(row["explained_variance"]),
            explained_variance_ratio=np.array(row["explained_variance_ratio"]),
            n_states=row["n_states"],
        )
        for row in rows
    }
