"""What stands beside a value (``dynamics.evidence``): spread over seeds, a test over seeds, nulls; and the
seeds table (``tables.seeds_table``) built from a comparison table."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from rnn_dynamics.data import batches
from rnn_dynamics.dynamics import analyses, evidence, linearization, manifold, words
from rnn_dynamics.ground.grid import ModelSpec
from rnn_dynamics.networks import model as model_lib
from rnn_dynamics.outputs import catalogue, tables


def test_the_spread_of_three_seeds_has_a_student_t_interval_about_the_mean():
    found = evidence.spread([1.0, 2.0, 3.0, float("nan")])
    assert (found["n"], found["mean"], found["sd"], found["min"], found["max"]) == (3, 2.0, 1.0, 1.0, 3.0)
    # t(0.975, 2) = 4.303: half-width 4.303 / sqrt(3).
    assert found["ci_high"] - found["mean"] == pytest.approx(4.3027 / math.sqrt(3), rel=1e-4)
    one = evidence.spread([5.0])
    assert one["n"] == 1 and one["mean"] == 5.0 and math.isnan(one["sd"]) and math.isnan(one["ci_low"])


def test_three_seeds_a_side_are_never_called_different_and_twelve_clearly_apart_are():
    """With 3 and 3 seeds the exact test has 20 relabellings: the observed one and its mirror give p >= 0.1."""
    called, p = evidence.different([0.90, 0.91, 0.92], [0.80, 0.81, 0.82])
    assert not called and p == pytest.approx(0.1)
    rng = np.random.default_rng(0)
    called, p = evidence.different(rng.normal(0.9, 0.01, 12), rng.normal(0.8, 0.01, 12))
    assert called and p < 0.01
    values = rng.normal(0.9, 0.01, 12)
    assert evidence.different(values, values[::-1]) == (False, 1.0)  # the same values: every relabelling reaches 0


@pytest.mark.parametrize("classes", [3, 4, 5])
def test_random_readouts_centred_alike_lie_at_the_simplex_angle(classes):
    """Centring forces a mean cosine of -1/(N - 1): random readouts' median angle is near the simplex's, so a
    trained readout at the simplex angle is within its null, not evidence."""
    null = evidence.null_summary(evidence.random_readout_angles(classes, 64, 500, seed=0))
    simplex = manifold.simplex_angle(classes)
    assert null["null_median"] == pytest.approx(simplex, abs=1.5)
    assert not words.beyond_null(simplex, null["null_low"], null["null_high"])
    assert null["null_n"] == 500


def comparison(rows):
    columns = catalogue.TABLES["comparison"].names
    return pd.DataFrame([{column: float("nan") for column in columns} | row for row in rows], columns=columns)


def test_the_seeds_table_aggregates_each_measure_over_the_seeds_of_a_grid_point():
    rows = [
        {"model": f"gru-L1-E8-H16{batch}-s{seed}", "system": "layer1", "test_accuracy": accuracy, "pcs_90": 1}
        for batch, accuracies in (("", (0.90, 0.92, 0.94)), ("-B16", (0.80, 0.82, 0.84)))
        for seed, accuracy in enumerate(accuracies)
    ]
    table = tables.seeds_table(comparison(rows))
    assert list(table.columns) == catalogue.TABLES["seeds"].names
    accuracy = table[(table["grid_point"] == "gru-L1-E8-H16") & (table["measure"] == "test_accuracy")].iloc[0]
    assert (accuracy["n"], accuracy["seeds"], accuracy["values"]) == (3, "0;1;2", "0.9;0.92;0.94")
    assert accuracy["mean"] == pytest.approx(0.92) and accuracy["interval"] == evidence.INTERVAL
    assert accuracy["ci_low"] < 0.92 < accuracy["ci_high"]
    # A measure no seed has: n 0, no interval; identity columns are not measures.
    assert table[table["measure"] == "dsa"].empty or (table[table["measure"] == "pc1_fraction"]["n"] == 0).all()
    assert "layers" not in set(table["measure"]) and "simplex_angle" not in set(table["measure"])
    sentences = tables.seed_sentences(table)
    (batch,) = [sentence for sentence in sentences if "test_accuracy" in sentence]
    assert batch.startswith("batch_size, gru-L1-E8-H16 against gru-L1-E8-H16-B16 (layer1), test_accuracy: 0.92 (n = 3")
    assert "not different by a permutation test over seeds (two-sided p = 0.1" in batch


def untrained_measures(classes: int, seed: int):
    """``analyses.manifold_measures`` of an untrained GRU of ``classes`` classes, on 60 random states of it."""
    torch.manual_seed(seed)
    spec = ModelSpec("gru", 1, 4, 16, seed)
    model = model_lib.SentimentClassifier(spec, 12, dropout=0.0, layer_dropout=0.0, classes=classes).eval()
    rng = np.random.default_rng(seed)
    lengths = rng.integers(3, 8, 20)
    reviews = batches.Reviews(
        rng.integers(2, 12, lengths.sum()), np.concatenate([[0], np.cumsum(lengths)]), np.arange(20) % classes * 1.0
    )
    system = model.system("layer1")
    lin = linearization.linearize(system, rng.uniform(-0.5, 0.5, size=(60, system.state_size)))
    evaluation = analyses.evaluate_system(model, "layer1", lin, reviews, progress=False)
    settings = analyses.Settings(reviews=20, null_samples=400, seed=0, regularization=1.0)
    return analyses.manifold_measures(model, "layer1", lin, evaluation, settings)


def test_an_untrained_networks_readout_rows_are_within_their_nulls():
    """An untrained readout is a random one, centred alike, and random points have no manifold it prefers: over
    seeds, its angle, manifold share and slow-mode share rows are within their nulls (a 5-95% interval: at most
    one row in ten of random ones lies outside it by chance)."""
    rows = pd.DataFrame([row for seed in range(6) for row in untrained_measures(4, seed)["evidence"]])
    assert set(rows["measure"]) == {"readout_angle_median", "readout_in_manifold_share", "readout_in_slow_modes_median"}
    assert set(rows["null"]) == {"random_readout", "random_subspace"} and (rows["null_n"] == 400).all()
    assert rows["beyond_null"].mean() <= 0.2, rows
    # Two classes: no angle row (their centred vectors are opposite whatever the readout).
    assert "readout_angle_median" not in {row["measure"] for row in untrained_measures(2, 0)["evidence"]}


def test_the_evidence_table_joins_the_analyses_rows_and_the_untrained_states(tmp_path):
    folder = tmp_path / "analyses" / "gru-L1-E4-H16-s0" / "layer1"
    folder.mkdir(parents=True)
    pd.DataFrame(untrained_measures(3, 0)["evidence"], columns=evidence.COLUMNS).to_csv(
        folder / "evidence.csv", index=False
    )
    explained = pd.DataFrame(
        [("gru-L1-E4-H16-s0", "test", 1, weights, *values) for weights, values in
         (("trained", (0.8, 0.95, 0.97)), ("untrained", (0.2, 0.35, 0.45)))],
        columns=catalogue.TABLES["explained_variance"].names,
    )  # fmt: skip
    table = tables.evidence_table([folder], explained)
    assert list(table.columns) == catalogue.TABLES["evidence"].names
    states = table[table["null"] == "untrained"]
    assert states["measure"].tolist() == ["states_explained_1", "states_explained_2", "states_explained_3"]
    assert states["beyond_null"].all() and (states["null_n"] == 1).all()
    assert states["null_median"].tolist() == [0.2, 0.35, 0.45]
    assert set(table["null"]) == {"untrained", "random_readout", "random_subspace"}
    sentences = tables.evidence_sentences(table)
    assert any(
        s.startswith("gru-L1-E4-H16-s0 (test) layer1, states_explained_2 0.95: beyond its null") for s in sentences
    )
    # A row without its null is not measured, never "beyond its null" (bool of NaN is True).
    missing = table.head(1).assign(null_n=float("nan"), beyond_null=float("nan"))
    assert tables.evidence_sentences(missing)[0].endswith(": not measured.")
