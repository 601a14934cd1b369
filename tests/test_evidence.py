"""What stands beside a value (``dynamics.evidence``): spread over seeds, a test over seeds, nulls; and the
seeds table (``tables.seeds_table``) built from a comparison table."""

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import torch

from rnn_dynamics.data import batches, text
from rnn_dynamics.dynamics import analyses, evidence, fixed_points, linearization, manifold, similarity, words
from rnn_dynamics.ground.grid import ModelSpec
from rnn_dynamics.ground.storage import list_matrix
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


@pytest.mark.parametrize(("n_a", "n_b"), [(1, 1), (2, 3), (3, 3), (4, 4), (5, 5), (3, 6)])
def test_the_smallest_p_is_what_the_test_gives_on_sides_that_do_not_overlap(n_a, n_b):
    """``smallest_p`` is the p of two sides far apart, so it tells in advance whether any difference could be
    called: 3 and 3 seeds cannot (0.1), 5 and 5 can (2 / 252)."""
    a, b = np.arange(n_a) * 0.01, 10 + np.arange(n_b) * 0.01
    assert evidence.smallest_p(n_a, n_b) == pytest.approx(evidence.permutation_test(a, b))
    assert (evidence.smallest_p(3, 3), evidence.smallest_p(5, 5)) == (pytest.approx(0.1), pytest.approx(2 / 252))


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
    assert "too few seeds to test (a permutation test over seeds cannot give a two-sided p below 0.1" in batch
    assert "not different" not in batch


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


def random_reviews(seed: int, count: int = 40, classes: int = 2) -> batches.Reviews:
    """``count`` reviews of 5 to 14 random tokens of a vocabulary of 12, labels cycling over ``classes``."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(5, 15, count)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    return batches.Reviews(rng.integers(2, 12, lengths.sum()), offsets, np.arange(count) % classes * 1.0)


def searched(network, reviews, search, gather):
    """The gathered fixed-point table of the network's layer 1 from the states it visits over ``reviews``."""
    _, starts = analyses.untrained_set(network, "layer1", reviews, search, gather)
    found = fixed_points.solve(network.system("layer1"), starts, search, progress=False)
    return fixed_points.gather([found.to_table()], gather)


SEARCH = dataclasses.replace(fixed_points.SearchSettings(), starts=80)


def test_an_untrained_networks_fixed_point_rows_are_within_their_untrained_null():
    """An untrained GRU searched as a trained one is, its set read against the same network's searched from the
    states of other reviews (the null: that set's bootstrap): over seeds, its extent, first-PC share,
    participation ratio and pcs_90 rows are within their null (a few outside by chance, at most one in four)."""
    gather = fixed_points.GatherSettings()
    rows = []
    for seed in range(4):
        torch.manual_seed(seed)
        spec = ModelSpec("gru", 1, 4, 16, seed)
        network = model_lib.SentimentClassifier(spec, 12, dropout=0.0, layer_dropout=0.0).eval()
        table = searched(network, random_reviews(100 + seed), dataclasses.replace(SEARCH, seed=1), gather)
        rows += analyses.untrained_rows(
            "layer1", random_reviews(seed), analyses.Untrained(network, table, SEARCH, gather), 0
        )
    rows = pd.DataFrame(rows, columns=evidence.COLUMNS)
    assert set(rows["measure"]) == {f"fixed_points_{measure}" for measure in evidence.SET_SIDES}
    assert set(rows["null"]) == {"untrained"} and (rows["null_n"] == evidence.BOOTSTRAP).all(), rows
    assert rows["beyond_null"].mean() <= 0.25, rows


def test_a_trained_line_attractor_spreads_beyond_its_untrained_network_and_shuffled_words_are_measured(
    trained_synthetic_model, prepared_synthetic_large
):
    """The synthetic GRU's approximate fixed points lie along a line through its states (extent of the order of
    their spread) where its initial weights' collapse to a point: the extent row is beyond its untrained null.
    Its analysis carries that null and the shuffled-words rows (the accuracy and the states' dimension, each
    beside ``SHUFFLES`` shufflings), finite; its accuracy is beyond the shuffled words' (the rule's negators
    and intensifiers act on the next word)."""
    torch.set_num_threads(1)
    network = model_lib.load(trained_synthetic_model)
    initial = model_lib.load(trained_synthetic_model.parent / "initial.pt")
    vocabulary = text.read_vocabulary(prepared_synthetic_large / "vocab.parquet")
    train = batches.read_split(prepared_synthetic_large / "train.parquet")
    test = batches.read_split(prepared_synthetic_large / "test.parquet")
    gather = fixed_points.GatherSettings()
    table = searched(network, analyses.subset(test, 100, 1), SEARCH, gather)
    lin = linearization.linearize(
        network.system("layer1"), list_matrix(fixed_points.unique_fixed_points(table)["fixed_point"])
    )
    settings = analyses.Settings(reviews=200, null_samples=200)
    result = analyses.analyze(
        network, "layer1", lin, train, test, vocabulary.tokens, np.array(vocabulary.counts), settings, False,
        untrained=analyses.Untrained(initial, table, SEARCH, gather),
    )  # fmt: skip
    rows = result["evidence"].set_index(["measure", "null"])
    extent = rows.loc[("fixed_points_extent", "untrained")]
    assert extent["beyond_null"] and extent["value"] > 5 * extent["null_high"], extent
    shuffled = rows.xs("shuffled_words", level="null")
    assert set(shuffled.index) == {"network_accuracy", "states_participation_ratio"}
    assert (shuffled["null_n"] == evidence.SHUFFLES).all()
    assert np.isfinite(shuffled[["value", "null_median", "null_low", "null_high"]].to_numpy(float)).all(), shuffled
    # The synthetic rule's negators and intensifiers act on the next word: order matters, and the network uses it.
    accuracy = shuffled.loc["network_accuracy"]
    assert accuracy["beyond_null"] and accuracy["value"] > accuracy["null_high"] + 0.1, accuracy
    # The first shuffling is the summary's shuffled accuracy.
    assert shuffled.loc["network_accuracy", "null_low"] <= result["summary"]["shuffled_accuracy"]


def test_dsa_of_a_system_with_itself_over_other_reviews_is_at_its_noise_floor(
    trained_synthetic_model, prepared_synthetic_large
):
    """The synthetic GRU's layer 1 over its pair's reviews against itself over a third, disjoint draw: that DSA is
    its noise floor again (within a quarter of the way from the floor to the untrained network's distance),
    and the evidence rows of the similarity table read a pair and each system against that floor: the system,
    which learnt, lies beyond its floor from its untrained network and nearer itself than its untrained one."""
    torch.set_num_threads(1)
    settings = similarity.Settings(steps=8, reviews=200, iters=300)
    network = model_lib.load(trained_synthetic_model)
    initial = model_lib.load(trained_synthetic_model.parent / "initial.pt")
    test = batches.read_split(prepared_synthetic_large / "test.parquet")
    name = similarity.SystemName.parse(f"{network.spec.id}/layer1")
    rows = similarity.common_rows(test, [], "test", settings)
    floor_rows = similarity.other_rows(test, [], "test", settings)
    rest = np.setdiff1d(similarity.eligible_rows(test, [], "test", settings), np.union1d(rows, floor_rows))
    third = np.sort(np.random.default_rng(7).choice(rest, settings.reviews, replace=False))
    scale = similarity.scale(
        name, {network.spec.id: network}, {network.spec.id: initial}, test, rows, floor_rows, settings
    )
    x = similarity.trajectories(network, "layer1", test, rows, settings.steps)
    again = similarity.dsa_distance(
        x, similarity.trajectories(network, "layer1", test, third, settings.steps), settings
    )
    assert scale["dsa_floor"] < scale["dsa_untrained"], scale
    assert abs(again - scale["dsa_floor"]) < 0.25 * (scale["dsa_untrained"] - scale["dsa_floor"]), (again, scale)
    # The evidence rows of that pair (the system against itself over the third draw): its null is the floor.
    pair = {"axis": "seed", "a": name.name, "b": name.name, "dsa": again, "cka": 1.0}
    pair |= {f"{key}_{side}": value for key, value in scale.items() for side in "ab"}
    found = pd.DataFrame(tables.similarity_rows(pd.DataFrame([pair]))).set_index(["measure", "null"])
    floor = found.loc[("dsa", "other_reviews")]
    assert floor["null_median"] == pytest.approx(scale["dsa_floor"]) and floor["null_n"] == 2
    assert found.loc[("dsa_from_untrained", "other_reviews"), "beyond_null"]
    assert found.loc[("dsa", "untrained"), "beyond_null"]
    assert (found["model"] == network.spec.id).all() and len(found) == 4


def test_a_pair_of_two_systems_names_both_and_the_evidence_table_carries_it(tmp_path):
    pair = {
        "axis": "seed", "a": "gru-L1-E4-H16-s0/layer1", "b": "gru-L1-E4-H16-s1/layer1", "dsa": 0.5, "cka": 0.9,
        "dsa_floor_a": 0.2, "dsa_floor_b": 0.25, "dsa_untrained_a": 0.6, "dsa_untrained_b": 0.7,
        "cka_untrained_a": 0.3, "cka_untrained_b": 0.4,
    }  # fmt: skip
    explained = pd.DataFrame(columns=catalogue.TABLES["explained_variance"].names)
    table = tables.evidence_table([], explained, pd.DataFrame([pair]))
    assert list(table.columns) == catalogue.TABLES["evidence"].names
    pairs = table[table["model"] == "gru-L1-E4-H16-s0 ~ gru-L1-E4-H16-s1"].set_index(["measure", "null"])
    assert (pairs["system"] == "layer1").all() and (pairs["split"] == "test").all()
    assert pairs.loc[("dsa", "other_reviews"), "beyond_null"] and pairs.loc[("dsa", "untrained"), "beyond_null"]
    assert pairs.loc[("cka", "untrained"), "beyond_null"]
    assert set(table["model"]) == {"gru-L1-E4-H16-s0", "gru-L1-E4-H16-s1", "gru-L1-E4-H16-s0 ~ gru-L1-E4-H16-s1"}
    sentences = tables.evidence_sentences(table)
    assert any(s.startswith("gru-L1-E4-H16-s0 ~ gru-L1-E4-H16-s1 (test) layer1, dsa 0.5: beyond") for s in sentences)
