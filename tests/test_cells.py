"""The explicit update equations against torch's fused modules."""

import pytest
import torch
from torch import nn

from rnn_dynamics.ground.grid import ModelSpec
from rnn_dynamics.networks import cells, scan
from rnn_dynamics.networks.model import SentimentClassifier


def test_registry_names_the_known_architectures_for_an_unknown_one():
    assert cells.get("gru") is cells.GRU
    assert cells.CELLS["gru"].state_size(16) == 16
    with pytest.raises(ValueError, match=r"'lstmx'.*\['gru', 'lstm', 'ugrnn', 'vanilla'\]"):
        cells.get("lstmx")


def run_equations(cell, params, h, x):
    """The states (B, T, S) of ``cell``'s explicit equations from state ``h`` over inputs ``x`` (B, T, I)."""
    steps = []
    for t in range(x.shape[1]):
        h = cell.step(params, h, x[:, t])
        steps.append(h)
    return torch.stack(steps, dim=1)


def ugrnn_reference(weight_g, bias_g, weight_c, bias_c, h, x):
    """Collins et al.'s equations on the concatenation [x, h], one time step at a time."""
    outputs = []
    for t in range(x.shape[1]):
        joint = torch.cat([x[:, t], h], dim=-1)
        g = torch.sigmoid(joint @ weight_g.T + bias_g)
        c = torch.tanh(joint @ weight_c.T + bias_c)
        h = g * h + (1 - g) * c
        outputs.append(h)
    return torch.stack(outputs, dim=1)


# The fused torch module of each architecture that has one (the UGRNN has none: see below).
FUSED = {"gru": nn.GRU, "lstm": nn.LSTM, "vanilla": nn.RNN}


@pytest.mark.parametrize("name", sorted(FUSED))
def test_equations_match_the_fused_module_over_a_sequence_in_float64(name):
    cell = cells.get(name)
    torch.manual_seed(0)
    module = FUSED[name](5, 7, batch_first=True).double()
    x = torch.randn(3, 20, 5, dtype=torch.float64)
    # (h0,) or, for the LSTM, (h0, c0): the state is their concatenation.
    initial = torch.randn(cell.state_size(7) // 7, 1, 3, 7, dtype=torch.float64)
    expected, finals = module(x, tuple(initial) if name == "lstm" else initial[0])
    states = run_equations(cell, cells.layer_parameters(module, 0), torch.cat(list(initial[:, 0]), dim=-1), x)
    assert states.shape == (3, 20, cell.state_size(7))
    assert (cell.output(states) - expected).abs().max().item() < 1e-10
    if name == "lstm":  # the cell state, which the fused module gives only after the last step
        assert (states[:, -1, 7:] - finals[1][0]).abs().max().item() < 1e-10


def test_lstm_state_sequence_recovers_the_cell_state_from_the_fused_outputs():
    torch.manual_seed(0)
    lstm = nn.LSTM(5, 7, batch_first=True).double()
    x = torch.randn(3, 20, 5, dtype=torch.float64)
    outputs, _ = lstm(x)
    params = cells.layer_parameters(lstm, 0)
    expected = run_equations(cells.LSTM, params, torch.zeros(3, 14, dtype=torch.float64), x)
    assert (cells.LSTM.state_sequence(params, x, outputs) - expected).abs().max().item() < 1e-10


def test_ugrnn_equations_and_module_match_a_direct_ugrnn_over_a_sequence_in_float64():
    torch.manual_seed(0)
    module = scan.UGRNNModule(5, 7, num_layers=2, batch_first=True).double()
    x = torch.randn(3, 20, 5, dtype=torch.float64)
    h0 = torch.randn(2, 3, 7, dtype=torch.float64)
    outputs, finals = module(x, h0)
    inputs = x
    for layer in range(2):
        params = cells.layer_parameters(module, layer)
        # [x, h] @ W^T splits into weight_ih x + weight_hh h; rows [gate; candidate].
        joint = torch.cat([params["weight_ih"], params["weight_hh"]], dim=1)
        bias = params["bias_ih"] + params["bias_hh"]
        reference = ugrnn_reference(joint[:7], bias[:7], joint[7:], bias[7:], h0[layer], inputs)
        equations = run_equations(cells.UGRNN, params, h0[layer], inputs)
        assert (equations - reference).abs().max().item() < 1e-10
        assert (finals[layer] - reference[:, -1]).abs().max().item() < 1e-10
        inputs = reference
    assert (outputs - inputs).abs().max().item() < 1e-10


@pytest.mark.parametrize("name", sorted(cells.CELLS))
def test_every_step_is_differentiable_with_torch_func(name):
    cell = cells.get(name)
    torch.manual_seed(0)
    module = scan.recurrent_module(cell)(4, 6, num_layers=1, batch_first=True)
    params = {k: v.detach().double() for k, v in cells.layer_parameters(module, 0).items()}
    size = cell.state_size(6)
    h = torch.randn(5, size, dtype=torch.float64)
    x = torch.zeros(5, 4, dtype=torch.float64)
    jacobians = torch.func.vmap(torch.func.jacrev(lambda h, x: cell.step(params, h, x)))(h, x)
    assert jacobians.shape == (5, size, size) and jacobians.dtype == torch.float64
    single = torch.autograd.functional.jacobian(lambda v: cell.step(params, v, x[0]), h[0])
    torch.testing.assert_close(jacobians[0], single)
    assert cell.output(h).shape == (5, 6)


@pytest.mark.parametrize("architecture", sorted(cells.CELLS))
@pytest.mark.parametrize("system_name", ["layer1", "layer2", "stack"])
def test_closed_form_jacobians_equal_autograd(architecture, system_name):
    """J_rec and J_inp of every cell, one layer or the stack, in closed form equal reverse-mode autograd."""
    torch.manual_seed(0)
    network = SentimentClassifier(ModelSpec(architecture, 2, 5, 7, 0), vocab_size=10, dropout=0.0, layer_dropout=0.0)
    system = network.system(system_name)
    assert system.closed_form_jacobians is not None
    h = 0.8 * torch.randn(6, system.state_size, dtype=torch.float64)
    x = torch.randn(6, system.input_size, dtype=torch.float64)
    by_autograd = cells.DynamicalSystem(system.step, system.state_size, system.input_size, system.readout)
    for closed, reference in zip(system.jacobians(h, x), by_autograd.jacobians(h, x)):
        assert closed.shape == reference.shape
        torch.testing.assert_close(closed, reference, atol=1e-10, rtol=0)
