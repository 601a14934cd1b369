"""The look shared by every figure: label colours, sizes, and saving PNG with a vector copy."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from rnn_dynamics.ground.storage import atomic_path  # noqa: E402

__all__ = [
    "FIXED_POINT_COLOUR",
    "LABEL_COLOURS",
    "LABEL_NAMES",
    "MIN_WIDTH",
    "PANEL_SIZE",
    "TRAINED_COLOUR",
    "UNTRAINED_COLOUR",
    "hist",
    "note_left_out",
    "panels",
    "save",
]

# One colour per label, in every figure.
LABEL_COLOURS = {0: "#d62728", 1: "#1f77b4"}
LABEL_NAMES = {0: "negative", 1: "positive"}
TRAINED_COLOUR = "#1f77b4"
UNTRAINED_COLOUR = "#7f7f7f"
FIXED_POINT_COLOUR = "black"
PANEL_SIZE = (4.0, 3.6)
MIN_WIDTH = 6.5

plt.rcParams.update(
    {
        "figure.dpi": 110,
        "savefig.dpi": 150,
        "font.size": 9,
        "axes.titlesize": 10,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "legend.frameon": False,
    }
)


def panels(n: int, title: str, square: bool = False):
    """A figure with ``n`` panels side by side and a suptitle naming model (and what is shown)."""
    width, height = PANEL_SIZE
    # A single panel still needs room for the title and a legend under it.
    fig, axes = plt.subplots(1, n, figsize=(max(width * n, MIN_WIDTH), height), squeeze=False, layout="constrained")
    fig.suptitle(title)
    if square:
        for ax in axes[0]:
            ax.set_aspect("equal", adjustable="datalim")
    return fig, list(axes[0])


def hist(ax, values, **kwargs) -> int:
    """``ax.hist`` of the finite ``values``; returns how many were left out (inf, NaN) for ``note_left_out``."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    if finite.any():
        ax.hist(values[finite], **kwargs)
    return int((~finite).sum())


def note_left_out(ax, count: int, what: str = "values") -> None:
    """Say on the panel that ``count`` non-finite ``what`` are not drawn (a diverged network makes them)."""
    if count:
        ax.text(
            0.98,
            0.98,
            f"{count} non-finite {what} not shown",
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=7,
            color="firebrick",
        )


def save(fig, path: str | Path) -> None:
    """Save ``fig`` as PNG at ``path`` and as a PDF beside it, both atomically, then close it. The layout is
    computed once, as the PNG is drawn, and kept for the PDF: the same positions, without a second layout pass."""
    path = Path(path)
    for target in (path, path.with_suffix(".pdf")):
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=target.suffix.lstrip("."))
        fig.set_layout_engine("none")
    plt.close(fig)
