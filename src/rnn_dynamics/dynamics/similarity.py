"""How similar two systems' dynamics are: DSA and linear CKA of their states, and their fixed-point geometry.

A system here is one analysed system (``layerN`` or ``stack``) of one model on one split, named
``{model}{split_tag}/{system}`` as its fixed-point table's path names it. Two systems are compared
on the state trajectories of the same reviews (the first ``steps`` tokens of each):

- Dynamical Similarity Analysis (Ostrow et al., NeurIPS 2023), through the authors' package
  ``dsa-metric``: a linear (DMD) operator fitted to each system's trajectories, and a distance
  between the two operators that no rotation of either state space changes;
- linear CKA of the states at the same reviews and tokens (1: the same up to rotation and scale);
- the scale of DSA on the run's own data: each system's distance from the same system of its untrained
  (initial) network over the same reviews, which a trained network's distance to another should be far below;
- beside them each system's fixed-point geometry (``geometry``).

Pairs come from the config (``similarity.pairs``) or from the grid (``similarity.axes``: every pair
of systems that differ in one axis alone).
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from rnn_dynamics.data.batches import Reviews, padded_batch, training_rows
from rnn_dynamics.dynamics import analyses, fixed_points, linearization, spectra
from rnn_dynamics.ground import config
from rnn_dynamics.ground.grid import ModelSpec, split_tag, untag
from rnn_dynamics.ground.storage import list_matrix

__all__ = [
    "AXIS_KEYS",
    "COLUMNS",
    "GEOMETRY",
    "PER_SYSTEM",
    "Settings",
    "answers",
    "SystemName",
    "axis_pairs",
    "axis_value",
    "common_rows",
    "compare",
    "dsa_distance",
    "geometry",
    "linear_cka",
    "pairs",
    "per_system",
    "row",
    "similarity_table",
    "trajectories",
    "untrained_distance",
]

log = logging.getLogger(__name__)

# The fixed-point geometry of one system, in the table's order (each twice: _a and _b).
GEOMETRY = [
    "unique_fixed_points",
    "manifold_dimension",
    "top_modulus_median",
    "top_modulus_iqr",
    "time_constant_median",
    "time_constant_iqr",
    "alignment_median",
]
# Each system's columns of the table (each twice: _a and _b): its DSA from its untrained network, its geometry.
PER_SYSTEM = ["dsa_untrained", *GEOMETRY]
# The similarity table's columns: the pair, its measures, then each system's (the table catalogue describes them).
COLUMNS = ["axis", "a", "b", "value_a", "value_b", "reviews", "dsa", "cka"] + [
    f"{key}_{side}" for key in PER_SYSTEM for side in ("a", "b")
]


@dataclass(frozen=True)
class Settings(config.Section, section="similarity"):
    """The ``similarity`` section of the config; a key left out takes the schema's default."""

    pairs: list
    axes: list
    reviews: int
    steps: int
    seed: int
    n_delays: int
    rank: int | None
    score_method: str
    iters: int


@dataclass(frozen=True)
class SystemName:
    """One system of one model on one split: ``{model}{split_tag}/{system}``."""

    model: ModelSpec
    split: str
    system: str

    @classmethod
    def parse(cls, name: str) -> "SystemName":
        tagged, slash, system = name.partition("/")
        model_id, split = untag(tagged)
        if not slash or not system:
            raise ValueError(f"similarity system {name!r} is not of the form '{{model}}{{split_tag}}/{{system}}'")
        return cls(ModelSpec.parse(model_id), split, system)

    @property
    def name(self) -> str:
        return f"{self.model.id}{split_tag(self.split)}/{self.system}"


# The value of an axis for a system, and the system with another value there.
_AXES = {
    "seed": lambda s: s.model.seed,
    "batch_size": lambda s: s.model.batch_size,
    "train_fraction": lambda s: s.model.train_fraction,
    "embedding": lambda s: s.model.embedding,
    "architecture": lambda s: s.model.architecture,
    "split": lambda s: s.split,
    "layer": lambda s: s.system,
}


# The config keys an axis's values come from: an axis of one value gives no pair to compare.
AXIS_KEYS = {
    "seed": "models.seeds",
    "batch_size": "models.batch_size",
    "train_fraction": "models.train_fraction",
    "embedding": "models.embedding",
    "architecture": "models.architectures",
    "split": "states.splits",
    "layer": "models.layers with fixed_points.mode per_layer",
}


def axis_value(system: SystemName, axis: str):
    return _AXES[axis](system)


def axis_pairs(systems: list[SystemName], axis: str) -> list[tuple[SystemName, SystemName]]:
    """Every pair of ``systems`` that differ in ``axis`` alone, in the order of ``systems``."""
    if axis not in _AXES:
        raise ValueError(f"similarity.axes: unknown axis {axis!r}; known: {sorted(_AXES)}")
    others = [name for name in _AXES if name != axis]

    def rest(system):
        key = {name: axis_value(system, name) for name in others}
        key["layers"] = system.model.layers  # two depths are two models, never one axis's pair
        return key

    return [(a, b) for a, b in itertools.combinations(systems, 2) if rest(a) == rest(b)]


def pairs(
    settings: Settings, models: list[ModelSpec], splits: list[str], mode: str
) -> list[tuple[str, SystemName, SystemName]]:
    """The pairs to compare, as (axis, a, b): the configured ones (axis ``pair``), then each axis's.

    Raises ValueError, before any job is planned (the Snakefile calls this while it reads the config), naming a
    configured system that is not in the grid, a configured pair of a system with itself (DSA 0 and CKA 1 by
    construction: no measurement), or an axis of ``similarity.axes`` along which no two systems differ (one value
    in the grid: nothing to compare, no table, no figure).
    """
    systems = [
        SystemName(model, split, system) for model in models for split in splits for system in model.systems(mode)
    ]
    known = {system.name for system in systems}
    found = []
    for a, b in settings.pairs:
        for name in (a, b):
            if name not in known:
                raise ValueError(
                    f"similarity.pairs: {name!r} is not a system of the grid (models, states.splits, fixed_points.mode)"
                    f"; e.g. {sorted(known)[:3]}"
                )
        if a == b:
            raise ValueError(
                f"similarity.pairs: the pair [{a!r}, {b!r}] compares a system with itself (DSA 0 and CKA 1 by "
                "construction); name two different systems"
            )
        found.append(("pair", SystemName.parse(a), SystemName.parse(b)))
    for axis in settings.axes:
        along = axis_pairs(systems, axis)
        if not along:
            values = list(dict.fromkeys(axis_value(system, axis) for system in systems))
            remedy = (
                "list a model of 2 or more layers in models.layers, with fixed_points.mode per_layer"
                if axis == "layer"
                else f"give {AXIS_KEYS[axis]} a second value"
            )
            raise ValueError(
                f"similarity.axes: the axis {axis!r} has one value in the grid ({', '.join(map(repr, values))}, "
                f"from {AXIS_KEYS[axis]}), so no two systems differ in it alone and nothing would be compared; "
                f"{remedy}, or leave {axis!r} out of similarity.axes"
            )
        found += [(axis, a, b) for a, b in along]
    return found


def common_rows(split: Reviews, specs: list[ModelSpec], split_name: str, settings: Settings) -> np.ndarray:
    """Rows of ``split`` that every model of ``specs`` read there (for the train split, those all were trained
    on), at least ``steps`` tokens long: a sample of ``reviews`` of them drawn with ``seed``."""
    rows = np.arange(len(split))
    if split_name == "train":
        for spec in specs:
            rows = np.intersect1d(rows, training_rows(len(split), spec.train_fraction, spec.seed))
    rows = rows[split.lengths[rows] >= settings.steps]
    if len(rows) == 0:
        raise ValueError(
            f"similarity: no review of the {split_name} split read by {[spec.id for spec in specs]} has "
            f"similarity.steps={settings.steps} tokens; lower similarity.steps"
        )
    if len(rows) > settings.reviews:
        rows = np.sort(np.random.default_rng(settings.seed).choice(rows, settings.reviews, replace=False))
    return rows


def trajectories(model, system: str, reviews: Reviews, rows: np.ndarray, steps: int) -> np.ndarray:
    """The states (n, steps, S) of ``system`` (``layerN``; ``stack``: all layers' states side by side) over the
    first ``steps`` tokens of ``reviews[rows]``, in float64."""
    device = next(model.parameters()).device
    tokens, lengths, _ = padded_batch(reviews, np.asarray(rows), device)
    with torch.no_grad():
        layers = model.eval().layer_states(tokens[:, :steps], lengths)
    states = torch.cat(layers, dim=-1) if system == "stack" else layers[int(system.removeprefix("layer")) - 1]
    return states.double().cpu().numpy()


def dsa_distance(x: np.ndarray, y: np.ndarray, settings: Settings) -> float:
    """DSA's distance between trajectories ``x`` and ``y`` (trials, time, S): 0 for the same dynamics in any
    rotated state space."""
    from DSA import DSA  # imported here: the package pulls in much that no other stage needs

    rank = settings.rank
    dims = min(x.shape[-1], y.shape[-1]) * settings.n_delays
    if rank is not None and rank > dims:
        rank = dims
    score = DSA(
        x, y, n_delays=settings.n_delays, rank=rank, score_method=settings.score_method, iters=settings.iters
    ).fit_score()
    return float(np.asarray(score).ravel()[0])


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear centred kernel alignment of states ``x`` (N, S) and ``y`` (N, S') at the same N inputs (Kornblith
    et al. 2019): 1 where one is a rotation and scaling of the other, near 0 for unrelated states."""
    x = np.asarray(x, dtype=np.float64).reshape(-1, np.shape(x)[-1])
    y = np.asarray(y, dtype=np.float64).reshape(-1, np.shape(y)[-1])
    x, y = x - x.mean(axis=0), y - y.mean(axis=0)
    cross = np.linalg.norm(y.T @ x) ** 2
    return float(cross / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)))


def _median_iqr(values: np.ndarray) -> tuple[float, float]:
    if len(values) == 0:
        return float("nan"), float("nan")
    low, median, high = np.percentile(values, [25, 50, 75])
    return float(median), float(high - low)


def geometry(fixed_point_path, linearization_path, model, system: str) -> dict:
    """One system's fixed-point geometry (``GEOMETRY``): its unique approximate fixed points, their manifold's
    dimension (participation ratio), the median and interquartile range of the top |lambda| and its tau over
    them, and the median |cos| between the readout and the top right eigenvector (NaN where the system is not
    read out)."""
    table = fixed_points.read_fixed_points(fixed_point_path)
    points = list_matrix(fixed_points.unique_fixed_points(table)["fixed_point"])
    lin = linearization.read(linearization_path)
    top = lin.modulus.max(axis=1) if len(lin.fixed_point) else np.zeros(0)
    readout = analyses.system_readout(model, system)
    aligned = analyses.alignment(lin, readout[0], 1, 0)[0] if readout is not None else np.zeros(0)
    modulus = _median_iqr(top)
    tau = _median_iqr(spectra.time_constant(top))
    return {
        "unique_fixed_points": int(len(points)),
        "manifold_dimension": spectra.participation_ratio(points),
        "top_modulus_median": modulus[0],
        "top_modulus_iqr": modulus[1],
        "time_constant_median": tau[0],
        "time_constant_iqr": tau[1],
        "alignment_median": float(np.median(aligned)) if len(aligned) else float("nan"),
    }


def compare(a: SystemName, b: SystemName, networks: dict, splits: dict[str, Reviews], settings: Settings) -> dict:
    """DSA and CKA of systems ``a`` and ``b`` (``networks``: model id -> loaded model; ``splits``: the split
    tables by name). Systems of two splits read their own split's reviews: DSA compares their dynamics, while
    CKA, which needs the same inputs, is NaN."""
    same_split = a.split == b.split
    states = []
    for system in (a, b):
        reviews = splits[system.split]
        specs = [a.model, b.model] if same_split else [system.model]
        rows = common_rows(reviews, specs, system.split, settings)
        states.append(trajectories(networks[system.model.id], system.system, reviews, rows, settings.steps))
    x, y = states
    if not same_split:  # the same number of trials for both
        n = min(len(x), len(y))
        x, y = x[:n], y[:n]
    return {
        "reviews": len(x),
        "dsa": dsa_distance(x, y, settings),
        "cka": linear_cka(x, y) if same_split else float("nan"),
    }


def untrained_distance(system: SystemName, network, untrained, splits: dict[str, Reviews], settings: Settings) -> float:
    """DSA between ``system`` of the trained ``network`` and of its ``untrained`` (initial) weights, over the same
    reviews of the system's split: the distance a trained network's dynamics have travelled, DSA's scale here."""
    reviews = splits[system.split]
    rows = common_rows(reviews, [system.model], system.split, settings)
    x, y = (trajectories(net, system.system, reviews, rows, settings.steps) for net in (network, untrained))
    return dsa_distance(x, y, settings)


def row(axis: str, a: SystemName, b: SystemName, measures: dict, geometries: dict) -> dict:
    """One row of the similarity table."""
    values = (axis_value(a, axis), axis_value(b, axis)) if axis in _AXES else ("", "")
    found = {"axis": axis, "a": a.name, "b": b.name, "value_a": values[0], "value_b": values[1], **measures}
    for key in PER_SYSTEM:
        found[f"{key}_a"], found[f"{key}_b"] = geometries[a.name][key], geometries[b.name][key]
    return found


def similarity_table(
    compared: list[tuple[str, SystemName, SystemName]],
    networks: dict,
    splits: dict[str, Reviews],
    tables: dict[str, tuple],
    settings: Settings,
    untrained: dict,
) -> pd.DataFrame:
    """One row per compared pair (``pairs``): axis, the two systems and their axis values, DSA, CKA, each one's
    DSA from its untrained network (``untrained``: model id -> the loaded initial weights) and each one's
    geometry. ``tables``: system name -> (fixed-point table, linearization table) paths."""
    geometries = {}
    for _, a, b in compared:
        for system in (a, b):
            if system.name not in geometries:
                network = networks[system.model.id]
                geometries[system.name] = {
                    "dsa_untrained": untrained_distance(system, network, untrained[system.model.id], splits, settings),
                    **geometry(*tables[system.name], network, system.system),
                }
    rows = []
    for axis, a, b in compared:
        log.info("similarity: %s against %s (%s)", a.name, b.name, axis)
        rows.append(row(axis, a, b, compare(a, b, networks, splits, settings), geometries))
    return pd.DataFrame(rows, columns=COLUMNS)


def per_system(rows: pd.DataFrame, *measures: str) -> pd.DataFrame:
    """Each system of the similarity table's ``rows`` once: ``system``, its ``axis_value`` and each of ``measures``."""
    sides = [
        pd.DataFrame(
            {
                "system": rows[side].to_numpy(),
                "axis_value": rows[f"value_{side}"].to_numpy(),
                **{measure: rows[f"{measure}_{side}"].to_numpy() for measure in measures},
            }
        )
        for side in ("a", "b")
    ]
    return pd.concat(sides, ignore_index=True).drop_duplicates("system").reset_index(drop=True)


def _spread(values: pd.Series) -> str:
    """``mean (sd s, n N)`` of the finite ``values``."""
    values = values[np.isfinite(values)]
    if values.empty:
        return "n/a"
    sd = f"sd {values.std():.2g}, " if len(values) > 1 else ""
    return f"{values.mean():.3g} ({sd}n {len(values)})"


def answers(table: pd.DataFrame) -> list[str]:
    """One sentence per axis of the similarity ``table``: DSA and CKA per pair of values, against the seed-to-seed
    distance where the table has it and the systems' distance from their untrained networks, and the unique fixed
    points and tau of the systems at each value."""
    seeds = table[table["axis"] == "seed"]
    baseline = f"; seed to seed: DSA {_spread(seeds['dsa'])}, CKA {_spread(seeds['cka'])}" if len(seeds) else ""
    sentences = []
    for axis in dict.fromkeys(table["axis"]):
        rows = table[table["axis"] == axis]
        scale = per_system(rows, "dsa_untrained")["dsa_untrained"]
        labels = rows["value_a"].astype(str) + " against " + rows["value_b"].astype(str)
        distances = "; ".join(
            f"{label}: DSA {_spread(group['dsa'])}, CKA {_spread(group['cka'])}"
            for label, group in rows.groupby(labels, sort=False)
        )
        systems = per_system(rows, "unique_fixed_points", "time_constant_median")
        geometry_text = "; ".join(
            f"{value}: {_spread(group['unique_fixed_points'])} unique fixed points, "
            f"tau {_spread(group['time_constant_median'])}"
            for value, group in systems.groupby(systems["axis_value"].astype(str), sort=True)
        )
        sentences.append(
            f"Along {axis}: {distances}{baseline if axis != 'seed' else ''}; each system from its untrained network: "
            f"DSA {_spread(scale)}. By value: {geometry_text}."
        )
    return sentences
