"""Figures of the hidden states: explained variance, and states on PC1-PC2 with example trajectories."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd

from rnn_dynamics.dynamics.pca import PCA
from rnn_dynamics.dynamics.state_dumps import read_layer
from rnn_dynamics.outputs.figures import style

__all__ = [
    "LABEL_EXAMPLE_COLOURS",
    "OTHER_EXAMPLE_COLOURS",
    "example_colours",
    "explained_variance",
    "pca_trajectories",
]

# An example named after a label is drawn in a dark shade of that label's colour, readable over
# the pale states; other examples take the rest, none black (the fixed points' colour).
LABEL_EXAMPLE_COLOURS = {"negative": "#7f0000", "positive": "#08306b"}
OTHER_EXAMPLE_COLOURS = ["#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2"]


def _label_styles(labels: np.ndarray) -> list[tuple[int, str, str]]:
    """(label, name, colour) of each class to draw: negative and positive for two classes, ``class i`` in the
    colours of a qualitative map for more."""
    present = np.unique(labels).tolist()
    if set(present) <= set(style.LABEL_NAMES):
        return [(label, name, style.LABEL_COLOURS[label]) for label, name in style.LABEL_NAMES.items()]
    from matplotlib import colormaps

    cmap = colormaps["tab10" if len(present) <= 10 else "tab20"]
    return [(label, f"class {label}", cmap(k % cmap.N)) for k, label in enumerate(present)]


def example_colours(names: list[str]) -> dict[str, str]:
    """A colour per example name: label names get their dark label colour, others a distinct one."""
    others = itertools.cycle(OTHER_EXAMPLE_COLOURS)
    return {name: LABEL_EXAMPLE_COLOURS.get(name) or next(others) for name in names}


def explained_variance(pcas: dict[tuple[str, int], PCA], model_id: str, path: str | Path, components: int = 50) -> None:
    """Cumulative explained variance of the first ``components`` PCs, trained against untrained, per layer."""
    layers = sorted({layer for _, layer in pcas})
    shown = min(components, max(len(pca.explained_variance_ratio) for pca in pcas.values()))
    fig, axes = style.panels(len(layers), f"{model_id}: cumulative variance explained by the top {shown} PCs")
    for ax, layer in zip(axes, layers):
        for weights, colour in (("trained", style.TRAINED_COLOUR), ("untrained", style.UNTRAINED_COLOUR)):
            cumulative = np.cumsum(pcas[weights, layer].explained_variance_ratio[:components])
            ax.plot(
                np.arange(1, len(cumulative) + 1), cumulative, marker="o", markersize=2, color=colour, label=weights
            )
        ax.set(
            title=f"{model_id} layer {layer}",
            xlabel="number of principal components",
            ylabel="cumulative explained variance",
            ylim=(0, 1.02),
        )
        ax.legend(loc="lower right")
    style.save(fig, path)


def _trajectory(pca: PCA, rows: pd.DataFrame) -> np.ndarray:
    """PC1-PC2 coordinates of the initial (zero) state, then of the state after each token."""
    sequence = np.stack(rows["h"].to_numpy())
    return pca.project(np.vstack([np.zeros_like(sequence[:1]), sequence]))


def pca_trajectories(
    pcas: dict[tuple[str, int], PCA],
    states_dir: str | Path,
    examples: pd.DataFrame,
    model_id: str,
    path: str | Path,
    seed: int,
    max_points: int = 20_000,
    annotate: int = 3,
) -> None:
    """Per layer: sampled trained states on PC1-PC2 coloured by label, the example reviews' paths over them.

    The ``annotate`` tokens of each example that move the state furthest in the PC1-PC2
    plane are written beside the point they lead to.
    """
    layers = sorted(layer for weights, layer in pcas if weights == "trained")
    fig, axes = style.panels(len(layers), f"{model_id}: trained states on PC1-PC2 with example reviews", square=True)
    colours = example_colours(list(examples["name"].unique()))
    for ax, layer in zip(axes, layers):
        pca = pcas["trained", layer]
        dump = read_layer(Path(states_dir) / f"layer{layer}.parquet", max_rows=max_points, seed=seed)
        xy = pca.project(dump["h"])
        for label, name, colour in _label_styles(dump["label"]):
            chosen = dump["label"] == label
            ax.scatter(*xy[chosen].T, s=2, alpha=0.3, linewidths=0, rasterized=True, color=colour)
            # A legend entry drawn opaque and large enough to read, unlike the faint points.
            ax.plot([], [], "o", markersize=4, color=colour, label=f"{name} reviews' states")
        layer_examples = examples[examples["layer"] == layer]
        for name, rows in layer_examples.groupby("name", sort=False):
            colour = colours[name]
            rows = rows.sort_values("t")
            path_xy = _trajectory(pca, rows)
            probability = rows["probability"].iloc[0]
            shown = f"example {name!r}" + ("" if np.isnan(probability) else f", P(positive) {probability:.2f}")
            ax.plot(*path_xy.T, "-", linewidth=1.0, color=colour, label=shown)
            ax.plot(*path_xy[0], marker="o", markersize=6, markerfacecolor="white", color=colour, linestyle="none")
            steps = np.linalg.norm(np.diff(path_xy, axis=0), axis=1)
            for t in np.argsort(steps)[::-1][:annotate]:
                ax.annotate(
                    rows["token"].iloc[t],
                    path_xy[t + 1],
                    fontsize=7,
                    color=colour,
                    xytext=(3, 3),
                    textcoords="offset points",
                )
        ratio = pca.explained_variance_ratio
        ax.set(
            title=f"{model_id} layer {layer}",
            xlabel=f"PC1 ({ratio[0]:.0%} of variance)",
            ylabel=f"PC2 ({ratio[1]:.0%} of variance)" if len(ratio) > 1 else "PC2",
        )
        ax.plot(
            [],
            [],
            marker="o",
            markersize=6,
            markerfacecolor="white",
            color="grey",
            linestyle="none",
            label="start (h = 0)",
        )
    # Every panel has the same entries: one legend under the panels keeps the states visible.
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=3)
    style.save(fig, path)
