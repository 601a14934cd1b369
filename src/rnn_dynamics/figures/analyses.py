"""Figures of one system's line-attractor measures (see ``rnn_dynamics.analyses``), one per measure."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import style

FIGURES = ("dimensionality", "time_constants", "alignment", "valence", "linearized")
LABELLED_WORDS = 8  # most positive and most negative words named in the valence scatter


def analysis_figures(result: dict, paths: dict[str, str], title: str, top_words: int = 30) -> None:
    """Write each of ``FIGURES`` to ``paths[name]`` from ``analyses.analyze``'s ``result``."""
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
    ax.hist(result["null_alignment"], bins=bins, density=True, color=style.UNTRAINED_COLOUR, alpha=0.6, label="random unit vectors")
    left_out = style.hist(ax, result["alignment"]["abs_cos_top_mode"], bins=bins, density=True, color=style.TRAINED_COLOUR, alpha=0.7, label="top right eigenvector")
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
        scatter_ax.annotate(word["token"], (word["regression_coefficient"], word["valence"]), fontsize=6, color=style.LABEL_COLOURS[1])
    for _, word in words.tail(LABELLED_WORDS).iterrows():
        scatter_ax.annotate(word["token"], (word["regression_coefficient"], word["valence"]), fontsize=6, color=style.LABEL_COLOURS[0])
    scatter_ax.set(xlabel="bag-of-words regression coefficient", ylabel="valence l1' J_inp x")
    scatter_ax.set_title(f"Pearson r = {summary['valence_correlation']:.2f}")
    # Half of each list keeps the names legible; the tables hold all top_words.
    extremes = pd.concat([words.tail(top_words // 2), words.head(top_words // 2)])
    bar_ax.barh(np.arange(len(extremes)), extremes["valence"], color=[style.LABEL_COLOURS[int(v > 0)] for v in extremes["valence"]])
    bar_ax.set_yticks(np.arange(len(extremes)), extremes["token"], fontsize=5)
    bar_ax.set(xlabel="valence")
    style.save(fig, paths["valence"])

    fig, (error_ax, accuracy_ax) = style.panels(2, f"{title}: linearised dynamics")
    errors = result["linearized"]["one_step_relative_error"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        log_errors = np.log10(errors[errors != 0])
    style.note_left_out(error_ax, style.hist(error_ax, log_errors, bins=40, color=style.TRAINED_COLOUR))
    error_ax.set(xlabel="log10 one-step relative error", ylabel="time steps")
    accuracies = [summary["network_accuracy"], summary["linearized_accuracy"]]
    accuracy_ax.bar(["network", "linearised"], np.nan_to_num(accuracies), color=[style.TRAINED_COLOUR, style.UNTRAINED_COLOUR])
    accuracy_ax.set(ylabel="accuracy", ylim=(0, 1))
    style.save(fig, paths["linearized"])
