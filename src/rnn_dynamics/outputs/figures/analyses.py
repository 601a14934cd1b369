"""Figures of one system's line-attractor measures (see ``rnn_dynamics.dynamics.analyses``), one per measure."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rnn_dynamics.outputs.catalogue import ANALYSIS_FIGURES as FIGURES
from rnn_dynamics.outputs.figures import style

__all__ = [
    "COMPARISON_PANELS",
    "FIGURES",
    "LABELLED_WORDS",
    "PAPER_MARKER",
    "SIGNED",
    "UNIT",
    "analysis_figures",
    "comparison_figure",
    "manifold_figure",
]

LABELLED_WORDS = 8  # most positive and most negative words named in the valence scatter


def analysis_figures(result: dict, paths: dict[str, str], title: str, top_words: int) -> None:
    """Write each of ``FIGURES`` to ``paths[name]`` from ``analyses.analyze``'s ``result``, naming the
    ``top_words`` most positive and most negative words."""
    summary = result["summary"]

    fig, (ax,) = style.panels(1, f"{title}: fixed-point set")
    fractions = result["dimensionality"]["variance_fraction"].to_numpy()[:10]
    ax.bar(np.arange(1, len(fractions) + 1), fractions, color=style.FIXED_POINT_COLOUR)
    ax.set(xlabel="principal component of the fixed points", ylabel="fraction of variance", ylim=(0, 1))
    ax.set_title(f"{summary['fixed_points']} fixed points, PC1 {summary['pc1_fraction']:.2f}")
    style.save(fig, paths["dimensionality"])

    fig, (modulus_ax, tau_ax) = style.panels(2, f"{title}: top eigenvalues")
    eigenvalues = result["eigenvalues"]
    left_out = {modulus_ax: 0, tau_ax: 0}
    for rank, group in eigenvalues.groupby("rank"):
        left_out[modulus_ax] += style.hist(modulus_ax, group["modulus"], bins=30, alpha=0.6, label=f"|lambda_{rank}|")
        # An infinite time constant (|lambda| exactly 1) is drawn at 1e12 tokens; NaN and 0 are left out.
        with np.errstate(divide="ignore", invalid="ignore"):
            log_tau = np.log10(group["time_constant"].clip(upper=1e12))
        left_out[tau_ax] += style.hist(tau_ax, log_tau, bins=30, alpha=0.6, label=f"tau_{rank}")
    for ax, count in left_out.items():
        style.note_left_out(ax, count)
    modulus_ax.axvline(1, color="grey", linestyle="--")
    modulus_ax.set(xlabel="|lambda| at each fixed point", ylabel="fixed points")
    tau_ax.axvline(np.log10(summary["mean_review_length"]), color="black", linestyle="--", label="mean review length")
    tau_ax.set(xlabel="log10 time constant (tokens)", ylabel="fixed points")
    for ax in (modulus_ax, tau_ax):
        ax.legend()
    style.save(fig, paths["time_constants"])

    fig, (ax,) = style.panels(1, f"{title}: readout vs top mode")
    bins = np.linspace(0, 1, 31)
    ax.hist(
        result["null_alignment"],
        bins=bins,
        density=True,
        color=style.UNTRAINED_COLOUR,
        alpha=0.6,
        label="random unit vectors",
    )
    left_out = style.hist(
        ax,
        result["alignment"]["abs_cos_top_mode"],
        bins=bins,
        density=True,
        color=style.TRAINED_COLOUR,
        alpha=0.7,
        label="top right eigenvector",
    )
    style.note_left_out(ax, left_out)
    ax.set(xlabel="|cos(readout, vector)|", ylabel="density")
    if not len(result["alignment"]):
        ax.set_title("not read out directly: no alignment")
    ax.legend()
    style.save(fig, paths["alignment"])

    fig, (scatter_ax, bar_ax) = style.panels(2, f"{title}: word valence")
    words = result["valence"]
    finite = np.isfinite(words["regression_coefficient"]) & np.isfinite(words["valence"])
    scatter_ax.scatter(words["regression_coefficient"][finite], words["valence"][finite], s=4, color="grey")
    style.note_left_out(scatter_ax, int((~finite).sum()), "words")
    words = words[np.isfinite(words["valence"])]
    for _, word in words.head(LABELLED_WORDS).iterrows():
        scatter_ax.annotate(
            word["token"], (word["regression_coefficient"], word["valence"]), fontsize=6, color=style.LABEL_COLOURS[1]
        )
    for _, word in words.tail(LABELLED_WORDS).iterrows():
        scatter_ax.annotate(
            word["token"], (word["regression_coefficient"], word["valence"]), fontsize=6, color=style.LABEL_COLOURS[0]
        )
    scatter_ax.set(xlabel="bag-of-words regression coefficient", ylabel="valence l1' J_inp x")
    scatter_ax.set_title(f"Pearson r = {summary['valence_correlation']:.2f}")
    # Half of each list keeps the names legible; the tables hold all top_words.
    extremes = pd.concat([words.tail(top_words // 2), words.head(top_words // 2)])
    bar_ax.barh(
        np.arange(len(extremes)),
        extremes["valence"],
        color=[style.LABEL_COLOURS[int(v > 0)] for v in extremes["valence"]],
    )
    bar_ax.set_yticks(np.arange(len(extremes)), extremes["token"], fontsize=5)
    bar_ax.set(xlabel="valence")
    style.save(fig, paths["valence"])

    fig, (error_ax, accuracy_ax) = style.panels(2, f"{title}: linearized dynamics")
    errors = result["linearized"]["one_step_relative_error"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        log_errors = np.log10(errors[errors != 0])
    style.note_left_out(error_ax, style.hist(error_ax, log_errors, bins=40, color=style.TRAINED_COLOUR))
    error_ax.set(xlabel="log10 one-step relative error", ylabel="time steps")
    accuracies = [summary["network_accuracy"], summary["linearized_accuracy"]]
    accuracy_ax.bar(
        ["network", "linearized"], np.nan_to_num(accuracies), color=[style.TRAINED_COLOUR, style.UNTRAINED_COLOUR]
    )
    accuracy_ax.set(ylabel="accuracy", ylim=(0, 1))
    style.save(fig, paths["linearized"])

    manifold_figure(result, paths["manifold"], title)


def _class_colours(classes) -> list:
    """A colour per predicted class (-1: not read out, grey)."""
    cmap = style.plt.get_cmap("tab10")
    return [style.UNTRAINED_COLOUR if k < 0 else cmap(int(k) % cmap.N) for k in classes]


def manifold_figure(result: dict, path, title: str) -> None:
    """The fixed points on their top 3 PCs (PC1-PC2, PC1-PC3) and the final states of the evaluated
    reviews on the same axes, coloured by the readout's class; and the slow modes (|lambda| > 0.9) at each
    fixed point along PC1."""
    summary, table, visited = result["summary"], result["manifold"], result["visited"]
    fig, axes = style.panels(5, f"{title}: the integration manifold ({summary['classes']} classes)")
    for column, (ax_points, ax_visited) in zip(("pc2", "pc3"), (axes[0:4:2], axes[1:4:2])):
        ax_points.scatter(table["pc1"], table[column], s=8, c=_class_colours(table["predicted_class"]))
        ax_points.set(xlabel="fixed points' PC1", ylabel=f"fixed points' {column.upper()}")
        colours = _class_colours(visited["predicted_class"])
        ax_visited.scatter(visited["pc1"], visited[column], s=4, alpha=0.5, c=colours)
        ax_visited.set(xlabel="PC1", ylabel=column.upper(), title="final states, same axes")
    axes[0].set_title(f"{len(table)} fixed points, participation ratio {summary['participation_ratio']:.2f}")
    for k, name in enumerate(result["class_names"]):
        axes[2].plot([], [], "o", markersize=4, color=_class_colours([k])[0], label=name)
    axes[2].legend(title="readout's class", fontsize=7)
    slow = "slow_modes_stable_0.9"
    axes[4].scatter(table["pc1"], table[slow], s=8, c=_class_colours(table["predicted_class"]))
    axes[4].axhline(summary["classes"] - 1, color="black", linestyle="--", label="N - 1")
    axes[4].set(xlabel="fixed points' PC1", ylabel="stable modes, 0.9 < |lambda| < 1", title="slow modes along it")
    axes[4].legend()
    style.save(fig, path)


# The comparison figure's panels: (column, axis label, y range or "log"), in the table's order.
# Fractions, accuracies and |cos| on a fixed 0-1 axis, so that panels compare at a glance.
UNIT, SIGNED = (0, 1.02), (-1.02, 1.02)
COMPARISON_PANELS = (
    ("test_accuracy", "test accuracy", UNIT),
    ("explained_variance_2", "state variance on top 2 PCs", UNIT),
    ("fixed_points", "approximate fixed points", None),
    ("pc1_fraction", "fixed points' variance on PC1", UNIT),
    ("top_modulus_median", "median top |lambda|", None),
    ("time_constant_median", "median time constant (tokens)", "log"),
    ("alignment_median", "median |cos(readout, top mode)|", UNIT),
    ("valence_correlation", "valence r with bag of words", SIGNED),
    ("linearized_accuracy", "linearized accuracy", UNIT),
)
PAPER_MARKER = {"marker": "_", "color": "black", "s": 200, "linewidths": 2, "zorder": 3}


def comparison_figure(table: pd.DataFrame, path) -> None:
    """One panel per measure of ``tables.combine_comparisons``'s table: a point per row, grouped by
    architecture (and model and system), one colour per dataset; the paper's accuracies as black marks."""
    datasets = list(dict.fromkeys(table["dataset"]))
    # A group per (model without its architecture, system) in each architecture: "L1-E50-H256-s0 layer1".
    table = table.assign(group=[f"{m.split('-', 1)[1]} {s}" for m, s in zip(table["model"], table["system"])])
    groups = list(dict.fromkeys(zip(table["architecture"], table["group"])))
    several = len({group for _, group in groups}) > 1
    labels = [f"{arch}\n{group}" if several else arch for arch, group in groups]
    width = 0.8 / max(len(datasets), 1)
    colours = style.plt.rcParams["axes.prop_cycle"].by_key()["color"]
    rows = -(-len(COMPARISON_PANELS) // 3)
    fig, axes = style.plt.subplots(rows, 3, figsize=(13, 3.2 * rows), layout="constrained", squeeze=False)
    fig.suptitle("Across architectures and datasets (black marks: the paper's one-layer accuracies)")
    x = np.arange(len(groups))
    for ax, (column, label, scale) in zip(axes.flat, COMPARISON_PANELS):
        for k, dataset in enumerate(datasets):
            rows_of = table[table["dataset"] == dataset].set_index(["architecture", "group"])
            values = np.array([rows_of[column].get(key, np.nan) for key in groups], dtype=float)
            values[~np.isfinite(values)] = np.nan  # no bar where a measure is missing or infinite
            offset = (k - (len(datasets) - 1) / 2) * width
            # Points rather than bars: a log-scaled time constant has no bar base.
            ax.scatter(x + offset, values, s=30, color=colours[k % len(colours)], label=dataset, zorder=2)
            if column == "test_accuracy":
                paper = np.array([rows_of["paper_test_accuracy"].get(key, np.nan) for key in groups], dtype=float)
                if np.isfinite(paper).any():
                    labelled = "paper" in ax.get_legend_handles_labels()[1]
                    ax.scatter(x + offset, paper, **PAPER_MARKER, label=None if labelled else "paper")
        ax.set_xticks(x, labels, fontsize=7)
        ax.set_xlim(-0.6, len(groups) - 0.4)
        ax.set_ylabel(label)
        if scale == "log":
            ax.set_yscale("log")
        elif scale is not None:
            ax.set_ylim(*scale)
    for ax in list(axes.flat)[len(COMPARISON_PANELS) :]:
        ax.set_visible(False)
    handles, names = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncols=len(names))
    style.save(fig, path)
