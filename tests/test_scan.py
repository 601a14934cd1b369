"""Scans over whole sequences (scan.scan): the same states as stepping each cell's explicit equations."""

import pytest
import torch

import helpers
from rnn_dynamics.ground.grid import ModelSpec
from rnn_dynamics.networks import cells, scan
from rnn_dynamics.networks import model as model_lib

ARCHITECTURES = sorted(cells.CELLS)
HIDDEN, INPUT = 7, 5


def float64_layer(architecture, seed=0):
    return helpers.float64_layer(architecture, INPUT, HIDDEN, seed)


def stepped(cell, params, inputs, h0):
    h, states = h0, []
    for t in range(inputs.shape[1]):
        h = cell.step(params, h, inputs[:, t])
        states.append(h)
    return torch.stack(states, dim=1)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_scan_equals_the_explicit_equations(architecture):
    cell = cells.get(architecture)
    params = float64_layer(architecture)
    inputs = torch.randn(4, 11, INPUT, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    h0 = 0.5 * torch.randn(4, cell.state_size(HIDDEN), dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    for start in (h0, None):
        expected = stepped(cell, params, inputs, torch.zeros_like(h0) if start is None else start)
        torch.testing.assert_close(scan.scan(cell, params, inputs, start, compiled=False), expected, rtol=0, atol=1e-12)


CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=CUDA)])
@pytest.mark.parametrize("architecture", ["ugrnn", "vanilla"])
def test_compiled_scan_equals_the_explicit_equations(architecture, device):
    """The GPU path (chunks of steps through torch.compile) in float64: two chunks and a remainder, states and
    gradients as the explicit equations stepped eagerly. On a GPU through inductor, the kernels training runs;
    on a CPU through "aot_eager", the same captured chunk and its backward without inductor's C++ build (the
    CPU's code generation, not the GPU's, and the slowest step of the compile)."""
    cell = cells.get(architecture)
    backend = "inductor" if device == "cuda" else "aot_eager"
    params = {name: value.to(device) for name, value in float64_layer(architecture).items()}
    inputs = torch.randn(3, 9, INPUT, dtype=torch.float64, generator=torch.Generator().manual_seed(1)).to(device)
    expected = stepped(cell, params, inputs, torch.zeros(3, HIDDEN, dtype=torch.float64, device=device))

    def compiled(weights):
        return scan.scan(cell, {**params, "weight_hh": weights}, inputs, compiled=True, chunk=4, backend=backend)

    torch.testing.assert_close(compiled(params["weight_hh"]), expected, rtol=0, atol=1e-12)
    # The chunks ran compiled, not eagerly after a failed compile.
    assert (cell.name, 4, backend) in scan._COMPILED_CHUNKS and (cell.name, 4, backend) not in scan._UNCOMPILABLE
    # Gradients flow through the compiled steps as through the eager ones (training uses them).
    weights = params["weight_hh"].clone().requires_grad_()
    compiled_grad = torch.autograd.grad(compiled(weights).sum(), weights)[0]
    eager_grad = torch.autograd.grad(
        stepped(
            cell, {**params, "weight_hh": weights}, inputs, torch.zeros(3, HIDDEN, dtype=torch.float64, device=device)
        ).sum(),
        weights,
    )[0]
    torch.testing.assert_close(compiled_grad, eager_grad, rtol=0, atol=1e-10)


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=CUDA)])
def test_the_ugrnn_through_the_fused_gru_kernel_equals_the_explicit_equations(device):
    """On a GPU the UGRNN trains through the GRU kernel with its reset gate held open (cuDNN's kernel there,
    torch's own here): states and every parameter's gradient as the UGRNN's explicit equations, in float64."""
    cell = cells.UGRNN
    params = {name: value.to(device).requires_grad_() for name, value in float64_layer("ugrnn").items()}
    inputs = torch.randn(4, 13, INPUT, dtype=torch.float64, generator=torch.Generator().manual_seed(1)).to(device)
    h0 = 0.5 * torch.randn(4, HIDDEN, dtype=torch.float64, generator=torch.Generator().manual_seed(2)).to(device)
    for start in (h0, None):
        expected = stepped(cell, params, inputs, torch.zeros_like(h0) if start is None else start)
        fused = scan.fused_ugrnn(params, inputs, start)
        torch.testing.assert_close(fused, expected, rtol=0, atol=1e-12)
        weights = torch.randn(expected.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
        weights = weights.to(device)
        grads = torch.autograd.grad((fused * weights).sum(), list(params.values()))
        expected_grads = torch.autograd.grad((expected * weights).sum(), list(params.values()))
        for name, grad, expected_grad in zip(params, grads, expected_grads):
            torch.testing.assert_close(grad, expected_grad, rtol=0, atol=1e-10, msg=name)
    with torch.no_grad():  # inference: cuDNN keeps nothing for a backward pass
        torch.testing.assert_close(scan.fused_ugrnn(params, inputs, h0), stepped(cell, params, inputs, h0))


def test_the_ugrnn_module_off_a_gpu_is_the_eager_scan():
    """Off a GPU the module's states are the scan's (the eager explicit equations), bit for bit."""
    torch.manual_seed(0)
    module = scan.UGRNNModule(INPUT, HIDDEN, num_layers=2).double()
    inputs = torch.randn(3, 6, INPUT, dtype=torch.float64)
    outputs, finals = module(inputs)
    first = scan.scan(cells.UGRNN, cells.layer_parameters(module, 0), inputs, compiled=False)
    second = scan.scan(cells.UGRNN, cells.layer_parameters(module, 1), first, compiled=False)
    torch.testing.assert_close(outputs, second, rtol=0, atol=0)
    torch.testing.assert_close(finals, torch.stack([first[:, -1], second[:, -1]]), rtol=0, atol=0)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_cpu_layer_states_and_scan_equal_the_fused_modules_path(architecture):
    """On a CPU, layer_states (the scan for the cells in model.CPU_SCAN) and the scan itself give the states
    of the fused module plus state_sequence, the path layer_states took before."""
    torch.manual_seed(0)
    net = (
        model_lib.SentimentClassifier(ModelSpec(architecture, 2, INPUT, HIDDEN, 0), 30, dropout=0.0, layer_dropout=0.0)
        .double()
        .eval()
    )
    tokens = torch.randint(1, 30, (5, 13), generator=torch.Generator().manual_seed(3))
    lengths = torch.full((5,), 13)
    with torch.no_grad():
        fast = net.layer_states(tokens, lengths)
        inputs = net.embedding(tokens)
        for layer in range(2):
            outputs, _ = net._single_layer(layer)(inputs)
            reference = net.cell.state_sequence(cells.layer_parameters(net.recurrent, layer), inputs, outputs)
            torch.testing.assert_close(fast[layer], reference, rtol=0, atol=1e-10)
            scanned = scan.scan(net.cell, cells.layer_parameters(net.recurrent, layer), inputs)
            torch.testing.assert_close(scanned, reference, rtol=0, atol=1e-10)
            inputs = outputs
