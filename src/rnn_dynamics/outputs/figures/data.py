"""The data card's figure: the token lengths of each split's reviews."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

from rnn_dynamics.outputs.figures.style import hist, panels, save

__all__ = ["BINS", "length_histogram"]

BINS = 50


def length_histogram(lengths: Mapping[str, np.ndarray], path: str | Path, title: str = "") -> None:
    """One panel per split (``lengths``: split -> its reviews' token counts): the histogram of the lengths on
    bins shared by every split, with the median and the 95th percentile marked, as the data card states them."""
    longest = max((int(values.max()) for values in lengths.values() if len(values)), default=1)
    bins = np.linspace(0, max(longest, 1), BINS + 1)
    fig, axes = panels(len(lengths), title or "review length in tokens, per split")
    for ax, (split, values) in zip(axes, lengths.items()):
        hist(ax, values, bins=bins, color="#4c72b0")
        if len(values):
            for quantile, style in ((50, "-"), (95, "--")):
                at = float(np.percentile(values, quantile))
                ax.axvline(at, color="black", linestyle=style, linewidth=1, label=f"{quantile}th percentile {at:.0f}")
            ax.legend(loc="upper right", fontsize="small")
        ax.set_title(f"{split} ({len(values)} reviews)")
        ax.set_xlabel("tokens")
        ax.set_ylabel("reviews")
    save(fig, path)
