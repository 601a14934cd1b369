"""The context stage's figures of one system: the modifiers' deflections in the plane of the line, the gain
per modifier against the null words', and the ablation curve."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnn_dynamics.outputs.catalogue import CONTEXT_FIGURES as FIGURES
from rnn_dynamics.outputs.figures.style import FIXED_POINT_COLOUR, panels, save

__all__ = ["FIGURES", "context_figures"]


def context_figures(result: dict, paths: dict[str, str | Path], title: str) -> None:
    """Draw ``FIGURES`` of a ``dynamics.context.context`` result into ``paths`` (name -> PNG path)."""
    null_words = set(result["summary"].get("null_words", []))
    fig, (ax,) = panels(1, f"{title}: modifier deflections", square=True)
    plane = result["deflections"]
    if len(plane["fixed_points"]):
        ax.scatter(*plane["fixed_points"].T, s=6, color=FIXED_POINT_COLOUR, label="fixed points")
    for modifier, (ref, mod) in plane["modifiers"].items():
        if modifier in null_words:
            continue
        (line,) = ax.plot([], [], label=modifier)
        for start, end in zip(ref, mod):
            ax.annotate("", end, start, arrowprops={"arrowstyle": "->", "color": line.get_color(), "lw": 0.6})
        ax.scatter(*mod.T, s=4, color=line.get_color())
    ax.set(xlabel="fixed points' PC1", ylabel="PC2")
    ax.legend(fontsize=7)
    save(fig, paths["context_deflections"])

    fig, (ax,) = panels(1, f"{title}: settled gain per modifier")
    rows = result["rows"]
    names = list(dict.fromkeys(rows["modifier"]))
    for x, modifier in enumerate(names):
        gains = rows.loc[rows["modifier"] == modifier, "settled_gain"].to_numpy()
        colour = "#7f7f7f" if modifier in null_words else "#1f77b4"
        ax.scatter(np.full(len(gains), x) + np.linspace(-0.15, 0.15, len(gains)), gains, s=8, color=colour)
    ax.axhline(0, color="black", lw=0.5)
    ax.axhline(1, color="black", lw=0.5, ls=":")
    ax.set_xticks(range(len(names)), names, rotation=30)
    ax.set(ylabel="settled gain (after / alone)")
    save(fig, paths["context_gain"])

    fig, (ax,) = panels(1, f"{title}: ablation of the modifier's modes")
    for modifier, curve in result["ablation"].groupby("modifier", sort=False):
        ax.plot(curve["k"], curve["effect_remaining"], marker="o", ms=3, label=modifier)
    ax.axhline(0, color="black", lw=0.5)
    ax.set(xlabel="best-aligned modes removed (k)", ylabel="share of the effect left")
    ax.legend(fontsize=7)
    save(fig, paths["context_ablation"])
