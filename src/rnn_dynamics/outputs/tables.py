"""The summary tables of a run (``results/{dataset}/tables/*.csv``), one row per model or system.

Each function is the work of the rule of the same name: ``accuracy_table`` (the
kept weights' loss and accuracy per split), ``explained_variance_table`` (the
variance on the top principal components of each layer's states),
``fixed_point_table`` (what the fixed-point search found and the slowest mode
there), ``comparison_table`` (the line-attractor measures beside the paper's
accuracies), ``combine_comparisons`` (those of every dataset run) and ``data_table`` (the
data card of the dataset, with the embeddings' coverage of its vocabulary). They read
what the stages below wrote; the tables' names, columns and rules are the
catalogue's (``catalogue.TABLES``), the HTML pages of the report ``report``'s.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from rnn_dynamics.dynamics import evidence, fixed_point_sets, linearization, manifold, spectra, words
from rnn_dynamics.dynamics.pca import read_pca
from rnn_dynamics.ground import grid, stages
from rnn_dynamics.ground.grid import ModelSpec, split_of_tag, untag
from rnn_dynamics.ground.storage import list_matrix
from rnn_dynamics.outputs.catalogue import TABLES

__all__ = [
    "PAPER_TEST_ACCURACY",
    "accuracy_table",
    "combine_comparisons",
    "comparison_table",
    "context_sentences",
    "context_table",
    "data_table",
    "evidence_sentences",
    "evidence_table",
    "explained_variance_table",
    "fixed_point_table",
    "SEED_SENTENCE_MEASURES",
    "paper_test_accuracy",
    "seed_sentences",
    "seeds_table",
    "set_measures",
    "per_system",
    "similarity_rows",
    "similarity_sentences",
    "tolerance_sentences",
    "tolerance_table",
    "trained_explained_variance",
]

log = logging.getLogger(__name__)


def _class_accuracy(names: list[str], by_class: list[float]) -> str:
    """Per-class accuracies as one cell: ``name: accuracy`` for each class in order, separated by ``; ``."""
    return "; ".join(f"{name}: {value:.4g}" for name, value in zip(names, by_class))


def accuracy_table(metrics: Sequence[dict]) -> pd.DataFrame:
    """One row per model: its id and sizes, the kept weights' loss and accuracy on each split, the chance flag
    and whether the validation split was large enough to judge it (empty where metrics.json does not say);
    where a model has more than two classes, every row also has the table's optional columns: the number of
    classes, the per-class test accuracy and the test split's majority-class rate (empty for binary models);
    a table of binary models alone has none of them."""
    rows = []
    for entry in metrics:
        spec = ModelSpec.parse(entry["model"])
        row = {**dataclasses.asdict(spec), **entry, "model": spec.id}
        if "classes" in entry:
            row["classes"] = len(entry["classes"])
            row["test_class_accuracy"] = _class_accuracy(entry["classes"], entry["test_class_accuracy"])
        rows.append(row)
        if entry.get("chance_judged") is False:
            log.warning("%s: too few validation reviews to judge whether it is at chance level", spec.id)
        if entry.get("at_chance"):
            log.warning("%s is at chance level (validation accuracy %.4f)", spec.id, entry["valid_accuracy"])
    multiclass = any("classes" in entry for entry in metrics)
    table = TABLES["accuracy"]
    return pd.DataFrame(rows, columns=table.names if multiclass else table.expected_columns([]))


def explained_variance_table(pca_paths: dict[str, str | Path], components=(1, 2, 3)) -> pd.DataFrame:
    """Per model, split, layer and weights: the variance explained by the first 1, 2 and 3 components.
    ``pca_paths`` is keyed by ``{model}{split_tag}`` (``pca/{model}{split_tag}.parquet``'s stem)."""
    rows = []
    for name, path in pca_paths.items():
        model_id, split = untag(name)
        for (weights, layer), pca in read_pca(path).items():
            row = {"model": model_id, "split": split, "layer": layer, "weights": weights}
            row.update({f"explained_{k}": pca.cumulative(k) for k in components})
            rows.append(row)
    return pd.DataFrame(rows).sort_values(["model", "split", "layer", "weights"], ignore_index=True)


def trained_explained_variance(pca_paths: dict[str, str | Path], k: int = 2) -> dict[tuple[str, int], float]:
    """Per (model, layer): the variance of the trained network's states of the test split on their top ``k``
    components."""
    table = explained_variance_table(pca_paths, (k,))
    trained = table[(table["weights"] == "trained") & (table["split"] == split_of_tag(""))]
    return {
        (model, int(layer)): float(value)
        for model, layer, value in zip(trained["model"], trained["layer"], trained[f"explained_{k}"])
    }


def fixed_point_table(paths: list[str | Path]) -> pd.DataFrame:
    """One row per (model, split, system) from its ``fixed_points/{model}{split_tag}/{system}.parquet`` and
    ``linearization/{model}{split_tag}/{system}.parquet``: counts of starts, converged starts, unique
    approximate fixed points (and exact roots, -1 where not sought), how far the fixed points
    spread against their starts (``spectra.extent``), the share of the fixed
    points' variance on their first principal component, and the median over fixed points
    of the largest |lambda| with its time constant; and the manifold's dimension and slow modes
    (``manifold.dimensions``)."""
    found: dict[tuple[str, str], dict[str, Path]] = {}
    for path in map(Path, paths):
        found.setdefault((path.parent.name, path.stem), {})[path.parent.parent.name] = path
    rows = []
    for (model_id, system), kinds in found.items():
        missing = {"fixed_points", "linearization"} - set(kinds)
        if missing:
            raise ValueError(f"{model_id} {system}: no {sorted(missing)} table among the inputs")
        table = fixed_point_sets.read_fixed_points(kinds["fixed_points"])
        points = list_matrix(fixed_point_sets.unique_fixed_points(table)["fixed_point"])
        modulus = linearization.read_modulus(kinds["linearization"])
        median, tau = linearization.largest_modulus(modulus)
        rows.append(
            {
                **dict(zip(("model", "split"), untag(model_id))),
                "system": system,
                **fixed_point_sets.counts(table),
                "extent": spectra.extent(points, list_matrix(table["start"])),
                "first_pc_share": spectra.first_pc_share(points),
                "median_largest_modulus": median,
                "time_constant": tau,
                **manifold.dimensions(points, modulus),
            }
        )
    return pd.DataFrame(rows, columns=TABLES["fixed_points"].names)


def set_measures(table, classes: int) -> dict:
    """What a gathered fixed-point ``table``'s unique points are (``manifold.set_measures``: how many, their extent
    against the starts, first-PC share, ``pcs_90``, participation ratio) and the word for them (``words.shape``)."""
    points = list_matrix(fixed_point_sets.unique_fixed_points(table)["fixed_point"])
    measures = manifold.set_measures(points, list_matrix(table["start"]))
    shape = words.shape(len(points), measures["extent"], measures["pcs_90"], measures["participation_ratio"], classes)
    return measures | {"shape": shape}


def sweep_rows(table, system, search: stages.SearchSettings, multiples, classes: int, device: str = "cpu"):
    """The tolerance table's measures of one gathered system at each multiple of its tolerance: the tolerance,
    whether it is the published one, the converged starts and ``set_measures`` (``fixed_points.tolerance_sweep``
    runs the search again from the same starts on ``system``). The search, and torch with it, is imported here:
    every other table only reads stored results and its job starts without torch."""
    from rnn_dynamics.dynamics import fixed_points

    return [
        {
            "multiple": multiple,
            "tolerance": tolerance,
            "published": multiple == 1.0,
            "converged": int(gathered["converged"].to_numpy().sum()),
            **set_measures(gathered, classes),
        }
        for multiple, tolerance, gathered in fixed_points.tolerance_sweep(table, multiples, system, search, device)
    ]


def tolerance_table(
    paths: list[str | Path],
    models: Mapping[str, str | Path],
    search: stages.SearchSettings,
    multiples,
    classes: Mapping[str, int],
    device: str = "cpu",
) -> pd.DataFrame:
    """One row per (model, split, system, multiple of the tolerance) from each gathered
    ``fixed_points/{model}{split_tag}/{system}.parquet``: the tolerance, whether it is the published one
    (multiple 1), the converged starts and ``set_measures`` of the set the search gives there, run again from
    the same starts on the model's system (``fixed_points.tolerance_sweep``; ``models``: each model id's
    ``model.pt``, ``search``: the shards' settings). ``classes``: each model id's classes (2 where absent)."""
    from rnn_dynamics.networks import model as model_lib

    multiples = [float(multiple) for multiple in multiples]
    if 1.0 not in multiples:
        raise ValueError(f"fixed_points.q_sweep {multiples} must hold 1, the published tolerance")
    rows, loaded = [], {}
    for path in map(Path, paths):
        model_id, split = untag(path.parent.name)
        if model_id not in loaded:
            loaded[model_id] = model_lib.load(models[model_id], map_location=device)
        system = loaded[model_id].system(path.stem)
        table = fixed_point_sets.read_fixed_points(path)
        identity = {"model": model_id, "split": split, "system": path.stem}
        swept = sweep_rows(table, system, search, multiples, classes.get(model_id, 2), device)
        rows += [identity | row for row in swept]
    return pd.DataFrame(rows, columns=TABLES["tolerance"].names)


def _set_phrase(row) -> str:
    """A set of the tolerance table in its word and the numbers that decide it."""
    if row["shape"] == words.NO_FIXED_POINT:
        if not row["converged"] > 0:  # NaN where the count is not known
            return f"{words.NO_FIXED_POINT}: no start's q fell below {row['tolerance']:.2g}"
        return (
            f"{words.NO_FIXED_POINT}: {int(row['converged'])} starts converged below q {row['tolerance']:.2g}, "
            "none of them inside the state space (each on its bound, outside it or an outlier)"
        )
    return (
        f"{words.with_article(row['shape'])} ({int(row['unique_fixed_points'])} unique points of "
        f"{int(row['converged'])} converged starts below q {row['tolerance']:.2g}; extent {row['extent']:.2g}, "
        f"pcs_90 {row['pcs_90']:.0f}, participation ratio {row['participation_ratio']:.3g})"
    )


def tolerance_sentences(table: pd.DataFrame) -> list[str]:
    """One sentence per system of the tolerance table: the published set in its word (``words.shape``), and
    the word at each looser tolerance of the sweep, or that it stays the same."""
    sentences = []
    for (model_id, split, system), rows in table.groupby(["model", "split", "system"], sort=False):
        rows = rows.sort_values("multiple")
        published = rows[rows["published"].astype(bool)].iloc[0]
        looser = rows[~rows["published"].astype(bool)]
        others = "; ".join(f"{row['multiple']:g}x: {_set_phrase(row)}" for _, row in looser.iterrows())
        same = (looser["shape"] == published["shape"]).all()
        verdict = "the same word at every tolerance of the sweep" if same else "the word depends on the tolerance"
        sentences.append(
            f"{model_id} ({split}) {system}: {_set_phrase(published)} at the published tolerance; {verdict}"
            + (f" ({others})." if others else ".")
        )
    return sentences


# The comparison table's columns that say which system a row is, or hold a constant of it: not measures.
_NOT_MEASURES = (
    "dataset", "model", "architecture", "layers", "system", "classes", "manifold_space", "paper_test_accuracy",
    "simplex_angle", "mean_review_length",
)  # fmt: skip
# The measures the seed sentences compare along an axis (every measure is in the seeds table).
SEED_SENTENCE_MEASURES = ("test_accuracy", "pc1_fraction", "participation_ratio", "pcs_90")


def seeds_table(comparison: pd.DataFrame) -> pd.DataFrame:
    """One row per (grid point, system, measure) of the comparison table: the measure over the grid point's
    seeds (``evidence.spread``: n, mean, sd, min, max, the interval and its method), the seeds and their
    values in seed order (which the seed sentences test)."""
    measures = [
        column
        for column in comparison.columns
        if column not in _NOT_MEASURES and pd.api.types.is_numeric_dtype(comparison[column])
    ]
    rows = []
    frame = comparison.assign(
        grid_point=[grid.grid_point(model) for model in comparison["model"]],
        seed=[ModelSpec.parse(model).seed for model in comparison["model"]],
    ).sort_values(["grid_point", "system", "seed"], kind="stable")
    for (grid_point, system), group in frame.groupby(["grid_point", "system"], sort=False):
        for measure in measures:
            values = group[measure].astype(float).tolist()
            kept = [(seed, value) for seed, value in zip(group["seed"], values) if math.isfinite(value)]
            rows.append(
                {
                    "grid_point": grid_point,
                    "system": system,
                    "measure": measure,
                    **evidence.spread([value for _, value in kept]),
                    "interval": evidence.INTERVAL,
                    "seeds": ";".join(str(seed) for seed, _ in kept),
                    "values": ";".join(f"{value:.6g}" for _, value in kept),
                }
            )
    return pd.DataFrame(rows, columns=TABLES["seeds"].names)


def _axis_pairs(grid_points) -> list[tuple[str, str, str]]:
    """Pairs of grid points that differ in one field of their ``ModelSpec``: (axis, a, b)."""
    specs = {point: dataclasses.asdict(ModelSpec.parse(f"{point}-s0")) for point in grid_points}
    pairs = []
    for a, b in ((a, b) for i, a in enumerate(specs) for b in list(specs)[i + 1 :]):
        differing = [key for key in specs[a] if specs[a][key] != specs[b][key]]
        # An imported network beside a trained one of the same sizes differs in more than a grid axis.
        if len(differing) == 1 and differing[0] != "imported":
            pairs.append((differing[0], a, b))
    return pairs


def seed_sentences(table: pd.DataFrame) -> list[str]:
    """Along each grid axis, the ``SEED_SENTENCE_MEASURES`` of two grid points that differ in that axis alone,
    with their n and sd, called different only where ``evidence.different`` (a permutation test over seeds)
    says so, its p beside it; where the seeds are too few for any p below ``evidence.SIGNIFICANCE``
    (``evidence.smallest_p``: three a side, or one), the sentence says so instead of "not different"."""
    sentences = []
    values = {
        (row.grid_point, row.system, row.measure): [
            float(v) for v in str(row.values).split(";") if v not in ("", "nan")
        ]
        for row in table.itertuples(index=False)
    }
    for axis, a, b in _axis_pairs(dict.fromkeys(table["grid_point"])):
        for system in dict.fromkeys(table.loc[table["grid_point"] == a, "system"]):
            for measure in SEED_SENTENCE_MEASURES:
                first, second = values.get((a, system, measure), []), values.get((b, system, measure), [])
                if not first or not second:
                    continue
                called, p = evidence.different(first, second)
                floor = evidence.smallest_p(len(first), len(second))
                if floor >= evidence.SIGNIFICANCE:
                    verdict = (
                        f"too few seeds to test (a permutation test over seeds cannot give a two-sided p below "
                        f"{floor:.2g} at these n, and a difference is called below {evidence.SIGNIFICANCE})"
                    )
                else:
                    verdict = (
                        f"{'different' if called else 'not different'} by a permutation test over seeds "
                        f"(two-sided p = {p:.2g}, called different below {evidence.SIGNIFICANCE})"
                    )
                sentences.append(
                    f"{axis}, {a} against {b} ({system}), {measure}: {np.mean(first):.4g} (n = {len(first)}, "
                    f"sd {np.std(first, ddof=1) if len(first) > 1 else float('nan'):.2g}) against "
                    f"{np.mean(second):.4g} (n = {len(second)}, sd "
                    f"{np.std(second, ddof=1) if len(second) > 1 else float('nan'):.2g}): {verdict}."
                )
    return sentences


def evidence_table(
    folders: list[str | Path], explained_variance: pd.DataFrame, similarity_table: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per (model, split, system, measure, null): each measure beside its null. From each analysis
    folder (``analyses/{model}/{system}``, the test split) its ``evidence.csv`` (``analyses.analyze``: the readout
    measures against random readouts and random subspaces, the accuracy and the visited states' dimension
    against shuffled words, the fixed-point set against the untrained network's); from the explained-variance
    table the states' variance on their top 1, 2 and 3 PCs against the same network at its initial weights (one
    untrained network: ``null_n`` 1); from the similarity table (where the run compares systems)
    ``similarity_rows``."""
    rows = []
    for folder in map(Path, folders):
        model_id, system = folder.parent.name, folder.name
        path = folder / "evidence.csv"
        found = pd.read_csv(path) if path.stat().st_size else pd.DataFrame(columns=evidence.COLUMNS)
        if list(found.columns) != evidence.COLUMNS:
            raise ValueError(f"{path}: columns {list(found.columns)}, not {evidence.COLUMNS}")
        split = split_of_tag("")
        rows += [{"model": model_id, "split": split, "system": system, **row} for row in found.to_dict("records")]
    keys = ["model", "split", "layer"]
    trained = explained_variance[explained_variance["weights"] == "trained"].set_index(keys)
    untrained = explained_variance[explained_variance["weights"] == "untrained"].set_index(keys)
    for key in trained.index.intersection(untrained.index):
        for k in (1, 2, 3):
            value, null = trained.loc[key, f"explained_{k}"], untrained.loc[key, f"explained_{k}"]
            row = evidence.row(f"states_explained_{k}", value, "untrained", [null], "larger")
            rows.append({"model": key[0], "split": key[1], "system": f"layer{key[2]}", **row})
    if similarity_table is not None:
        rows += similarity_rows(similarity_table)
    table = pd.DataFrame(rows, columns=TABLES["evidence"].names)
    return table.sort_values(["model", "split", "system", "measure"], kind="stable", ignore_index=True)


def _pair_names(a: stages.SystemName, b: stages.SystemName) -> dict:
    """A pair's model, split and system columns: each one's where they agree, ``a ~ b`` where they differ."""
    sides = {"model": (a.model.id, b.model.id), "split": (a.split, b.split), "system": (a.system, b.system)}
    return {key: first if first == second else f"{first} ~ {second}" for key, (first, second) in sides.items()}


def similarity_rows(table: pd.DataFrame) -> list[dict]:
    """The evidence rows of the similarity table. Per pair: its DSA against both systems' noise floors (each
    against itself over other reviews of its split, ``other_reviews``: larger means two systems whose dynamics
    differ beyond what another draw of reviews moves one), its DSA against both systems' distances from their
    untrained networks (``untrained``: smaller means closer to each other than training moved either) and its
    CKA against both systems' CKA with their untrained networks (larger). Per system, once: its DSA from its
    untrained network against its noise floor (``dsa_from_untrained``, larger: training moved its dynamics
    beyond the floor). CKA has no other-reviews null: it compares states at the same inputs."""
    rows, seen = [], set()
    for pair in table.to_dict("records"):
        a, b = stages.SystemName.parse(pair["a"]), stages.SystemName.parse(pair["b"])
        names = _pair_names(a, b)
        for measure, null, columns, side in (
            ("dsa", "other_reviews", "dsa_floor", "larger"),
            ("dsa", "untrained", "dsa_untrained", "smaller"),
            ("cka", "untrained", "cka_untrained", "larger"),
        ):
            samples = [pair[f"{columns}_a"], pair[f"{columns}_b"]]
            rows.append(names | evidence.row(measure, pair[measure], null, samples, side))
        for side, system in (("a", a), ("b", b)):
            if system.name not in seen:
                seen.add(system.name)
                found = evidence.row(
                    "dsa_from_untrained", pair[f"dsa_untrained_{side}"], "other_reviews", [pair[f"dsa_floor_{side}"]],
                    "larger",
                )  # fmt: skip
                rows.append({"model": system.model.id, "split": system.split, "system": system.system} | found)
    return rows


def evidence_sentences(table: pd.DataFrame) -> list[str]:
    """One sentence per row of the evidence table: the value, its null's median and 5th-95th percentiles
    with their n, and ``beyond its null`` or ``within its null`` (``words.null_word``); a row without its value,
    null or verdict is ``not measured``."""
    sentences = []
    for row in table.itertuples(index=False):
        if pd.isna(row.value) or pd.isna(row.null_n) or pd.isna(row.null_median) or pd.isna(row.beyond_null):
            sentences.append(f"{row.model} ({row.split}) {row.system}, {row.measure}: not measured.")
            continue
        single = "one network" if row.null == "untrained" else "one value"
        interval = f"{row.null_low:.3g}-{row.null_high:.3g}" if int(row.null_n) > 1 else single
        sentences.append(
            f"{row.model} ({row.split}) {row.system}, {row.measure} {row.value:.4g}: "
            f"{words.null_word(bool(row.beyond_null))} ({row.null}: median {row.null_median:.4g}, "
            f"{interval}, n = {int(row.null_n)})."
        )
    return sentences


# Test accuracies the paper reports (Maheswaranathan et al. 2019, one-layer networks), by
# dataset kind and architecture. Its other claims (e.g. top 2-3 PCs explaining ~90% of the
# states' variance) are qualitative and have no column here.
PAPER_TEST_ACCURACY = {
    "aclimdb": {"gru": 0.8686, "lstm": 0.8693, "ugrnn": 0.8796, "vanilla": 0.8708},
    "sst2": {"gru": 0.8025, "lstm": 0.8009, "ugrnn": 0.7774, "vanilla": 0.7809},
}


def paper_test_accuracy(kind: str | None, architecture: str, layers: int) -> float:
    """The paper's test accuracy of a one-layer ``architecture`` on a dataset of ``kind`` (NaN where it gives none)."""
    if layers != 1:
        return float("nan")
    return PAPER_TEST_ACCURACY.get(kind or "", {}).get(architecture, float("nan"))


def comparison_table(
    summaries: list[dict],
    metrics: list[dict],
    explained_variance: dict[tuple[str, int], float] | None = None,
    dataset: str = "",
    kind: str | None = None,
) -> pd.DataFrame:
    """One row per (model, system) of ``dataset``: its test accuracy and the line-attractor measures.

    ``explained_variance[(model, layer)]``: the fraction of the trained layer's state
    variance on its top 2 principal components (``states.PCA.cumulative(2)``); a stack
    has none. ``kind`` (the dataset's kind) selects the paper's accuracies.
    """
    accuracy = {entry["model"]: entry["test_accuracy"] for entry in metrics}
    explained_variance = explained_variance or {}
    rows = []
    for summary in summaries:
        spec = ModelSpec.parse(summary["model"])
        layer = int(summary["system"].removeprefix("layer")) if summary["system"].startswith("layer") else None
        rows.append(
            {
                **summary,
                "dataset": dataset,
                "layers": spec.layers,
                "test_accuracy": accuracy.get(summary["model"], float("nan")),
                "paper_test_accuracy": paper_test_accuracy(kind, spec.architecture, spec.layers),
                "explained_variance_2": explained_variance.get((summary["model"], layer), float("nan")),
            }
        )
    return pd.DataFrame(rows, columns=TABLES["comparison"].names)


def combine_comparisons(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """The comparison tables of several datasets as one, ordered by architecture, dataset, model and system."""
    tables = [table for table in tables if len(table)]
    if not tables:
        return pd.DataFrame(columns=TABLES["comparison"].names)
    combined = pd.concat(tables, ignore_index=True)[TABLES["comparison"].names]
    return combined.sort_values(["architecture", "dataset", "model", "system"], kind="stable", ignore_index=True)


def data_table(card: dict, coverages: Sequence[dict] = ()) -> pd.DataFrame:
    """The data card (``card.json``, ``datasets.data_card``) as one row per number, with the embeddings'
    coverage of the vocabulary (``embeddings.coverage``, one per embedding the models read).

    Sections: ``splits`` (name: the split; measures ``rows``, ``label <class>``, ``length_median``,
    ``length_p95``, ``length_max``, ``unknown_share``), ``vocabulary`` (``size``, ``training_tokens``,
    ``unknown_training_share``), ``embedding`` (name ``{source}-{dim}``; ``entries``, ``entries_share``,
    ``tokens_share``; none for random vectors), ``artefacts`` (name: the detector; ``texts``, ``rule``, the
    cleaning rule that removes them, and ``examples``, ``id: match`` separated by `` | ``) and ``cleaning``
    (``rules`` the texts went through, ``key``: the config key that chooses them, empty where the reader does)."""
    rows = []
    order = {split: place for place, split in enumerate(("train", "valid", "test"))}
    for split, entry in sorted(card["splits"].items(), key=lambda item: order.get(item[0], len(order))):
        rows.append(("splits", split, "rows", entry["rows"]))
        rows += [("splits", split, f"label {name}", count) for name, count in entry["labels"].items()]
        rows += [
            ("splits", split, measure, entry[measure])
            for measure in ("length_median", "length_p95", "length_max", "unknown_share")
        ]
    rows += [("vocabulary", "vocabulary", measure, value) for measure, value in card["vocabulary"].items()]
    for entry in coverages:
        if entry["entries_share"] is None:
            continue
        rows += [
            ("embedding", f"{entry['source']}-{entry['dim']}", measure, entry[measure])
            for measure in ("entries", "entries_share", "tokens_share")
        ]
    for detector, entry in card["artefacts"].items():
        examples = " | ".join(f"{example['id']}: {example['match']}" for example in entry["examples"])
        rows += [
            ("artefacts", detector, "texts", entry["texts"]),
            ("artefacts", detector, "rule", entry["rule"] or ""),
            ("artefacts", detector, "examples", examples),
        ]
    rows.append(("cleaning", "cleaning", "rules", ", ".join(card["cleaning"]["rules"])))
    rows.append(("cleaning", "cleaning", "key", card["cleaning"]["key"] or ""))
    return pd.DataFrame(rows, columns=TABLES["data"].names)


def context_table(name: str, folders: Sequence[str | Path]) -> pd.DataFrame:
    """The context stage's table ``name`` (context, context_ablation, context_bow) of every probed system: the
    per-system CSVs (``context.write``) one after another; the bag of words once per model."""
    file = {"context": "context.csv", "context_ablation": "ablation.csv", "context_bow": "bow.csv"}[name]
    parts = [pd.read_csv(Path(folder) / file) for folder in folders]
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=TABLES[name].names)
    if name == "context_bow":
        table = table.drop_duplicates(subset=["model", "split"], ignore_index=True)
    return table[TABLES[name].names]


# The words of a modifier's settled gain against the null words' (median and quartiles over rows: targets,
# bases and models): beyond the null's interquartile range, below 0 "flips", above 1 "scales up", between
# them "scales down"; otherwise "within its null".
def context_sentences(table: pd.DataFrame, modifiers: list[str], null_words: list[str]) -> list[str]:
    """One sentence per modifier and probed system of a ``context.csv`` table: its settled gain (median,
    quartiles, n rows of targets x bases x the grid point's seeds) against the same system's null words', the
    word for it, and where the first-order prediction at h_mod and at the nearest fixed point has the wrong
    sign; a sentence naming the modifiers with no row (missing from the vocabulary, or no system probed). The
    seeds of one grid point are pooled (``grid.grid_point``), other grid points never: two architectures may
    treat a word in opposite ways. Where the table holds several grid points, each sentence names its own."""

    def spread(values):
        values = values[np.isfinite(values)]
        if not len(values):
            return float("nan"), float("nan"), float("nan"), 0
        q25, median, q75 = np.quantile(values, [0.25, 0.5, 0.75])
        return median, q25, q75, len(values)

    keys = ["grid_point", "split", "system"]
    table = table.assign(grid_point=[grid.grid_point(model) for model in table["model"]])
    groups = list(table.groupby(keys, sort=False)) if len(table) else []
    sentences = []
    for key, rows_of_system in groups:
        prefix = f"{key[0]} ({key[1]}) {key[2]}, " if len(groups) > 1 else ""
        seeds = rows_of_system["model"].nunique()
        null = rows_of_system[rows_of_system["modifier"].isin(null_words) & ~rows_of_system["modifier"].isin(modifiers)]
        n_median, n_q25, n_q75, n_count = spread(null["settled_gain"].to_numpy())
        for modifier in [word for word in modifiers if word in set(rows_of_system["modifier"])]:
            rows = rows_of_system[rows_of_system["modifier"] == modifier]
            median, q25, q75, count = spread(rows["settled_gain"].to_numpy())
            beyond = n_count and (q75 < n_q25 or q25 > n_q75)
            word = words.gain_word(median, bool(beyond))
            wrong = (np.sign(rows["linearized_after"]) != np.sign(rows["effect_after"])).sum()
            wrong_fixed = (np.sign(rows["linearized_at_fixed_point"]) != np.sign(rows["effect_after"])).sum()
            sentences.append(
                f'{prefix}"{modifier}" {word}: settled gain {median:.3g} (quartiles {q25:.3g} to {q75:.3g}, '
                f"n = {count} of {seeds} seed{'s' if seeds > 1 else ''}) against the null words' {n_median:.3g} "
                f"({n_q25:.3g} to {n_q75:.3g}, n = {n_count}); "
                f"one step after it, gain {np.nanmedian(rows['gain']):.3g}. The first-order prediction has the "
                f"wrong sign in {wrong} of {len(rows)} rows with the input Jacobian at h_mod and in {wrong_fixed} "
                f"at the nearest fixed point."
            )
    missing = [word for word in modifiers if word not in set(table["modifier"])]
    if missing:
        sentences.append(f"Not probed (not in the vocabulary, or no system probed): {', '.join(missing)}.")
    return sentences


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


def _mean_spread(values: pd.Series) -> str:
    """``mean (sd s, n N)`` of the finite ``values``."""
    values = values[np.isfinite(values)]
    if values.empty:
        return "n/a"
    sd = f"sd {values.std():.2g}, " if len(values) > 1 else ""
    return f"{values.mean():.3g} ({sd}n {len(values)})"


def similarity_sentences(table: pd.DataFrame) -> list[str]:
    """One sentence per axis of the similarity ``table``: DSA and CKA per pair of values, against the seed-to-seed
    distance where the table has it, the systems' distance from their untrained networks and their noise floor
    (each against itself over other reviews), and the unique fixed points and tau of the systems at each value."""
    seeds = table[table["axis"] == "seed"]
    baseline = (
        f"; seed to seed: DSA {_mean_spread(seeds['dsa'])}, CKA {_mean_spread(seeds['cka'])}" if len(seeds) else ""
    )
    sentences = []
    for axis in dict.fromkeys(table["axis"]):
        rows = table[table["axis"] == axis]
        scales = per_system(rows, "dsa_untrained", "dsa_floor")
        labels = rows["value_a"].astype(str) + " against " + rows["value_b"].astype(str)
        distances = "; ".join(
            f"{label}: DSA {_mean_spread(group['dsa'])}, CKA {_mean_spread(group['cka'])}"
            for label, group in rows.groupby(labels, sort=False)
        )
        systems = per_system(rows, "unique_fixed_points", "time_constant_median")
        geometry_text = "; ".join(
            f"{value}: {_mean_spread(group['unique_fixed_points'])} unique fixed points, "
            f"tau {_mean_spread(group['time_constant_median'])}"
            for value, group in systems.groupby(systems["axis_value"].astype(str), sort=True)
        )
        sentences.append(
            f"Along {axis}: {distances}{baseline if axis != 'seed' else ''}; each system from its untrained network: "
            f"DSA {_mean_spread(scales['dsa_untrained'])}; each against itself over other reviews (the floor): "
            f"DSA {_mean_spread(scales['dsa_floor'])}. By value: {geometry_text}."
        )
    return sentences
