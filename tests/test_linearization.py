"""Jacobians and eigendecompositions at fixed points, and the line attractor of a trained GRU."""

import copy

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from rnn_dynamics.data import batches
from rnn_dynamics.dynamics import fixed_points, linearization, states
from rnn_dynamics.ground import storage
from rnn_dynamics.ground.grid import ModelSpec
from rnn_dynamics.networks import model as model_lib
from rnn_dynamics.outputs import tables
from test_fixed_points import gru_system, linear_system


def finite_differences(function, point, eps=1e-6):
    """Central differences of ``function`` (vector -> vector) at ``point``: (out, in)."""
    columns = []
    for i in range(len(point)):
        step = np.zeros_like(point)
        step[i] = eps
        columns.append((function(point + step) - function(point - step)) / (2 * eps))
    return np.stack(columns, axis=1)


def test_jacobians_match_finite_differences():
    system = gru_system(state_size=5, input_size=3)
    rng = np.random.default_rng(0)
    h, x = rng.uniform(-1, 1, 5), rng.standard_normal(3)
    j_rec, j_inp = linearization.jacobians(system, h[None], x)

    def step(h_, x_):
        return system.step(torch.tensor(h_)[None], torch.tensor(x_)[None])[0].numpy()

    np.testing.assert_allclose(j_rec[0], finite_differences(lambda v: step(v, x), h), atol=1e-8)
    np.testing.assert_allclose(j_inp[0], finite_differences(lambda v: step(h, v), x), atol=1e-8)


def test_eigendecomposition_is_sorted_with_biorthonormal_eigenvectors():
    system = gru_system(state_size=6, input_size=2)
    points = np.random.default_rng(1).uniform(-1, 1, (3, 6))
    lin = linearization.linearize(system, points, modes=4, chunk=2)
    j_rec, j_inp = linearization.jacobians(system, points)
    assert lin.right.shape == lin.left.shape == (3, 4, 6)
    np.testing.assert_allclose(lin.left_input, lin.left @ j_inp, atol=1e-12)
    assert (np.diff(lin.modulus, axis=1) <= 1e-12).all()
    for k in range(3):
        for m in range(4):
            value, right, left = lin.eigenvalues[k, m], lin.right[k, m], lin.left[k, m]
            np.testing.assert_allclose(j_rec[k] @ right, value * right, atol=1e-10)
            np.testing.assert_allclose(left @ j_rec[k], value * left, atol=1e-10)
            np.testing.assert_allclose(left @ right, 1.0, atol=1e-10)


def test_time_constants_of_a_linear_system_follow_its_eigenvalues(tmp_path):
    system, known = linear_system(size=4)
    lin = linearization.linearize(system, known[None], fixed_point_id=[7], modes=None)
    np.testing.assert_allclose(lin.modulus[0, 0], 0.9)  # linear_system scales A to spectral radius 0.9
    np.testing.assert_allclose(lin.time_constants[0, 0], 1 / abs(np.log(0.9)))
    pq.write_table(lin.to_table(), tmp_path / "layer1.parquet")
    back = linearization.read(tmp_path / "layer1.parquet")
    assert back.fixed_point_id.tolist() == [7]
    for name in ("fixed_point", "eigenvalues", "right", "left", "left_input"):
        np.testing.assert_array_equal(getattr(back, name), getattr(lin, name))
    np.testing.assert_array_equal(linearization.read_modulus(tmp_path / "layer1.parquet"), lin.modulus)
    assert linearization.largest_modulus(lin.modulus) == (lin.modulus[0, 0], lin.time_constants[0, 0])


def test_a_trained_gru_has_a_slow_mode_at_its_fixed_points(trained_synthetic_model, prepared_synthetic_large):
    """The science: training on sentiment makes fixed points with |lambda| near 1 (a line attractor)."""
    model = model_lib.load(trained_synthetic_model).eval()
    (visited,) = states.visited_states(
        model, batches.read_split(prepared_synthetic_large / "test.parquet"), np.arange(100)
    )
    system = model.system("layer1")
    starts = fixed_points.sample_starts(visited, 100, noise=0.0, seed=0)
    result = fixed_points.solve(system, starts, fixed_points.SearchSettings(), progress=False)
    gathered = fixed_points.gather([result.to_table()], fixed_points.GatherSettings())
    counts = fixed_points.counts(gathered)
    assert counts["converged"] >= 90
    unique = fixed_points.unique_fixed_points(gathered)
    lin = linearization.linearize(system, storage.list_matrix(unique["fixed_point"]))
    median, tau = linearization.largest_modulus(lin.modulus)
    assert median > 0.9, (counts, median)
    assert tau > 9


def test_the_stack_spectrum_is_the_union_of_its_layers_spectra():
    """Layer 2 reads layer 1 but not back: the stack's J_rec is block triangular at its fixed point."""
    network = model_lib.SentimentClassifier(
        ModelSpec.parse("gru-L2-E4-H6-s0"), vocab_size=10, dropout=0.0, layer_dropout=0.0
    )
    stack = network.system("stack")
    result = fixed_points.solve(
        stack, np.zeros((1, 12)), fixed_points.SearchSettings(q_rule="absolute", q_tol=1e-24), progress=False
    )
    assert result.converged.all()
    joint = linearization.linearize(stack, result.fixed_point, modes=None).eigenvalues[0]
    point = result.fixed_point[0]
    layer1 = linearization.linearize(network.system("layer1"), point[:6], modes=None).eigenvalues[0]
    # Layer 2 alone sees layer 1's output at the fixed point as its constant input.
    layer2 = linearization.linearize(network.system("layer2"), point[6:], x=point[:6], modes=None).eigenvalues[0]
    np.testing.assert_allclose(np.sort_complex(joint), np.sort_complex(np.concatenate([layer1, layer2])), atol=1e-10)


def test_fixed_point_table_pairs_fixed_point_and_linearization_tables(tmp_path):
    system, known = linear_system(size=3)
    starts = np.random.default_rng(0).standard_normal((4, 3))
    gathered = fixed_points.gather(
        [
            fixed_points.solve(
                system, starts, fixed_points.SearchSettings(q_rule="absolute", q_tol=1e-12), progress=False
            ).to_table()
        ],
        fixed_points.GatherSettings(),
    )
    model_id = "gru-L1-E4-H3-s0"
    # The same system's tables for the test split (untagged) and the train split (tagged @train).
    for kind, table in (
        ("fixed_points", gathered),
        ("linearization", linearization.linearize_table(system, gathered).to_table()),
    ):
        for tag in ("", "@train"):
            (tmp_path / kind / f"{model_id}{tag}").mkdir(parents=True)
            pq.write_table(table, tmp_path / kind / f"{model_id}{tag}" / "layer1.parquet")
    summary = tables.fixed_point_table(sorted(tmp_path.glob("*/*/*.parquet")))
    assert sorted(summary["split"]) == ["test", "train"] and set(summary["model"]) == {model_id}
    row = summary.iloc[0].to_dict()
    assert row["model"] == model_id and row["system"] == "layer1"
    assert (row["starts"], row["converged"], row["converged_1e-8"], row["unique_fixed_points"]) == (4, 4, 4, 1)
    assert row["exact_roots"] == -1  # not sought
    assert np.isnan(row["first_pc_share"]) and np.isnan(row["extent"])  # one point is no line
    np.testing.assert_allclose(row["median_largest_modulus"], 0.9)
    np.testing.assert_allclose(row["time_constant"], 1 / abs(np.log(0.9)))


CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")


@pytest.mark.parametrize("name", ["cpu", "auto", pytest.param("cuda", marks=CUDA)])
def test_linearize_on_a_device_returns_the_cpu_result(name):
    """fixed_points.device reaches the Jacobians; the result is numpy on the CPU, identical on the CPU itself."""
    device = model_lib.resolve_device(name, "fixed_points.device")
    network = model_lib.SentimentClassifier(
        ModelSpec.parse("gru-L2-E4-H6-s0"), vocab_size=10, dropout=0.0, layer_dropout=0.0
    )
    points = np.random.default_rng(2).uniform(-1, 1, (5, 6))
    x = np.random.default_rng(3).uniform(-1, 1, 6)
    reference = linearization.linearize(network.system("layer2"), points, x=x, modes=None, chunk=2)
    moved = copy.deepcopy(network).to(device)
    result = linearization.linearize(moved.system("layer2"), points, x=x, modes=None, chunk=2, device=device)
    for field in ("fixed_point_id", "fixed_point", "eigenvalues", "right", "left", "left_input"):
        value, expected = getattr(result, field), getattr(reference, field)
        assert isinstance(value, np.ndarray), field
        if device.type == "cpu":
            np.testing.assert_array_equal(value, expected, err_msg=field)
        else:
            np.testing.assert_allclose(value, expected, atol=1e-9, err_msg=field)


def test_a_cuda_device_without_cuda_names_the_key():
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ValueError, match="fixed_points.device is 'cuda'"):
        model_lib.resolve_device("cuda", "fixed_points.device")
