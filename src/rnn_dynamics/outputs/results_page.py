"""A run's generated results page, ``results/{dataset}/RESULTS.md``, and its publication under ``docs/results/``.

The page holds the run's summary tables and figures under a provenance block (commit,
configuration and its hash, date, machine, library versions, wall time per stage), so
that every published number is traced to what produced it. ``publish`` copies a page
and the figures it shows into a folder, adding only a short introduction.
"""

from __future__ import annotations

import argparse
import datetime
import math
import re
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
import yaml

from rnn_dynamics.dynamics import similarity
from rnn_dynamics.ground import provenance
from rnn_dynamics.ground.storage import atomic_path
from rnn_dynamics.outputs import timeline

__all__ = [
    "DATA_MEASURES",
    "FIGURES",
    "GENERATED",
    "MEANINGS",
    "SYSTEM_FIGURES",
    "TABLES",
    "format_value",
    "markdown_table",
    "page",
    "publish",
    "published_intro",
    "write",
]

# The summary tables on the page, in order, with their headings.
TABLES = {
    "accuracy": "Accuracy",
    "explained_variance": "Explained variance of the hidden states",
    "fixed_points": "Fixed points",
    "comparison": "The paper's measures, per system",
}

# The fixed-point manifold's columns, in the fixed-point and the comparison tables.
_DIMENSION_MEANINGS = {
    "pcs_90": "principal components reaching 90% of the fixed points' variance (N classes: N - 1 expected)",
    "pcs_95": "principal components reaching 95% of it",
    "participation_ratio": "(sum l)^2 / sum l^2 of the fixed points' covariance eigenvalues (~1: a line)",
    "levina_bickel_dimension": "Levina-Bickel maximum-likelihood dimension of the fixed points (20 neighbours)",
    "slow_modes_0.9_median": "median over fixed points of the eigenvalues with |lambda| > 0.9",
    "slow_modes_0.99_median": "median over fixed points of the eigenvalues with |lambda| > 0.99",
}

# What each column of each table means, one line each (a test holds this to the tables' columns).
MEANINGS = {
    "accuracy": {
        "model": "model id: architecture, layers (L), embedding (E), hidden units (H), seed (s)",
        "architecture": "recurrent cell: gru, lstm, ugrnn or vanilla",
        "layers": "stacked recurrent layers",
        "embedding": "embedding size",
        "hidden": "hidden units per layer",
        "seed": "the seed of the initial weights, the batch order and the training subsample",
        "batch_size": "reviews per training batch (models.batch_size; in the id as -B where not the default)",
        "train_fraction": "share of the training split trained on (models.train_fraction; in the id as -F where not 1)",
        "train_loss": "cross-entropy of the kept weights on the training split",
        "train_accuracy": "accuracy on the training split",
        "valid_loss": "cross-entropy on the validation split (the kept epoch has the lowest)",
        "valid_accuracy": "accuracy on the validation split",
        "test_loss": "cross-entropy on the test split",
        "test_accuracy": "accuracy on the test split",
        "valid_chance_accuracy": "validation accuracy of always answering the majority label",
        "at_chance": "validation accuracy within two standard errors of valid_chance_accuracy",
        "chance_judged": "whether the validation split is large enough for a perfect accuracy to clear that margin",
        "classes": "number of classes, for a model of more than two (absent or empty: two, one logit)",
        "test_class_accuracy": "test accuracy on the reviews of each class, 'class: accuracy' in class order",
        "test_chance_accuracy": "test accuracy of always answering the test split's majority class",
    },
    "explained_variance": {
        "model": "model id",
        "split": "the split whose states these are (states.splits; train: the reviews the model was trained on)",
        "layer": "layer whose states were analysed (1 is the lowest)",
        "weights": "trained, or the untrained initial weights on the same reviews",
        "explained_1": "fraction of the states' variance on their first principal component",
        "explained_2": "fraction on the first two principal components",
        "explained_3": "fraction on the first three principal components",
    },
    "fixed_points": {
        "model": "model id",
        "split": "the split whose states the search started from (states.splits)",
        "system": "layerN (one layer, the others' input at zero) or stack (all layers as one system)",
        "starts": "visited states the search started from",
        "converged": "starts that reached q < fixed_points.q_tol: approximate fixed points",
        "converged_1e-8": "starts that reached q < 1e-8 (the paper's stricter rule)",
        "slow_points": "starts that settled at a minimum of q above q_tol",
        "slow_point_median_q": "median q of the slow points",
        "slow_point_time_constant": "time constant (tokens) of the slow points' median largest |lambda|",
        "outside_state_space": "converged points outside the states the network can reach",
        "at_bound": "converged starts that stopped on the state bound |h| <= 1",
        "unique_fixed_points": "converged points left after merging those closer than unique_tol",
        "extent": "rms spread of the fixed points over that of their starts (~0: one point, ~1: a line)",
        "first_pc_share": "fraction of the unique fixed points' variance on their first principal component",
        "median_largest_modulus": "median over fixed points of the largest |lambda| of the recurrent Jacobian",
        "time_constant": "tau = |1/ln|lambda|| of that median, in tokens",
        "exact_roots": "exact roots (q < 1e-12) after polishing; -1: not sought",
        **_DIMENSION_MEANINGS,
    },
    "comparison": {
        "dataset": "dataset name in the config",
        "model": "model id",
        "architecture": "recurrent cell",
        "layers": "stacked recurrent layers",
        "system": "the system analysed (layerN or stack)",
        "test_accuracy": "accuracy on the test split",
        "paper_test_accuracy": "the paper's test accuracy for a one-layer network of this cell and dataset",
        "explained_variance_2": "fraction of the states' variance on their top two principal components",
        "fixed_points": "unique approximate fixed points",
        "pc1_fraction": "fraction of the fixed points' variance on their first principal component",
        "top_modulus_median": "median over fixed points of the largest |lambda|",
        "time_constant_median": "median time constant of the slowest mode, in tokens",
        "mean_review_length": "mean test review length in tokens (compare with the time constant)",
        "alignment_median": "median |cos| between the readout and the top right eigenvector",
        "null_alignment_median": "the same for random unit vectors (the null)",
        "valence_correlation": "r between words' valence on the slow mode and a bag-of-words model's weights",
        "one_step_error_median": "median relative error of the linearised step against the network's",
        "network_accuracy": "the network's accuracy on the analysed test reviews",
        "linearized_accuracy": "accuracy of the linearised system around the nearest fixed point",
        "classes": "number of classes",
        **_DIMENSION_MEANINGS,
        "local_participation_ratio": "median participation ratio of the 50 N nearest fixed points of 20 random ones",
        "readout_angle_median": "median angle (degrees) between two classes' centred readout vectors",
        "simplex_angle": "the angle of a regular simplex of N vertices, arccos(-1/(N-1)) (180 for two classes)",
        "readout_in_manifold_share": "share of the centred readout's squared norm in the fixed points' top N-1 PCs",
        "null_readout_in_manifold_95": "95th percentile of that share in random subspaces of N-1 dimensions",
        "readout_in_slow_modes_median": "median over fixed points of the readout's share in the slow modes' span",
        "projected_accuracy_n_minus_1": "readout accuracy on final states projected on their top N-1 PCs",
        "shuffled_accuracy": "the network's accuracy on the analysed reviews with each review's words shuffled",
    },
}

# The similarity table's columns (``similarity.similarity_table``), shown where the run compares systems.
_GEOMETRY_MEANINGS = {
    "unique_fixed_points": "unique approximate fixed points",
    "manifold_dimension": "participation ratio of the fixed points' PCA variances (1: a line)",
    "top_modulus_median": "median over fixed points of the largest |lambda|",
    "top_modulus_iqr": "its interquartile range",
    "time_constant_median": "median tau of the slowest mode, in tokens",
    "time_constant_iqr": "its interquartile range",
    "alignment_median": "median |cos| between the readout and the top right eigenvector (top layer only)",
}
MEANINGS["similarity"] = {
    "axis": "the grid axis the two systems differ in (pair: named in similarity.pairs)",
    "a": "the first system, {model}{split_tag}/{system}",
    "b": "the second system",
    "value_a": "the axis value of the first system",
    "value_b": "the axis value of the second",
    "reviews": "reviews whose first similarity.steps states both systems were compared on",
    "dsa": "DSA distance (dsa-metric; 0: the same dynamics up to a change of basis)",
    "cka": "linear CKA of their states at the same reviews and tokens (1: the same up to rotation; NaN across splits)",
    **{
        f"dsa_untrained_{side}": f"DSA from the same system of its untrained (initial) network, same reviews ({side})"
        for side in ("a", "b")
    },
    **{f"{key}_{side}": f"{text} ({side})" for key, text in _GEOMETRY_MEANINGS.items() for side in ("a", "b")},
}

# The data card's table (``tables.data_table``), shown in the page's Data section.
MEANINGS["data"] = {
    "section": "splits, vocabulary, embedding (its coverage of the vocabulary), artefacts or cleaning",
    "name": "the split, the embedding ({source}-{dim}) or the artefact's detector",
    "measure": "what the value is (the measures under the Data section)",
    "value": "the number, or the rule, the examples or the rules",
}
# What each measure of the data table means.
DATA_MEASURES = {
    "rows": "reviews in the split",
    "label <class>": "reviews of the class",
    "length_median": "median review length in tokens (after prepare.max_length)",
    "length_p95": "95th percentile of the lengths",
    "length_max": "the longest review",
    "unknown_share": "share of the split's tokens outside the vocabulary (<unk>)",
    "size": "vocabulary entries, <pad> and <unk> included",
    "training_tokens": "tokens of the train split",
    "unknown_training_share": "share of them outside the vocabulary (prepare.max_vocab, min_count)",
    "entries_share": "share of the vocabulary's entries the embedding has a vector for",
    "tokens_share": "share of the training tokens those entries account for",
    "texts": "texts (train and test, as read) the detector finds something in",
    "rule": "the cleaning rule that removes it (docs/data.md); empty: none does",
    "examples": "up to five: review id and what was found",
}

# Figures of each model, drawn on the page in this order.
FIGURES = {
    "explained_variance": "explained variance of each layer's states, trained and untrained",
    "pca_trajectories": "states on PC1-PC2 by label, with the example reviews' paths",
    "fixed_points": "approximate fixed points on the states' PC1-PC2 (the paper's Fig. 2)",
    "eigenvalues": "eigenvalues of the recurrent Jacobian at points along the line (the paper's Fig. 3)",
    "line": "the largest |lambda| and its time constant along the line",
}
# A system's figure the page shows too, after its model's.
SYSTEM_FIGURES = {
    "manifold": "the fixed points and final states on the fixed points' top 3 PCs by the readout's class, and the "
    "slow modes along them (Aitken et al. 2021)",
}


def format_value(value) -> str:
    """A table cell as text: integers as they are, other numbers to 4 significant digits, NaN as n/a."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) < 1e15):
        return str(int(value))
    if isinstance(value, float):
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:.4g}"
    return str(value).replace("|", "\\|")


def markdown_table(table: pd.DataFrame) -> str:
    """``table`` as a Markdown table, its cells formatted by ``format_value``."""
    lines = ["| " + " | ".join(map(str, table.columns)) + " |", "|" + " --- |" * len(table.columns)]
    for row in table.itertuples(index=False):
        lines.append("| " + " | ".join(format_value(_python(value)) for value in row) + " |")
    return "\n".join(lines)


def _python(value):
    return value.item() if hasattr(value, "item") else value


def _meanings(name: str, columns: Sequence[str]) -> str:
    known = MEANINGS.get(name, {})
    return "\n".join(f"- `{column}`: {known.get(column, '(not described)')}" for column in columns)


def _provenance(config: Mapping, metrics: Sequence[dict], stages: pd.DataFrame, wall_s: float) -> str:
    code = provenance.code_version()
    system = provenance.machine()
    commit = code["commit"] or "unknown (not a git checkout)"
    dirty = {True: "yes: uncommitted changes to tracked files", False: "no", None: "unknown"}[code["dirty"]]
    trained = sorted(
        {
            f"{(entry.get('code') or {}).get('commit') or 'not recorded'} on {entry.get('device', 'unknown')}"
            for entry in metrics
        }
    )
    rows = [
        ("commit", f"`{commit}`"),
        ("uncommitted changes", dirty),
        ("models trained at (commit on device)", "; ".join(trained) or "n/a"),
        ("configuration hash", f"`{provenance.config_hash(dict(config))}` (the configuration below)"),
        ("generated", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
        (
            "machine",
            system["cpu"] + (f"; GPU {system['gpu']}, driver {system['driver']}" if system["gpu"] else "; no GPU"),
        ),
        ("torch, Python", f"{system['torch']}, {system['python']} ({system['platform']})"),
        ("wall time", f"{wall_s:.0f} s from the first job's start to the last one's end (timeline.csv)"),
    ]
    lines = ["| | |", "| --- | --- |"] + [f"| {key} | {value} |" for key, value in rows]
    lines += ["", "Wall time per stage (`timeline.csv`: seconds summed over a rule's jobs, and the longest job):", ""]
    shown = stages[["rule", "jobs", "sum_s", "max_s", "max_rss"]].rename(columns={"max_rss": "max_rss (MB)"})
    lines.append(markdown_table(shown) if len(stages) else "(no jobs)")
    lines += [
        "",
        "<details><summary>Configuration as resolved</summary>",
        "",
        "```yaml",
        yaml.safe_dump(dict(config), sort_keys=False, allow_unicode=True).rstrip(),
        "```",
        "",
        "</details>",
    ]
    return "\n".join(lines)


def _data_section(table: pd.DataFrame, figure: str | None) -> list[str]:
    """The page's Data section: the data table (``tables.data_table``) as the splits per measure, the
    vocabulary and the embeddings' coverage, the artefacts per detector and the cleaning, with the length
    histogram ``figure`` (a path relative to the page)."""
    parts = ["", "## Data", "", "`tables/data.csv` (the data card, `data/card.json`):", ""]
    splits = table[table["section"] == "splits"]
    if len(splits):
        wide = splits.pivot(index="name", columns="measure", values="value")
        wide = wide.loc[list(dict.fromkeys(splits["name"])), list(dict.fromkeys(splits["measure"]))]
        parts += [markdown_table(wide.reset_index().rename(columns={"name": "split"}).map(_number)), ""]
    for section in ("vocabulary", "embedding"):
        for name, rows in table[table["section"] == section].groupby("name", sort=False):
            values = ", ".join(f"{m} {format_value(_number(v))}" for m, v in zip(rows["measure"], rows["value"]))
            parts.append(f"- {name}: {values}")
    artefacts = table[table["section"] == "artefacts"]
    if len(artefacts):
        wide = artefacts.pivot(index="name", columns="measure", values="value").fillna("")
        wide = wide.loc[list(dict.fromkeys(artefacts["name"])), ["texts", "rule", "examples"]]
        parts += ["", markdown_table(wide.reset_index().rename(columns={"name": "detector"}).map(_number))]
    cleaning = dict(zip(*table[table["section"] == "cleaning"][["measure", "value"]].fillna("").values.T))
    if cleaning:
        rules = cleaning.get("rules") or "none"
        chosen = f"the dataset's `{cleaning['key']}` key" if cleaning.get("key") else "the reader"
        parts += ["", f"Cleaning rules the texts went through: {rules} (chosen by {chosen}; docs/data.md)."]
    if figure:
        parts += ["", f"![review length in tokens, per split]({figure})"]
    parts += ["", "Measures:", "", *(f"- `{m}`: {meaning}" for m, meaning in DATA_MEASURES.items())]
    return parts


def _number(value):
    """A value of the data table, whose column holds text and numbers alike, as a number where it is one."""
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                return value
    return value


def page(
    dataset: str,
    tables: Mapping[str, pd.DataFrame],
    timeline_table: pd.DataFrame,
    metrics: Sequence[dict],
    figures: Mapping[str, Sequence[str]],
    config: Mapping,
    similarity_table: pd.DataFrame | None = None,
    data_table: pd.DataFrame | None = None,
    data_figure: str | None = None,
) -> str:
    """The Markdown of a run's results page.

    Args:
        dataset: the dataset's name.
        tables: the summary tables by name (keys of ``TABLES``).
        timeline_table: the run's ``timeline.csv``.
        metrics: every model's ``metrics.json`` (for the commit and device that trained it).
        figures: per model id, figure paths relative to the page.
        config: the configuration as resolved.
        similarity_table: the run's ``similarity.csv``, where it compares systems: its answers
            (``similarity.answers``) and the table.
        data_table: the dataset's ``data.csv`` (its data card), shown in the Data section.
        data_figure: the length histogram's path relative to the page, shown there.
    """
    stages = timeline.per_rule(timeline_table) if len(timeline_table) else pd.DataFrame()
    wall_s = float(timeline_table["end_s"].max()) if len(timeline_table) else 0.0
    parts = [
        f"# Results: {dataset}",
        "",
        f"{GENERATED}; every number below is read from the run's tables (`results/{dataset}/tables/`).",
        "",
        "## Provenance",
        "",
        _provenance(config, metrics, stages, wall_s),
    ]
    if data_table is not None:
        parts += _data_section(data_table, data_figure)
    for name, heading in TABLES.items():
        table = tables[name]
        parts += ["", f"## {heading}", "", f"`tables/{name}.csv`:", "", markdown_table(table), ""]
        parts += ["Columns:", "", _meanings(name, list(table.columns))]
    if similarity_table is not None:
        parts += ["", "## Similarity of dynamics", ""]
        parts += [f"- {sentence}" for sentence in similarity.answers(similarity_table)]
        parts += ["", "`tables/similarity.csv`:", "", markdown_table(similarity_table), ""]
        parts += ["Columns:", "", _meanings("similarity", list(similarity_table.columns))]
    parts += ["", "## Figures"]
    for model_id, paths in figures.items():
        parts += ["", f"### {model_id}", ""]
        for path in paths:
            name = Path(path).stem
            shown = FIGURES.get(name) or f"{Path(path).parent.name}: {SYSTEM_FIGURES.get(name, name)}"
            parts += [f"![{model_id}: {shown}]({path})", ""]
    return "\n".join(parts).rstrip() + "\n"


def write(text: str, path: str | Path) -> None:
    """Write the page atomically."""
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)


GENERATED = "Generated by the pipeline's `results_page` rule"
_IMAGE = re.compile(r"!\[[^\]]*\]\(([^)]+)\)")


def published_intro(path: str | Path) -> str:
    """The introduction of a published page: the text between its title and the generated part."""
    text = Path(path).read_text()
    _, _, rest = text.partition("\n")
    return rest.split(GENERATED, 1)[0].strip() if GENERATED in rest else ""


def publish(page_path: str | Path, destination: str | Path, intro: str = "") -> Path:
    """Copy a results page and every image it shows into ``destination``, with ``intro`` above it.

    The page's text is not changed otherwise, so a published page says what the run said. With no
    ``intro``, a page published there before keeps its introduction. Returns the path of the copied
    page (``destination/RESULTS.md``).
    """
    page_path, destination = Path(page_path), Path(destination)
    text = page_path.read_text()
    if not intro.strip() and (destination / "RESULTS.md").exists():
        intro = published_intro(destination / "RESULTS.md")
    for link in _IMAGE.findall(text):
        source = page_path.parent / link
        if not source.exists():
            raise FileNotFoundError(f"{page_path}: shows {link}, which is not at {source}")
        target = destination / link
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    if intro.strip():
        title, _, rest = text.partition("\n")
        text = f"{title}\n\n{intro.strip()}\n{rest}"
    destination.mkdir(parents=True, exist_ok=True)
    write(text, destination / "RESULTS.md")
    return destination / "RESULTS.md"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Copy a generated results page and its figures into a folder.")
    parser.add_argument("page", help="a generated page, e.g. results/imdb/RESULTS.md")
    parser.add_argument("destination", help="e.g. docs/results/imdb-gru-cpu")
    parser.add_argument("--intro", help="a Markdown file: what the experiment asks, put under the title")
    args = parser.parse_args(argv)
    intro = Path(args.intro).read_text() if args.intro else ""
    print(publish(args.page, args.destination, intro))


if __name__ == "__main__":
    main()
