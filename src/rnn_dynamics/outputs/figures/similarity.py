"""The similarity of dynamics along one grid axis: distances and fixed-point geometry against the axis value."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from rnn_dynamics.outputs.figures.style import panels, save
from rnn_dynamics.outputs.tables import per_system

__all__ = ["DISTANCES", "GEOMETRY_SHOWN", "axis_figure"]

# Pairwise measures, drawn per pair of axis values; the seed-to-seed distance beside them where the table has it.
DISTANCES = {"dsa": "DSA distance", "cka": "linear CKA"}
# Per-system measures, drawn per axis value.
GEOMETRY_SHOWN = {
    "unique_fixed_points": "unique fixed points",
    "manifold_dimension": "fixed points' dimension (PR)",
    "time_constant_median": "median tau of the top mode (tokens)",
}


def axis_figure(table: pd.DataFrame, axis: str, path: str | Path, title: str = "") -> None:
    """One panel per measure of ``table`` (the similarity table) along ``axis``: DSA and CKA per pair of axis
    values, mean and standard deviation over the pairs (other seeds, say), with the seed-to-seed mean as a
    dashed line, the systems' mean DSA from their untrained networks as a dotted one and their noise floor (each
    against itself over other reviews) as a dash-dotted one; the geometry per axis
    value, mean and standard deviation over the systems there."""
    rows = table[table["axis"] == axis]
    if rows.empty:
        raise ValueError(f"the similarity table has no pair along axis {axis!r}; its axes: {sorted(set(table.axis))}")
    seeds = table[table["axis"] == "seed"]
    fig, axes = panels(len(DISTANCES) + len(GEOMETRY_SHOWN), title or f"similarity along {axis}")
    labels = rows["value_a"].astype(str) + " vs " + rows["value_b"].astype(str)
    for ax, (measure, name) in zip(axes, DISTANCES.items()):
        grouped = rows.groupby(labels, sort=False)[measure]
        ax.errorbar(range(grouped.ngroups), grouped.mean(), yerr=grouped.std().fillna(0), fmt="o", capsize=4)
        ax.set_xticks(range(grouped.ngroups), list(grouped.groups), rotation=30)
        if axis != "seed" and len(seeds) and np.isfinite(seeds[measure]).any():
            ax.axhline(seeds[measure].mean(), color="grey", linestyle="--", label="seed to seed")
        if measure == "dsa":
            scales = per_system(rows, "dsa_untrained", "dsa_floor")
            ax.axhline(scales["dsa_untrained"].mean(), color="grey", linestyle=":", label="trained to untrained")
            if np.isfinite(scales["dsa_floor"]).any():
                ax.axhline(scales["dsa_floor"].mean(), color="grey", linestyle="-.", label="floor (other reviews)")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best", fontsize="small")
        ax.set_ylabel(name)
        ax.set_xlabel(axis)
    for ax, (measure, name) in zip(axes[len(DISTANCES) :], GEOMETRY_SHOWN.items()):
        systems = per_system(rows, measure)
        grouped = systems.groupby(systems["axis_value"].astype(str), sort=True)[measure]
        ax.errorbar(range(grouped.ngroups), grouped.mean(), yerr=grouped.std().fillna(0), fmt="s", capsize=4)
        ax.set_xticks(range(grouped.ngroups), list(grouped.groups))
        ax.set_ylabel(name)
        ax.set_xlabel(axis)
    save(fig, path)
