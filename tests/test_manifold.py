"""The geometry-of-integration measures (``manifold``) on point sets and readouts whose answer is known."""

import functools
import tempfile
from pathlib import Path

import numpy as np
import pytest

from rnn_dynamics.data import batches, datasets, synthetic
from rnn_dynamics.data.text import Vocabulary
from rnn_dynamics.dynamics import analyses, evidence, fixed_points, linearization, manifold, spectra, words
from rnn_dynamics.dynamics.states import visited_states
from rnn_dynamics.ground import config
from rnn_dynamics.ground.grid import ModelSpec
from rnn_dynamics.networks import model as model_lib
from rnn_dynamics.networks import training
from rnn_dynamics.outputs import tables


def plane(count=600, size=12, seed=0):
    """``count`` points filling a unit square embedded (rotated) in ``size`` dimensions."""
    rng = np.random.default_rng(seed)
    rotation, _ = np.linalg.qr(rng.standard_normal((size, size)))
    return rng.uniform(size=(count, 2)) @ rotation[:2]


def test_the_participation_ratio_is_one_on_a_line_and_two_on_an_even_plane():
    line = np.outer(np.linspace(-1, 1, 50), np.ones(5))
    assert spectra.participation_ratio(line) == pytest.approx(1.0)
    # A square's two directions have equal variance: a ratio of 2 (1.98 on 600 uniform points).
    assert spectra.participation_ratio(plane()) == pytest.approx(2.0, abs=0.05)
    assert np.isnan(spectra.participation_ratio(np.ones((1, 3))))
    assert np.isnan(spectra.participation_ratio(np.ones((4, 3))))
    cloud = np.random.default_rng(0).standard_normal((5000, 3))
    assert spectra.participation_ratio(cloud) == pytest.approx(3.0, rel=0.05)


def test_the_local_participation_ratio_sees_a_plane_where_it_curves():
    """A plane rolled into a half cylinder: globally 3 directions of variance, locally 2."""
    rng = np.random.default_rng(1)
    angle, height = rng.uniform(0, np.pi, 2000), rng.uniform(0, 3, 2000)
    cylinder = np.column_stack([np.cos(angle), np.sin(angle), height])
    assert spectra.participation_ratio(cylinder) > 2.1
    assert manifold.local_participation_ratio(cylinder, classes=2, seed=0) == pytest.approx(2.0, abs=0.3)


def test_the_local_participation_ratio_of_a_curve_is_one_where_the_global_one_is_not():
    """A helix, a curved 1-D manifold in 3-D: its variance spreads over three directions, while a neighbourhood
    (100 of 1000 points, a tenth of two turns) is nearly straight. A set too small for a neighbourhood under a
    quarter of it (30 points: 7 < ``LOCAL_MINIMUM``) has no local measure apart from the global one: NaN."""
    t = np.sort(np.random.default_rng(0).uniform(0, 4 * np.pi, 1000))
    helix = np.column_stack([np.cos(t), np.sin(t), 0.2 * t])
    assert spectra.participation_ratio(helix) > 2
    assert manifold.local_participation_ratio(helix, classes=2, seed=0) == pytest.approx(1.0, abs=0.1)
    assert np.isnan(manifold.local_participation_ratio(helix[::34], classes=2, seed=0))


def test_components_to_reach_a_share_of_the_variance():
    fractions = np.array([0.6, 0.3, 0.08, 0.02])
    assert [manifold.components_to_reach(fractions, level) for level in (0.5, 0.9, 0.95, 1.0)] == [1, 2, 3, 4]
    assert manifold.components_to_reach(np.zeros(0), 0.9) == 0


def test_levina_bickel_and_the_correlation_dimension_find_two_on_a_plane_and_one_on_a_curve():
    """Tolerance 0.25: both estimators are biased low by edges on a few hundred points."""
    assert manifold.levina_bickel(plane()) == pytest.approx(2.0, abs=0.25)
    assert manifold.correlation_dimension(plane()) == pytest.approx(2.0, abs=0.25)
    t = np.random.default_rng(2).uniform(0, 3, 400)  # random: an even grid's equal distances bias the estimate
    curve = np.column_stack([np.cos(t), np.sin(t), t, np.zeros_like(t)])
    assert manifold.levina_bickel(curve) == pytest.approx(1.0, abs=0.1)
    # Too few distinct points (duplicates count once) for the neighbours asked: NaN, not a crash.
    assert np.isnan(manifold.levina_bickel(np.repeat(plane(10), 5, axis=0)))


@pytest.mark.parametrize("dimension", [2, 3, 5])
def test_levina_bickel_finds_the_dimension_of_a_sphere_within_its_bias(dimension):
    """1000 points on the unit sphere of ``dimension`` (no edges), rotated into 10-D: the estimator is biased
    low, more so as the dimension grows (Levina and Bickel 2005); within 10% below and 2% above here. The
    neighbour count is honoured: 10 neighbours give another estimate than 20."""
    rng = np.random.default_rng(dimension)
    sphere = rng.standard_normal((1000, dimension + 1))
    sphere /= np.linalg.norm(sphere, axis=1, keepdims=True)
    rotation, _ = np.linalg.qr(rng.standard_normal((10, 10)))
    points = sphere @ rotation[: dimension + 1]
    estimate = manifold.levina_bickel(points)
    assert 0.9 * dimension <= estimate <= 1.02 * dimension, estimate
    assert manifold.levina_bickel(points, neighbours=10) != estimate


@pytest.mark.parametrize("classes", [3, 4, 7])
def test_the_readout_angles_of_a_regular_simplex_are_the_simplex_angle(classes):
    rng = np.random.default_rng(classes)
    rotation, _ = np.linalg.qr(rng.standard_normal((10, 10)))
    vertices = np.eye(classes) - 1 / classes  # a regular simplex about its centre
    weights = vertices @ rotation[:classes] + rng.standard_normal(10)  # one vector added to every class
    angles = manifold.readout_angles(weights)
    assert len(angles) == classes * (classes - 1) // 2
    np.testing.assert_allclose(angles, manifold.simplex_angle(classes))
    assert manifold.simplex_angle(3) == pytest.approx(120.0)


def test_a_binary_logit_is_two_opposite_class_vectors():
    w = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(manifold.centred_class_vectors(w), [-w / 2, w / 2])
    assert manifold.readout_angles(w) == pytest.approx([180.0])
    assert manifold.simplex_angle(2) == pytest.approx(180.0)


def test_the_span_share_and_its_random_null():
    basis = np.eye(6)[:, :2]
    assert manifold.span_share(np.array([[1.0, 2, 0, 0, 0, 0]]), basis) == pytest.approx(1.0)
    assert manifold.span_share(np.array([[0.0, 0, 3, 0, 0, 0]]), basis) == pytest.approx(0.0)
    assert manifold.span_share(np.array([[1.0, 0, 1, 0, 0, 0]]), basis) == pytest.approx(0.5)
    # Parallel columns span one direction, not two.
    parallel = np.column_stack([np.eye(6)[:, 0], 2 * np.eye(6)[:, 0]])
    assert manifold.span_share(np.array([[1.0, 1, 0, 0, 0, 0]]), parallel) == pytest.approx(0.5)
    vectors = np.random.default_rng(0).standard_normal((3, 40))
    null = manifold.random_span_shares(vectors, dimension=4, samples=400, seed=0)
    assert null.mean() == pytest.approx(4 / 40, abs=0.01)


def test_slow_modes_are_counted_and_a_complex_pair_spans_its_plane():
    modulus = np.array([[1.0, 0.95, 0.5], [0.999, 0.98, 0.2]])
    assert manifold.slow_mode_counts(modulus, 0.9).tolist() == [1, 2]
    assert manifold.slow_mode_counts(modulus, 0.99).tolist() == [0, 1]
    assert manifold.unstable_mode_counts(modulus).tolist() == [1, 0]
    pair = np.array([[1, 1j, 0], [1, -1j, 0], [0, 0, 1]], dtype=complex) / np.sqrt(2)
    values = np.array([0.95 * np.exp(0.3j), 0.95 * np.exp(-0.3j), 0.1])
    span = manifold.slow_subspace(values, pair, 0.9)
    assert manifold.span_share(np.array([[0.0, 1.0, 0.0]]), span) == pytest.approx(1.0)
    assert manifold.span_share(np.array([[0.0, 0.0, 1.0]]), span) == pytest.approx(0.0)


def test_slow_modes_split_into_stable_and_unstable_on_a_jacobian_of_known_eigenvalues():
    """J = V diag(lambda) V^-1 with |lambda| 1.05 and 1.01 (growing), 0.995, a pair 0.97 e^(+-0.2i) and
    0.95 (stable, slow) and 0.5: per threshold, the stable modes between it and 1, and the unstable ones apart."""
    rng = np.random.default_rng(0)
    blocks = np.zeros((7, 7))
    blocks[np.diag_indices(7)] = [1.05, 1.01, 0.995, 0.95, 0.5, 0.0, 0.0]
    blocks[5:, 5:] = 0.97 * np.array([[np.cos(0.2), -np.sin(0.2)], [np.sin(0.2), np.cos(0.2)]])
    basis = rng.standard_normal((7, 7))
    jacobian = basis @ blocks @ np.linalg.inv(basis)
    modulus = np.sort(np.abs(np.linalg.eigvals(jacobian)))[::-1][None]
    counts = manifold.mode_counts(modulus)
    assert counts["slow_modes_stable_0.9"].tolist() == [4]
    assert counts["slow_modes_stable_0.99"].tolist() == [1]
    assert counts["slow_modes_unstable"].tolist() == [2]


def test_the_dimensions_of_a_fixed_point_set():
    points = plane()
    modulus = np.tile([1.0, 0.995, 0.95, 0.3], (len(points), 1))
    measures = manifold.dimensions(points, modulus)
    assert measures["pcs_90"] == 2 and measures["pcs_95"] == 2
    assert measures["correlation_dimension"] == pytest.approx(2.0, abs=0.25)
    assert measures["slow_modes_stable_0.9_median"] == 2 and measures["slow_modes_stable_0.99_median"] == 1
    assert measures["slow_modes_unstable_median"] == 1


def test_the_accuracy_from_the_visited_states_top_k_pcs():
    """Classes told apart in two directions of small variance, under one of large uninformative variance:
    the top PC alone answers one class, three PCs answer all. The PCs are the visited states': where the
    reviews passed through a second large direction, two PCs no longer answer the classes."""
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 100)
    centres = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]) * 3
    states = np.zeros((300, 5))
    states[:, 0] = rng.normal(0, 10, 300)
    states[:, 1:3] = centres[labels] + rng.normal(0, 0.3, (300, 2))
    weights = np.zeros((3, 5))
    weights[:, 1:3] = centres
    bias = -0.5 * (centres**2).sum(axis=1)  # the nearest centre's class
    visited = (states.mean(axis=0), np.cov(states.T))
    accuracy = analyses.projected_accuracy(states, labels, (weights, bias), 3, visited)
    assert accuracy["components"].tolist() == [1, 2, 3]
    assert accuracy["accuracy"][0] < 0.5 and accuracy["accuracy"][2] > 0.95
    passing = states.copy()
    passing[:, 3] = rng.normal(0, 10, 300)  # a direction the paths took that the final states here share
    wide = (passing.mean(axis=0), np.cov(passing.T))
    wide_accuracy = analyses.projected_accuracy(states, labels, (weights, bias), 3, wide)
    assert wide_accuracy["accuracy"][1] < 0.5 and accuracy["accuracy"][1] > 0.95


def test_shuffled_reviews_keep_their_words_and_labels_in_another_order():
    offsets = np.array([0, 5, 5 + 40])
    reviews = batches.Reviews(np.arange(45), offsets, np.array([0.0, 2.0]))
    mixed = analyses.shuffled(reviews, seed=0)
    for begin, end in zip(offsets[:-1], offsets[1:]):
        assert sorted(mixed.tokens[begin:end]) == list(range(begin, end))
    assert not np.array_equal(mixed.tokens[5:], reviews.tokens[5:]) and mixed.labels.tolist() == [0.0, 2.0]


# ---------------------------------------------------------------------------- trained controls
# One-layer GRUs on the synthetic N-class tasks, where the answer is known (Aitken et al. 2021). The recipe
# (8192 reviews of 20-40 words, up to 8 evidence words, 64 units, weight decay 1e-3, 10 epochs) was chosen
# over seeds; with 2048 reviews, or without weight decay, the fixed points of some seeds lie on a line and
# more modes than N - 1 stay above |lambda| = 0.9 (docs/training-notes.md, "N classes").


@functools.cache
def control_data(task: str, classes: int):
    """The controls' reviews of ``task`` (train, valid, test from data seeds 0, 1, 2, whatever the network's
    seed) and their vocabulary, generated once per session for the seeds of one task."""
    names = tuple(synthetic.class_names(task, classes))
    pairs = {
        split: synthetic.reviews(count, 20, 40, seed=data_seed, task=task, classes=classes, evidence_words=8)
        for data_seed, (split, count) in enumerate({"train": 8192, "valid": 128, "test": 256}.items())
    }
    vocabulary = Vocabulary.build(tokens for tokens, _ in pairs["train"])

    def encode(split_pairs):
        ids = [[vocabulary.index[word] for word in tokens] for tokens, _ in split_pairs]
        offsets = np.concatenate([[0], np.cumsum([len(t) for t in ids])]).astype(np.int64)
        labels = np.array([label for _, label in split_pairs], dtype=np.float32)
        return batches.Reviews(np.concatenate(ids), offsets, labels, datasets.Classes(names, task == "ordered"))

    return {split: encode(split_pairs) for split, split_pairs in pairs.items()}, vocabulary


def control(task: str, classes: int, seed: int = 0):
    """A GRU trained on ``task``: its metrics, the analysis of its fixed points (500 starts from test states,
    with the untrained network's null) and the search's result with the system it searched."""
    splits, vocabulary = control_data(task, classes)
    settings = training.Settings(epochs=10, learning_rate=0.01, dropout=0.0, weight_decay=1e-3, device="cpu", threads=1)
    embeddings = np.random.default_rng(0).normal(size=(len(vocabulary), 16)).astype(np.float32)
    with tempfile.TemporaryDirectory() as folder:
        files = ("initial.pt", "model.pt", "history.parquet", "metrics.json", "checkpoint.pt")
        outputs = training.Outputs(*(Path(folder) / name for name in files))
        metrics = training.train(
            ModelSpec("gru", 1, 16, 64, seed, batch_size=32), splits, embeddings, settings, outputs
        )
        network, initial = model_lib.load(outputs.final), model_lib.load(outputs.initial)
    system = network.system("layer1")
    visited = visited_states(network, splits["test"], np.arange(128))[0]
    starts = fixed_points.sample_starts(visited, 500, noise=0.0, seed=0)
    search, gather = fixed_points.SearchSettings(), fixed_points.GatherSettings()
    found = fixed_points.solve(system, starts, search, progress=False)
    lin = linearization.linearize(system, fixed_points.approximate_set(found, gather))
    counts = np.asarray(vocabulary.counts)
    settings = analyses.Settings(reviews=256, null_samples=200)
    untrained = analyses.Untrained(initial, fixed_points.gather([found.to_table()], gather), search, gather)
    result = analyses.analyze(network, "layer1", lin, splits["train"], splits["test"], vocabulary.tokens, counts,
                              settings, progress=False, untrained=untrained)  # fmt: skip
    return metrics, result, (found, system)


@pytest.mark.slow
@pytest.mark.train
@pytest.mark.parametrize("classes", [3, 4])
def test_a_categorical_gru_integrates_on_a_manifold_of_n_minus_1_dimensions(classes):
    """Test accuracy >= 0.95; N - 1 PCs reach 90% of the fixed points' variance and the N-th adds under 5%;
    the median count of |lambda| > 0.9 is N - 1; the readout lies in the manifold's span (above the 95th
    percentile of random subspaces). Measured at seed 0: N = 3, PCs 0.73 + 0.27, then 0.003, 2 slow modes;
    N = 4, 0.66 + 0.21 + 0.12, then 0.005, 3 slow modes. At seed 1 the dimensions hold too, and N = 3 has 3
    slow modes (its third |lambda| is 0.903). Every dimension row of the fixed points lies beyond the untrained
    network's (N = 3: extent 1.4 against 0.02-0.03, participation ratio 1.7 against 2.4-4.3, pcs_90 2 against
    3-5), and the accuracy is within the shuffled words' null: the label counts words, whatever their order."""
    metrics, result, _ = control("categorical", classes)
    summary, fractions = result["summary"], result["dimensionality"]["variance_fraction"].to_numpy()
    assert metrics["test_accuracy"] >= 0.95
    assert summary["pcs_90"] == classes - 1 and fractions[classes - 1] < 0.05, fractions[:6]
    assert summary["slow_modes_stable_0.9_median"] + summary["slow_modes_unstable_median"] == classes - 1
    assert summary["readout_in_manifold_share"] > summary["null_readout_in_manifold_95"]
    rows = result["evidence"].set_index(["measure", "null"])
    untrained = rows.xs("untrained", level="null")
    assert untrained.loc[[f"fixed_points_{measure}" for measure in evidence.SET_SIDES], "beyond_null"].all(), untrained
    assert not rows.loc[("network_accuracy", "shuffled_words"), "beyond_null"]


@pytest.mark.slow
@pytest.mark.train
@pytest.mark.parametrize("seed", [0, 1])
def test_an_ordered_gru_of_five_classes_integrates_on_fewer_than_n_minus_1_dimensions(seed):
    """Ordered classes need fewer dimensions than categorical ones (Aitken et al.): at every tolerance of the
    sweep (``fixed_points.q_sweep`` times the relative tolerance, the search run again at each) where the
    search finds points, they spread along the visited states (not a point) with a participation ratio below
    N - 1 = 4, and their PCs to 90% never fall as the tolerance loosens (a start stopped earlier stays nearer
    its start, off the slow manifold). Measured on one 2-core CPU at 0.1, 1 and 10 times the tolerance: seed
    0, participation ratios 1.33, 1.90, 3.44 and PCs 2, 3, 4; seed 1, 2.40, 2.62, 2.85 and 3, 3, 4. Not one
    run's numbers: on another machine the trained network (and how low its slow points reach in q) differs."""
    metrics, _, (found, system) = control("ordered", 5, seed)
    assert metrics["test_accuracy"] >= 0.9
    gathered = fixed_points.gather([found.to_table()], fixed_points.GatherSettings())
    multiples, search = config.defaults("fixed_points")["q_sweep"], fixed_points.SearchSettings()
    sets = {
        tolerance: tables.set_measures(table, 5)
        for _, tolerance, table in fixed_points.tolerance_sweep(gathered, multiples, system, search)
    }
    found_sets = {tolerance: measures for tolerance, measures in sets.items() if measures["unique_fixed_points"] >= 2}
    assert found_sets, f"no tolerance of the sweep has two fixed points; the lowest q is {found.q.min():.3g}"
    for tolerance, measures in found_sets.items():
        assert measures["shape"] != "point" and measures["extent"] >= words.POINT_EXTENT, (tolerance, measures)
        assert measures["participation_ratio"] < 4, (tolerance, measures)
    pcs = [found_sets[tolerance]["pcs_90"] for tolerance in sorted(found_sets)]
    assert pcs == sorted(pcs), found_sets
