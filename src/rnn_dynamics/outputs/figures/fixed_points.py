"""Figures of the fixed-point analysis as the paper draws them: the approximate fixed points on the line
through the visited states, the Jacobian spectra along it, and the slowest mode against the line coordinate."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnn_dynamics.dynamics import fixed_point_sets, linearization
from rnn_dynamics.dynamics.pca import PCA, read_pca
from rnn_dynamics.dynamics.pca import fit as fit_pca
from rnn_dynamics.dynamics.spectra import time_constant, variance_fractions
from rnn_dynamics.dynamics.state_dumps import system_states
from rnn_dynamics.ground import storage
from rnn_dynamics.outputs.figures import style

__all__ = [
    "CLOUD_POINTS",
    "EXACT_ROOT_COLOUR",
    "LINE_COLOURMAP",
    "SLOW_POINT_COLOUR",
    "fixed_point_figures",
    "plot_eigenvalues",
    "plot_fixed_points",
    "plot_line",
    "spread_along_line",
    "state_cloud",
    "system_pca",
]


def system_pca(system: str, pca_path: str | Path, states_dir: str | Path) -> PCA:
    """The trained network's PCA of a layer from the pca table; for ``stack``, a PCA of the joint states."""
    if system == "stack":
        return fit_pca(system_states(states_dir, "stack"))
    layer = int(system.removeprefix("layer"))
    pcas = read_pca(pca_path)
    if ("trained", layer) not in pcas:
        raise ValueError(f"{pca_path}: no row for weights 'trained', layer {layer}")
    return pcas[("trained", layer)]


def _system_title(system: str) -> str:
    return "stack" if system == "stack" else f"layer {system.removeprefix('layer')}"


# The visited states behind the fixed points: a faint cloud of at most this many.
CLOUD_POINTS = 5000
LINE_COLOURMAP = "viridis"
EXACT_ROOT_COLOUR = "#d62728"
# Starts that settled at a minimum of q above the tolerance.
SLOW_POINT_COLOUR = "#ff7f0e"


def _theta_colours(theta: np.ndarray):
    """A normaliser and colour map shared by every panel drawn against the line coordinate."""
    import matplotlib.colors as mcolors
    from matplotlib import colormaps

    finite = theta[np.isfinite(theta)]
    low, high = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    return mcolors.Normalize(low, high if high > low else low + 1.0), colormaps[LINE_COLOURMAP]


def plot_fixed_points(model_id: str, tables: dict, pcas: dict, clouds: dict, path: str | Path) -> None:
    """Per system, as the paper's Fig. 2: the visited states faint on PC1-PC2, every approximate fixed point
    over them coloured by its coordinate along the line (theta, their own first principal component), the
    exact roots apart where they were sought, and an inset of the fixed points' explained variance."""
    fig, axes = style.panels(len(tables), f"{model_id}: approximate fixed points (the paper's)")
    for ax, (system, table) in zip(axes, tables.items()):
        pca = pcas[system]
        cloud = pca.project(clouds[system])
        ax.scatter(
            *cloud.T,
            s=2,
            alpha=0.15,
            color=style.UNTRAINED_COLOUR,
            linewidths=0,
            label=f"visited states ({len(cloud)})",
        )
        points = storage.list_matrix(fixed_point_sets.unique_fixed_points(table)["fixed_point"])
        counts = fixed_point_sets.counts(table)
        marks = []  # what the inset must not hide: fixed points, slow points, roots (data coordinates)
        if len(points):
            theta = linearization.line_coordinate(points)
            norm, cmap = _theta_colours(theta)
            projected = pca.project(points)
            mappable = ax.scatter(*projected.T, s=10, c=theta, cmap=cmap, norm=norm,
                                  label=f"approximate fixed points ({len(points)})")  # fmt: skip
            fig.colorbar(mappable, ax=ax, label="θ (fixed points' PC1)", shrink=0.8)
            marks.append(projected)
        else:
            ax.text(0.5, 0.5, "no approximate fixed points", transform=ax.transAxes, ha="center")
        slow = ~table["converged"].to_numpy(zero_copy_only=False)
        if slow.any():
            projected = pca.project(storage.list_matrix(table["fixed_point"])[slow])
            label = f"slow points, q ≥ q_tol ({int(slow.sum())}; median q {counts['slow_point_median_q']:.1e})"
            ax.scatter(*projected.T, s=14, facecolors="none", edgecolors=SLOW_POINT_COLOUR, label=label)
            marks.append(projected)
        roots = fixed_point_sets.exact_roots(table)
        if len(roots):
            projected = pca.project(storage.list_matrix(roots["exact_root"]))
            ax.scatter(
                *projected.T,
                s=40,
                marker="x",
                color=EXACT_ROOT_COLOUR,
                label=f"exact roots, an extension ({len(roots)})",
            )
            marks.append(projected)
        if len(points):
            _variance_inset(ax, points, np.concatenate(marks), cloud)
        note = f"{counts['converged']} of {counts['starts']} starts below q_tol"
        if counts["outside_state_space"]:
            note += f",\n{counts['outside_state_space']} of them outside the reachable states, left out"
        if counts["at_bound"]:
            note += f",\n{counts['at_bound']} of them stopped on the state bound, left out"
        ax.set(
            title=f"{model_id} {_system_title(system)}\n{note}", xlabel="PC1 of the states", ylabel="PC2 of the states"
        )
        ax.title.set_fontsize(8)
        ax.legend(loc="lower left", fontsize=7, markerscale=2)
    style.save(fig, path)


# Where the inset of the fixed points' variance may go, in axes fractions (x, y, width, height):
# upper right, upper left, lower right (the legend holds the lower left).
INSET_PLACES = ((0.70, 0.66, 0.28, 0.26), (0.10, 0.66, 0.28, 0.26), (0.70, 0.10, 0.28, 0.26))


def inset_place(ax, marks: np.ndarray, cloud: np.ndarray) -> tuple[float, float, float, float]:
    """Of ``INSET_PLACES``, the one that hides the fewest ``marks`` (fixed points, slow points,
    roots: (N, 2) in data coordinates), then the fewest visited states: a line of fixed points in
    a corner must not vanish under the inset."""
    ax.autoscale_view()

    def hidden(xy: np.ndarray, place) -> int:
        if len(xy) == 0:
            return 0
        x, y = ax.transLimits.transform(xy).T
        left, bottom, width, height = place
        # The inset's title and tick labels reach a little beyond its box.
        inside = (x > left - 0.03) & (x < left + width + 0.02) & (y > bottom - 0.06) & (y < bottom + height + 0.08)
        return int(inside.sum())

    return min(INSET_PLACES, key=lambda place: (hidden(marks, place), hidden(cloud, place)))


def _variance_inset(ax, points: np.ndarray, marks: np.ndarray, cloud: np.ndarray) -> None:
    """The fixed points' own explained variance by component, as the paper's inset, where it hides
    the fewest points (``inset_place``)."""
    fractions = variance_fractions(points)[:5]
    if len(fractions) == 0:
        return
    inset = ax.inset_axes(inset_place(ax, marks, cloud))
    inset.bar(np.arange(1, len(fractions) + 1), fractions, color=style.FIXED_POINT_COLOUR)
    inset.set_ylim(0, 1)
    inset.set_xticks(np.arange(1, len(fractions) + 1))
    inset.set_title("fixed points'\nvariance by PC", fontsize=6)
    inset.tick_params(labelsize=6)


def spread_along_line(theta: np.ndarray, n: int) -> np.ndarray:
    """Indices of up to ``n`` points whose line coordinates are spread evenly from lowest to highest."""
    order = np.argsort(theta, kind="stable")
    if len(order) <= n:
        return order
    return order[np.unique(np.linspace(0, len(order) - 1, n).round().astype(int))]


def plot_eigenvalues(model_id: str, spectra: dict, eigen_points: int, path: str | Path) -> None:
    """Per system, as the paper's Fig. 3: the eigenvalues of J_rec at ``eigen_points`` approximate fixed
    points spread along the line, coloured by their coordinate theta, with the unit circle."""
    fig, axes = style.panels(
        len(spectra), f"{model_id}: eigenvalues of the recurrent Jacobian along the line", square=True
    )
    circle = np.exp(1j * np.linspace(0, 2 * np.pi, 400))
    for ax, (system, lin) in zip(axes, spectra.items()):
        ax.plot(circle.real, circle.imag, color="grey", linewidth=0.8)
        if len(lin.fixed_point) == 0:
            ax.text(0, 0, "no fixed points", ha="center", va="center")
        else:
            theta = linearization.line_coordinate(lin.fixed_point)
            norm, cmap = _theta_colours(theta)
            for row in spread_along_line(theta, eigen_points):
                values = lin.eigenvalues[row]
                ax.scatter(values.real, values.imag, s=8, alpha=0.7, color=cmap(norm(theta[row])),
                           label=f"θ = {theta[row]:.2f}, max |λ| = {np.abs(values).max():.4f}")  # fmt: skip
            ax.legend(loc="lower left", fontsize=6)
        ax.set(title=f"{model_id} {_system_title(system)}", xlabel="Re λ", ylabel="Im λ")
    style.save(fig, path)


def plot_line(model_id: str, spectra: dict, path: str | Path) -> None:
    """Per system: the largest |lambda| (and its time constant, in tokens) at every approximate fixed
    point against its coordinate theta along the line."""
    fig, axes = style.panels(len(spectra), f"{model_id}: the slowest mode along the line")
    for ax, (system, lin) in zip(axes, spectra.items()):
        ax.set(title=f"{model_id} {_system_title(system)}", xlabel="θ (fixed points' PC1)", ylabel="largest |λ|")
        if len(lin.fixed_point) == 0:
            ax.text(0.5, 0.5, "no fixed points", transform=ax.transAxes, ha="center")
            continue
        theta = linearization.line_coordinate(lin.fixed_point)
        top = lin.modulus.max(axis=1)
        norm, cmap = _theta_colours(theta)
        ax.scatter(theta, top, s=8, c=theta, cmap=cmap, norm=norm)
        ax.axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
        tau = ax.twinx()
        tau.spines["right"].set_visible(True)
        # |lambda| = 1 exactly has an infinite time constant: left off the log axis.
        time_constants = time_constant(top)
        finite = np.isfinite(time_constants) & (time_constants > 0)
        tau.scatter(theta[finite], time_constants[finite], s=4, marker="_", color="black", alpha=0.6)
        tau.set_yscale("log")
        tau.set_ylabel("time constant τ (tokens), black")
    style.save(fig, path)


def state_cloud(states_dir: str | Path, system: str, max_points: int = CLOUD_POINTS) -> np.ndarray:
    """A seeded sample of the system's visited states, for the faint background of the fixed-point figure."""
    states = system_states(states_dir, system)
    if len(states) > max_points:
        states = states[np.sort(np.random.default_rng(0).choice(len(states), size=max_points, replace=False))]
    return states


def fixed_point_figures(
    model_id: str, systems: list[str], table_paths: list, pca_path, states_dir, eigen_points: int, outputs: dict
) -> None:
    """The three figures of one model; ``table_paths`` holds its fixed_points/ and linearization/ tables."""
    by_kind = {(Path(p).parent.parent.name, Path(p).stem): p for p in map(Path, table_paths)}
    missing = [(kind, s) for s in systems for kind in ("fixed_points", "linearization") if (kind, s) not in by_kind]
    if missing:
        raise ValueError(f"{model_id}: no table for {missing} among {sorted(map(str, table_paths))}")
    pcas = {system: system_pca(system, pca_path, states_dir) for system in systems}
    tables = {system: fixed_point_sets.read_fixed_points(by_kind[("fixed_points", system)]) for system in systems}
    spectra = {system: linearization.read(by_kind[("linearization", system)]) for system in systems}
    clouds = {system: state_cloud(states_dir, system) for system in systems}
    plot_fixed_points(model_id, tables, pcas, clouds, outputs["fixed_points"])
    plot_eigenvalues(model_id, spectra, eigen_points, outputs["eigenvalues"])
    plot_line(model_id, spectra, outputs["line"])
