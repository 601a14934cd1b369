"""The catalogue of a run's summary tables and figures: one entry per table, read by everything that writes or
shows one, and the figures' names and captions.

An entry (:class:`Table`) holds the table's name (``results/{dataset}/tables/{name}.csv``), the rule that
writes it, its title in the report, its heading on the results page, and its columns in order with what
each means (for a table of one row per number, what each of its measures means too). ``tables``,
``timeline``, ``report``, ``results_page`` and the workflow (its report targets, the
``table_html`` rule's wildcard, the results page's inputs) read it; ``storage``'s hints learn each table's
rule from it. A new table is one entry here and the function that computes it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from rnn_dynamics.ground import stages
from rnn_dynamics.ground.storage import SchemaError, UnreadableFile, reading, register_producer, remake_hint

__all__ = [
    "ANALYSIS_FIGURES",
    "COVERAGES",
    "CONTEXT_FIGURES",
    "FIGURES",
    "SYSTEM_FIGURES",
    "TABLES",
    "Table",
    "page_tables",
    "read",
    "report_tables",
]


# Which models a table holds a row of (``Table.covers``).
COVERAGES = ("grid", "context")


@dataclass(frozen=True)
class Table:
    """One summary table of a dataset's run.

    Attributes:
        name: the file's stem, ``results/{dataset}/tables/{name}.csv``.
        rule: the workflow rule that writes it.
        title: the title of its page in the report.
        columns: column -> what it means, in the table's order.
        heading: its section's heading on the results page; "" where the page does not show it.
        report: whether the report shows it (as ``{name}.html``, the ``table_html`` rule's).
        optional: what asks for it, where a run makes it only when asked ("": every run makes it).
        optional_columns: columns left out where no row has them (the N-class columns of a binary run).
        across_rule: the rule that joins every dataset's table into ``results/{name}.csv`` ("": none does).
        measures: for a table of one row per number, measure -> what it means (the values of its ``measure``
            column, which the results page lists under the table's section); empty for the others.
        covers: the models it holds a row of (one of ``COVERAGES``): ``grid`` every model of the grid,
            ``context`` those the context stage probes (``stages.probed_systems``: a one-layer model or the stack).
    """

    name: str
    rule: str
    title: str
    columns: Mapping[str, str]
    heading: str = ""
    report: bool = True
    optional: str = ""
    optional_columns: tuple[str, ...] = ()
    across_rule: str = ""
    measures: Mapping[str, str] = field(default_factory=dict)
    covers: str = "grid"

    def __post_init__(self):
        if self.covers not in COVERAGES:
            raise ValueError(f"table {self.name!r}: covers must be one of {COVERAGES}, not {self.covers!r}")
        unknown = [column for column in self.optional_columns if column not in self.columns]
        if unknown:
            raise ValueError(f"table {self.name!r}: optional columns {unknown} are not among its columns")

    @property
    def names(self) -> list[str]:
        """The column names, in order."""
        return list(self.columns)

    def path(self, dataset: str = "{dataset}") -> str:
        """The table's path, relative to the workflow's directory (a wildcard pattern by default)."""
        return f"results/{dataset}/tables/{self.name}.csv"

    def expected_columns(self, found: list[str]) -> list[str]:
        """The columns a table of this name must have, in order, given the columns ``found`` in one."""
        return [column for column in self.names if column not in self.optional_columns or column in found]


# The fixed-point manifold's columns (``manifold.dimensions``), in the fixed-point and the comparison tables.
_DIMENSIONS = {
    "pcs_90": "principal components reaching 90% of the fixed points' variance (N classes: N - 1 expected)",
    "pcs_95": "principal components reaching 95% of it",
    "participation_ratio": "(sum l)^2 / sum l^2 of the fixed points' covariance eigenvalues (~1: a line)",
    "levina_bickel_dimension": "Levina-Bickel dimension of the fixed points (20 neighbours, MacKay-Ghahramani mean)",
    "correlation_dimension": "correlation dimension of the fixed points (Grassberger-Procaccia, 10th-20th neighbours)",
    "slow_modes_stable_0.9_median": "median over fixed points of the stable slow modes, 0.9 < |lambda| < 1",
    "slow_modes_stable_0.99_median": "median over fixed points of the stable slow modes, 0.99 < |lambda| < 1",
    "slow_modes_unstable_median": "median over fixed points of the modes that do not decay, |lambda| >= 1",
}

_ACCURACY = {
    "model": "model id: architecture, layers (L), embedding (E), hidden units (H), imported name (I), seed (s)",
    "architecture": "recurrent cell: gru, lstm, ugrnn or vanilla",
    "layers": "stacked recurrent layers",
    "embedding": "embedding size",
    "hidden": "hidden units per layer",
    "seed": "the seed of the initial weights, the batch order and the training subsample; imported: initial.pt's",
    "batch_size": "reviews per training batch (models.batch_size; in the id as -B where not the default)",
    "train_fraction": "share of the training split trained on (models.train_fraction; in the id as -F where not 1)",
    **{
        f"{split}_{measure}": text
        for split, measure, text in [
            ("train", "loss", "cross-entropy of the kept weights on the training split"),
            ("train", "accuracy", "accuracy on the training split"),
            ("valid", "loss", "cross-entropy on the validation split (the kept epoch has the lowest)"),
            ("valid", "accuracy", "accuracy on the validation split"),
            ("test", "loss", "cross-entropy on the test split"),
            ("test", "accuracy", "accuracy on the test split"),
        ]
    },
    "valid_chance_accuracy": "validation accuracy of always answering the majority label",
    "at_chance": "validation accuracy within two standard errors of valid_chance_accuracy",
    "chance_judged": "whether the validation split is large enough for a perfect accuracy to clear that margin",
    "classes": "number of classes, for a model of more than two (absent or empty: two, one logit)",
    "test_class_accuracy": "test accuracy on the reviews of each class, 'class: accuracy' in class order",
    "test_chance_accuracy": "test accuracy of always answering the test split's majority class",
}

_EXPLAINED_VARIANCE = {
    "model": "model id",
    "split": "the split whose states these are (states.splits; train: the reviews the model was trained on)",
    "layer": "layer whose states were analysed (1 is the lowest)",
    "weights": "trained, or the untrained initial weights on the same reviews",
    "explained_1": "fraction of the states' variance on their first principal component",
    "explained_2": "fraction on the first two principal components",
    "explained_3": "fraction on the first three principal components",
}

_FIXED_POINTS = {
    "model": "model id",
    "split": "the split whose states the search started from (states.splits)",
    "system": "layerN (one layer, the others' input at zero) or stack (all layers as one system)",
    "starts": "visited states the search started from",
    "speed_scale": "the network's speed scale: the median q of the starts (the relative tolerance reads it)",
    "tolerance": "the q below which a start is an approximate fixed point (fixed_points.q_rule)",
    "converged": "starts that reached q below the tolerance: approximate fixed points",
    "converged_1e-8": "starts that reached q < 1e-8 (the paper's stricter rule)",
    "slow_points": "starts that settled at a minimum of q above the tolerance",
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
    **_DIMENSIONS,
}

_TOLERANCE = {
    "model": "model id",
    "split": "the split whose states the search started from",
    "system": "layerN or stack",
    "multiple": "the multiple of the search's tolerance (fixed_points.q_sweep; 1: the published set)",
    "tolerance": "the q below which a start counts here",
    "published": "whether this is the published set (multiple 1)",
    "converged": "starts below that q",
    "unique_fixed_points": "converged points inside the states, after merging those closer than unique_tol",
    "extent": "rms spread of those points over that of their starts (~0: one point, ~1: a line)",
    "first_pc_share": "fraction of their variance on their first principal component",
    "pcs_90": "principal components reaching 90% of their variance",
    "participation_ratio": "(sum l)^2 / sum l^2 of their covariance eigenvalues",
    "shape": "the word for the set (dynamics.words.shape: point, segment, line, plane, N - 1 manifold, ...)",
}

_SEEDS = {
    "grid_point": "the model id less its seed: the grid point whose seeds are aggregated",
    "system": "layerN or stack",
    "measure": "a measure of the comparison table",
    "n": "seeds with a value",
    "mean": "mean over those seeds",
    "sd": "standard deviation over them (n - 1 degrees of freedom; NaN for one seed)",
    "min": "the smallest seed's value",
    "max": "the largest",
    "ci_low": "the interval's lower end (NaN for one seed)",
    "ci_high": "its upper end",
    "interval": "how the interval is made (dynamics.evidence.INTERVAL)",
    "seeds": "the seeds, ';'-separated",
    "values": "their values in that order",
}

_EVIDENCE = {
    "model": "model id; for a pair of the similarity table, both (a ~ b) where they differ",
    "split": "the split whose states or reviews the measure reads (a ~ b for a pair across splits)",
    "system": "layerN or stack (a ~ b for a pair of two systems)",
    "measure": "the measure: a column of the analyses' summary, states_explained_k of the explained variance, "
    "fixed_points_* of the fixed-point set (its extent, first-PC share, participation ratio, pcs_90), "
    "states_participation_ratio, dsa or cka of a pair, dsa_from_untrained of a system",
    "value": "its value",
    "null": "what it stands beside: untrained (initial weights), random_readout (centred alike), random_subspace "
    "(of the same size), other_reviews, shuffled_words",
    "null_median": "the null's median",
    "null_low": "its 5th percentile (the one value where null_n is 1)",
    "null_high": "its 95th percentile",
    "null_n": "samples of the null",
    "beyond_null": "whether the value lies beyond the null on the side that means structure (dynamics.words)",
    "side": "that side: larger, smaller, or either",
}

_COMPARISON = {
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
    # The geometry of integration over N classes (``analyses.manifold_measures``); binary models too.
    "classes": "number of classes",
    "manifold_space": "the manifold's space: h (what the readout reads) or [h, c] (an LSTM's state)",
    **_DIMENSIONS,
    "local_participation_ratio": "median participation ratio of the 50 N nearest fixed points (at most a quarter "
    "of them) of 20 random ones",
    "readout_angle_median": "median angle (degrees) between two classes' centred readout vectors",
    "simplex_angle": "the angle of a regular simplex of N vertices, arccos(-1/(N-1)) (180 for two classes)",
    "readout_in_manifold_share": "share of the centred readout's squared norm in the fixed points' top N-1 PCs",
    "null_readout_in_manifold_95": "95th percentile of that share in random subspaces of N-1 dimensions",
    "readout_in_slow_modes_median": "median over fixed points of the readout's share in the span of the modes "
    "of |lambda| > 0.9",
    "null_readout_in_slow_modes_median": "the same for a random subspace of that span's size (its dimension / S)",
    "projected_accuracy_n_minus_1": "readout accuracy on final states projected on the visited states' top N-1 PCs",
    "shuffled_accuracy": "the network's accuracy on the analysed reviews with each review's words shuffled",
}

_TIMELINE = {
    "rule": "the job's rule",
    "model": "the model id (with its split tag) the job ran for; empty for a job of no model",
    "system": "the analysed system (layerN or stack), where the job is of one",
    "shard": "the fixed-point shard, 'i-of-n'",
    "item": "another wildcard of the job, such as the embedding file",
    "s": "wall time of the job, in seconds",
    "max_rss": "peak resident memory, MB",
    "cpu_time": "CPU time, in seconds",
    "start_s": "when the job started, in seconds from the run's earliest start (end_s - s)",
    "end_s": "when its benchmark record was written, in seconds from the run's earliest start",
    "benchmark": "the benchmark record's path",
}

# Each system's columns of the similarity table (``stages.PER_SYSTEM``), each for system a and b.
_PER_SYSTEM = {
    "dsa_untrained": "DSA from the same system of its untrained (initial) network over the pair's reviews",
    "cka_untrained": "linear CKA with the same system of its untrained network over the pair's reviews",
    "dsa_floor": "DSA of the system against itself over other reviews of its split: the noise floor",
    "unique_fixed_points": "unique approximate fixed points",
    "manifold_dimension": "participation ratio of the fixed points' PCA variances (1: a line)",
    "top_modulus_median": "median over fixed points of the largest |lambda|",
    "top_modulus_iqr": "its interquartile range",
    "time_constant_median": "median tau of the slowest mode, in tokens",
    "time_constant_iqr": "its interquartile range",
    "alignment_median": "median |cos| between the readout and the top right eigenvector (top layer only)",
}
_SIMILARITY = {
    "axis": "the grid axis the two systems differ in (pair: named in similarity.pairs)",
    "a": "the first system, {model}{split_tag}/{system}",
    "b": "the second system",
    "value_a": "the axis value of the first system",
    "value_b": "the axis value of the second",
    "reviews": "reviews whose first similarity.steps states both systems were compared on",
    "dsa": "DSA (dsa-metric): angular Procrustes distance of the delay-embedded DMD operators, radians "
    "(0: the same dynamics up to an orthogonal change of basis)",
    "dsa_eigenvalue_w2": "Wasserstein distance of the eigenvalues of rank-10 DMDs, no delays (eigenvectors ignored)",
    "input_dsa_state": "InputDSA, token embeddings as input: angular distance of the state operators, jointly aligned",
    "input_dsa_control": "InputDSA: angular distance of the input operators, jointly aligned",
    "input_dsa_joint": "InputDSA: angular distance of the controllability matrices (NaN for inputs of two sizes)",
    "cka": "linear CKA of their states at the same reviews and tokens (1: the same up to rotation; NaN across splits)",
    **{f"{key}_{side}": f"{text} ({side})" for key, text in _PER_SYSTEM.items() for side in ("a", "b")},
}


# The data card (``datasets.data_card``) with the embeddings' coverage of the vocabulary, one row per number.
_DATA = {
    "section": "splits, vocabulary, embedding (its coverage of the vocabulary), artefacts or cleaning",
    "name": "the split, the embedding ({source}-{dim}) or the artefact's detector",
    "measure": "what the value is (the measures under the Data section)",
    "value": "the number, or the rule, the examples or the rules",
}
_DATA_MEASURES = {
    "rows": "reviews in the split",
    "label <class>": "reviews of the class",
    "length_median": "median review length in tokens (after prepare.max_length)",
    "length_p95": "95th percentile of the lengths",
    "length_max": "the longest review",
    "unknown_share": "share of the split's tokens outside the vocabulary (<unk>)",
    "size": "vocabulary entries, <pad> and <unk> included",
    "training_tokens": "tokens of the train split",
    "unknown_training_share": "share of them outside the vocabulary (prepare.max_vocab, min_count)",
    "entries": "vocabulary entries the embedding has a vector for",
    "entries_share": "share of the vocabulary's entries the embedding has a vector for",
    "tokens_share": "share of the training tokens those entries account for",
    "texts": "texts (train and test, as read) the detector finds something in",
    "rule": "the cleaning rule that removes it (docs/data.md); empty: none does",
    "examples": "up to five: review id and what was found",
    "rules": "the cleaning rules the texts went through",
    "key": "the dataset's config key that chooses them; empty: the reader does",
}


# The context stage's tables (``dynamics.context``): per (modifier, target, base), means over the probes.
_CONTEXT = {
    "model": "model id",
    "split": "the split whose reviews gave the base contexts",
    "system": "the system probed (the stack, or layer1 of a one-layer model)",
    "modifier": "the modifier word (context.modifiers), or a null word (context.null_words)",
    "target": "the target word",
    "base": "reviews (a test review's state after a random prefix) or fixed_points (an approximate fixed point)",
    "effect_alone": "readout change one step after the target at the base state (less the step with no input)",
    "effect_after": "the same right after the modifier, at h_mod",
    "settled_alone": "readout change of the target alone after context.settle_steps input-free steps more",
    "settled_after": "the same after the modifier",
    "gain": "effect_after / effect_alone",
    "settled_gain": "settled_after / settled_alone (< 0: flipped, > 1: scaled up)",
    "linearized_after": "effect_after to first order: w . J_inp x with the input Jacobian at h_mod",
    "linearized_at_fixed_point": "the same with the input Jacobian at the fixed point nearest h_mod",
    "speed_before": "q = |h - F(h, 0)|^2 / S at the base state",
    "speed_after": "q at h_mod",
    "relax_steps": "median input-free steps until the state from h_mod is back near the fixed points (NaN: over "
    "half never within context.relax_steps)",
}
_CONTEXT_ABLATION = {
    "model": "model id",
    "system": "the system probed",
    "modifier": "the modifier word",
    "k": "mode groups (a complex pair is one) of the deflection removed, best aligned with the modifier subspace first",
    "effect_remaining": "share of the modifier's effect on the settled target left (1: all, 0: none)",
}
_CONTEXT_BOW = {
    "model": "model id",
    "split": "the split evaluated on (trained on the train split)",
    "bow_accuracy": "logistic regression on binary word features",
    "contextual_bow_accuracy": "the same with modifier x word features (context.window words after a modifier)",
    "rnn_accuracy": "the network",
    "share_recovered": "(contextual - plain) / (network - plain): the share of the network's gain the pairs recover",
}


def _in_order(columns: list[str], meanings: Mapping[str, str], name: str) -> dict[str, str]:
    """``meanings`` in the order of ``columns``, the columns of a table another layer writes; each described."""
    if set(columns) != set(meanings):
        raise ValueError(
            f"table {name!r}: columns without a meaning {sorted(set(columns) - set(meanings))}, "
            f"meanings of no column {sorted(set(meanings) - set(columns))}"
        )
    return {column: meanings[column] for column in columns}


# Every summary table, in the order the report's targets and the results page list them.
TABLES = {
    table.name: table
    for table in [
        Table(
            "data",
            "data_table",
            "The data card: rows, classes, token lengths and unknown tokens per split; vocabulary and its "
            "embedding coverage; artefacts per detector",
            _DATA,
            heading="Data",
            measures=_DATA_MEASURES,
        ),
        Table(
            "accuracy",
            "accuracy_table",
            "Loss and accuracy of each model's kept weights, per split",
            _ACCURACY,
            heading="Accuracy",
            optional_columns=("classes", "test_class_accuracy", "test_chance_accuracy"),
        ),
        Table(
            "explained_variance",
            "explained_variance_table",
            "Variance explained by the top 1, 2 and 3 principal components, per layer",
            _EXPLAINED_VARIANCE,
            heading="Explained variance of the hidden states",
        ),
        Table(
            "fixed_points",
            "fixed_point_table",
            "Fixed points per model and system: converged starts, unique points, slowest mode",
            _FIXED_POINTS,
            heading="Fixed points",
        ),
        Table(
            "tolerance",
            "tolerance_table",
            "The fixed-point set at each multiple of the search's tolerance: whether its dimension depends on it",
            _TOLERANCE,
            heading="The fixed points against the tolerance",
        ),
        Table(
            "comparison",
            "comparison_table",
            "Test accuracy (beside the paper's), top-2 PC variance and line-attractor measures per model and system",
            _COMPARISON,
            heading="The paper's measures, per system",
            across_rule="comparison_across_datasets",
        ),
        Table(
            "evidence",
            "evidence_table",
            "Each published measure beside its null: the untrained network, random readouts, random subspaces, "
            "other reviews, shuffled words",
            _EVIDENCE,
            heading="Each measure beside its null",
        ),
        Table(
            "seeds",
            "seeds_table",
            "Each measure of the comparison table over the seeds of each grid point: n, mean, spread, interval",
            _SEEDS,
            heading="Spread over seeds",
        ),
        Table(
            "timeline",
            "timeline",
            "Timeline of the run: every job's rule, model, system, shard, seconds and peak memory (MB)",
            _TIMELINE,
        ),
        Table(
            "similarity",
            "similarity",
            "Similarity of two systems' dynamics (DSA, linear CKA) beside their fixed-point geometry, per pair",
            _in_order(stages.SIMILARITY_COLUMNS, _SIMILARITY, "similarity"),
            heading="Similarity of dynamics",
            optional="similarity.pairs or similarity.axes",
        ),
        Table(
            "context",
            "context_table",
            "How a modifier changes the next word's effect, per model, system, modifier, target and base",
            _in_order(stages.CONTEXT_COLUMNS, _CONTEXT, "context"),
            heading="Contextual processing: modifier words",
            optional="context.enabled",
            covers="context",
        ),
        Table(
            "context_ablation",
            "context_ablation_table",
            "The modifier's effect left once its deflection's best-aligned k modes are removed",
            _in_order(stages.ABLATION_COLUMNS, _CONTEXT_ABLATION, "context_ablation"),
            heading="Contextual processing: ablation of the modifier's modes",
            optional="context.enabled",
            covers="context",
        ),
        Table(
            "context_bow",
            "context_bow_table",
            "Plain and contextual bags of words beside the network: the share of its gain the pairs recover",
            _in_order(stages.BOW_COLUMNS, _CONTEXT_BOW, "context_bow"),
            heading="Contextual processing: bags of words",
            optional="context.enabled",
            covers="context",
        ),
    ]
}

for _table in TABLES.values():
    register_producer(rf"results/[^/]+/tables/{re.escape(_table.name)}\.csv", _table.rule)
    if _table.across_rule:
        register_producer(rf"results/{re.escape(_table.name)}\.csv", _table.across_rule)


def report_tables() -> list[Table]:
    """The tables the report shows, in order."""
    return [table for table in TABLES.values() if table.report]


def page_tables() -> list[Table]:
    """The tables the results page shows, in order."""
    return [table for table in TABLES.values() if table.heading]


def read(name: str, path: str | Path, **kwargs) -> pd.DataFrame:
    """The summary table ``name`` from ``path``, checked to have the catalogue's columns in order.

    A file of 0 bytes, one that does not parse, or one whose columns are not the table's raises an
    error naming the file, the rule that writes it and the ``--forcerun`` target that makes it again.
    ``kwargs`` go to ``pandas.read_csv``.
    """
    table = TABLES[name]
    if Path(path).exists() and Path(path).stat().st_size == 0:
        raise UnreadableFile(path, f"0 bytes: not even the header of the {name} table")
    with reading(path):
        found = pd.read_csv(path, **kwargs)
    columns = list(found.columns)
    if columns != table.expected_columns(columns):
        missing = [column for column in table.expected_columns(columns) if column not in columns]
        unknown = [column for column in columns if column not in table.columns]
        detail = f"missing {missing}" if missing else f"unknown {unknown}" if unknown else "in another order"
        message = f"{path}: the columns of the {name} table are not the catalogue's ({detail})"
        raise SchemaError(message + remake_hint(path))
    return found


# ---------------------------------------------------------------------------
# Figures

# Figures of each model, drawn on the results page in this order, with their captions.
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
    "context_deflections": "each modifier's kick (the state without it -> with it) on the fixed points' PC1-PC2",
    "context_gain": "the target's settled gain after each modifier, per target and base, beside the null words'",
    "context_ablation": "the share of each modifier's effect left with its deflection's best-aligned k modes removed",
}
# Each system's figures: the analyze rule's, and the context stage's where it runs.
# The figure modules draw them (``figures.analyses``, ``figures.context``).
ANALYSIS_FIGURES = ("dimensionality", "time_constants", "alignment", "valence", "linearized", "manifold")
CONTEXT_FIGURES = ("context_deflections", "context_gain", "context_ablation")
