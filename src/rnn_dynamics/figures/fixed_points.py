"""Figures of the fixed-point analysis: where the search went on PC1-PC2, and the spectra at fixed points."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import fixed_points, linearization, storage
from ..states import PCA, StreamingPCA, read_pca
from . import style

CONVERGED_COLOUR = "#2ca02c"
NOT_CONVERGED_COLOUR = "#ff7f0e"
# Converged to a point no state of the network can reach (|h| beyond cells' state_bound).
OUTSIDE_COLOUR = "#bcbd22"
# One colour per fixed point of the eigenvalue panels, ordered along PC1.
SPECTRUM_COLOURS = ("#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")


def system_pca(system: str, pca_path: str | Path, states_dir: str | Path) -> PCA:
    """The trained network's PCA of a layer from the pca table; for ``stack``, a PCA of the joint states."""
    if system == "stack":
        joint = fixed_points.system_states(states_dir, "stack")
        stream = StreamingPCA(joint.shape[1])
        stream.update(joint)
        return stream.fit()
    layer = int(system.removeprefix("layer"))
    pcas = read_pca(pca_path)
    if ("trained", layer) not in pcas:
        raise ValueError(f"{pca_path}: no row for weights 'trained', layer {layer}")
    return pcas[("trained", layer)]


def spread_along_pc1(coordinates: np.ndarray, n: int) -> np.ndarray:
    """Indices of up to ``n`` rows whose PC1 values (column 0) are spread evenly from lowest to highest."""
    order = np.argsort(coordinates[:, 0], kind="stable")
    if len(order) <= n:
        return order
    return order[np.linspace(0, len(order) - 1, n).round().astype(int)]


def _system_title(system: str) -> str:
    return "stack" if system == "stack" else f"layer {system.removeprefix('layer')}"


def plot_fixed_points(model_id: str, tables: dict, pcas: dict, path: str | Path) -> None:
    """Per system: the start states on PC1-PC2 (converged inside or outside the states the network can
    reach, or not converged) and the unique fixed points in black."""
    fig, axes = style.panels(len(tables), f"{model_id}: fixed-point search")
    for ax, (system, table) in zip(axes, tables.items()):
        pca = pcas[system]
        starts = pca.project(storage.list_matrix(table["start"]))
        converged = table["converged"].to_numpy(zero_copy_only=False)
        outside = converged & ~table["in_state_space"].to_numpy(zero_copy_only=False)
        inside = converged & ~outside
        unique = pca.project(storage.list_matrix(fixed_points.unique_fixed_points(table)["fixed_point"]))
        ax.scatter(*starts[inside].T, s=6, alpha=0.5, color=CONVERGED_COLOUR, label=f"start, converged ({inside.sum()})")
        if outside.any():
            ax.scatter(*starts[outside].T, s=6, alpha=0.5, color=OUTSIDE_COLOUR,
                       label=f"start, converged outside the state space ({outside.sum()})")  # fmt: skip
        ax.scatter(*starts[~converged].T, s=6, alpha=0.5, color=NOT_CONVERGED_COLOUR, label=f"start, not converged ({(~converged).sum()})")
        ax.scatter(*unique.T, s=12, marker="x", color=style.FIXED_POINT_COLOUR, label=f"fixed point ({len(unique)})")
        ax.set(title=f"{model_id} {_system_title(system)}", xlabel="PC1", ylabel="PC2")
        ax.legend(loc="best", fontsize=7)
    style.save(fig, path)


def plot_eigenvalues(model_id: str, spectra: dict, pcas: dict, eigen_points: int, path: str | Path) -> None:
    """Per system: the eigenvalues of J_rec at up to ``eigen_points`` fixed points spread along PC1, with the unit circle."""
    fig, axes = style.panels(len(spectra), f"{model_id}: eigenvalues of the recurrent Jacobian", square=True)
    circle = np.exp(1j * np.linspace(0, 2 * np.pi, 400))
    for ax, (system, lin) in zip(axes, spectra.items()):
        ax.plot(circle.real, circle.imag, color="grey", linewidth=0.8)
        coordinates = pcas[system].project(lin.fixed_point)
        for colour, row in zip(SPECTRUM_COLOURS, spread_along_pc1(coordinates, eigen_points)):
            values = lin.eigenvalues[row]
            ax.scatter(
                values.real, values.imag, s=10, alpha=0.7, color=colour,
                label=f"PC1 = {coordinates[row, 0]:.2f}, max |λ| = {np.abs(values).max():.3f}",
            )
        if len(lin.fixed_point) == 0:
            ax.text(0, 0, "no fixed points", ha="center", va="center")
        ax.set(title=f"{model_id} {_system_title(system)}", xlabel="Re λ", ylabel="Im λ")
        ax.legend(loc="lower left", fontsize=7)
    style.save(fig, path)


def fixed_point_figures(model_id: str, systems: list[str], table_paths: list, pca_path, states_dir, eigen_points: int, outputs: dict) -> None:
    """Both figures of one model; ``table_paths`` holds its fixed_points/ and linearization/ tables."""
    by_kind = {(Path(p).parent.parent.name, Path(p).stem): p for p in map(Path, table_paths)}
    missing = [(kind, s) for s in systems for kind in ("fixed_points", "linearization") if (kind, s) not in by_kind]
    if missing:
        raise ValueError(f"{model_id}: no table for {missing} among {sorted(map(str, table_paths))}")
    pcas = {system: system_pca(system, pca_path, states_dir) for system in systems}
    tables = {system: fixed_points.read_fixed_points(by_kind[("fixed_points", system)]) for system in systems}
    spectra = {system: linearization.read(by_kind[("linearization", system)]) for system in systems}
    plot_fixed_points(model_id, tables, pcas, outputs["fixed_points"])
    plot_eigenvalues(model_id, spectra, pcas, eigen_points, outputs["eigenvalues"])
