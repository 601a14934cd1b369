"""Any recurrent network as a discrete dynamical system ``h' = F(h, x)``: what the search and the linearization
take.

Torch's own modules (``nn.GRU``, ``nn.LSTM``, ``nn.RNN``: one layer of them or the stack of all) and cells
(``nn.GRUCell``, ``nn.LSTMCell``, ``nn.RNNCell``) run through the project's update equations, which follow
torch's (``networks.cells``), with their closed-form Jacobians and the state bound of their architecture; the
system is built by ``networks.model.system``, as for the pipeline's own classifiers. Any other callable
``step(h, x) -> h'`` runs as given, its Jacobians by autograd (``torch.func``), with no state bound unless one
is given. An LSTM's state is ``[h, c]`` (S = 2H), as in the pipeline.
"""

from __future__ import annotations

import copy
from typing import Callable, Literal, Union

import numpy as np
import torch
from torch import Tensor, nn

from rnn_dynamics.networks import cells, model

__all__ = ["CELL_MODULES", "RECURRENT_MODULES", "Layer", "Network", "as_system", "trajectories"]

# Torch's multi-layer modules and single-step cells, with the project's cell of the same update.
RECURRENT_MODULES: dict[type[nn.Module], type[cells.Cell]] = {
    nn.GRU: cells.GRU,
    nn.LSTM: cells.LSTM,
    nn.RNN: cells.Vanilla,
}
CELL_MODULES: dict[type[nn.Module], type[cells.Cell]] = {
    nn.GRUCell: cells.GRU,
    nn.LSTMCell: cells.LSTM,
    nn.RNNCell: cells.Vanilla,
}

Network = Union[nn.Module, Callable[[Tensor, Tensor], Tensor], cells.DynamicalSystem]
# A layer of a multi-layer module (0-based, as torch's ``weight_hh_l{k}``), or the stack of all (None too).
Layer = Union[int, Literal["stack"], None]


def _check_module(network: nn.Module) -> None:
    """Stop on the variants of torch's modules whose update the cells do not write."""
    name = type(network).__name__
    if getattr(network, "bidirectional", False):
        raise ValueError(
            f"{name} is bidirectional: a fixed point belongs to one direction's update; give one direction"
        )
    if getattr(network, "proj_size", 0):
        raise ValueError(f"{name} has proj_size {network.proj_size}: projected LSTMs are not supported")
    if getattr(network, "nonlinearity", "tanh") != "tanh":
        raise ValueError(
            f"{name} has nonlinearity {network.nonlinearity!r}: only tanh has closed-form Jacobians here; pass "
            "its update as a step(h, x) function instead"
        )


def as_system(
    network: Network,
    layer: Layer = None,
    *,
    state_size: int | None = None,
    input_size: int | None = None,
    state_bound: np.ndarray | float | None = None,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float64,
) -> cells.DynamicalSystem:
    """``network`` as a ``cells.DynamicalSystem`` with its weights in ``dtype`` on ``device``.

    Args:
        network: a ``torch.nn.GRU``/``LSTM``/``RNN`` (``batch_first`` either way), a ``GRUCell``/``LSTMCell``/
            ``RNNCell``, a ``cells.DynamicalSystem`` (returned as it is), or any callable ``step(h, x) -> h'``
            on batches (B, S), (B, I) of float64 tensors (an ``nn.Module`` is copied into ``dtype`` first).
        layer: for a multi-layer module, the layer (0-based) whose update is the system, or ``"stack"`` (or
            None): all layers as one system, their states concatenated bottom first.
        state_size, input_size: a callable's S and I (torch's modules know theirs).
        state_bound: a callable's largest reachable |h| per coordinate (or one for all): the search stays
            inside it; None leaves it unbounded. Torch's modules have their architecture's.

    Example:
        >>> import torch
        >>> from rnn_dynamics.api.systems import as_system
        >>> system = as_system(torch.nn.GRU(3, 8, num_layers=2), layer=1)
        >>> system.state_size, system.input_size
        (8, 8)
    """
    if isinstance(network, cells.DynamicalSystem):
        return network
    if type(network) in RECURRENT_MODULES:
        _check_module(network)
        layers = network.num_layers
        if layer is None or layer == "stack":
            name = "stack"
        elif isinstance(layer, int) and not isinstance(layer, bool) and 0 <= layer < layers:
            name = f"layer{layer + 1}"
        else:
            raise ValueError(
                f"layer must be 0..{layers - 1} or 'stack' for this {type(network).__name__}, not {layer!r}"
            )
        parameters = [
            {key: value.detach().to(device) for key, value in cells.layer_parameters(network, k).items()}
            for k in range(layers)
        ]
        cell = RECURRENT_MODULES[type(network)]
        return model.system(cell, parameters, network.input_size, name, type(network).__name__, dtype)
    if type(network) in CELL_MODULES:
        _check_module(network)
        if layer not in (None, 0, "stack"):
            raise ValueError(f"a {type(network).__name__} has one layer; layer must be None, not {layer!r}")
        parameters = {key: value.detach().to(device) for key, value in cells.layer_parameters(network, None).items()}
        cell = CELL_MODULES[type(network)]
        return model.system(cell, [parameters], network.input_size, "layer1", type(network).__name__, dtype)
    if not callable(network):
        raise TypeError(
            f"network must be a torch recurrent module or cell, a DynamicalSystem or a step(h, x) function, not "
            f"{type(network).__name__}"
        )
    return _callable_system(network, state_size, input_size, state_bound, device, dtype)


def _callable_system(step, state_size, input_size, state_bound, device, dtype) -> cells.DynamicalSystem:
    """A ``step(h, x)`` function as a system, checked once on a batch of zeros."""
    if state_size is None or input_size is None:
        raise ValueError(
            "a step(h, x) function needs its state and input sizes: give the starts (B, S) and the inputs "
            "((I,) or (B, I)) it runs on"
        )
    if isinstance(step, nn.Module):
        step = copy.deepcopy(step).to(device=device, dtype=dtype)
    h = torch.zeros(2, state_size, dtype=dtype, device=device)
    x = torch.zeros(2, input_size, dtype=dtype, device=device)
    try:
        out = step(h, x)
    except Exception as exc:
        raise ValueError(
            f"step(h, x) failed on h ({2}, {state_size}) and x ({2}, {input_size}) of {dtype} on {device}: {exc}"
        ) from exc
    if not torch.is_tensor(out) or tuple(out.shape) != (2, state_size):
        shape = tuple(out.shape) if torch.is_tensor(out) else type(out).__name__
        raise ValueError(f"step(h, x) must return the next states (B, {state_size}), got {shape}")
    bound = (
        None
        if state_bound is None
        else np.array(np.broadcast_to(np.asarray(state_bound, dtype=np.float64), (state_size,)))
    )
    return cells.DynamicalSystem(
        step=step, state_size=state_size, input_size=input_size, readout=lambda h: h, state_bound=bound
    )


def trajectories(
    network: Network, inputs, layer: Layer = None, initial=None, *, state_size: int | None = None
) -> np.ndarray:
    """The system's states (B, T, S), float64, while ``network`` reads ``inputs`` from ``initial`` (zeros).

    ``inputs`` is (B, T, I), or (T, B, I) for a torch module built with ``batch_first=False``, as that
    module reads it; the states are always (B, T, S). For an LSTM they are ``[h, c]``, for the stack all
    layers' states concatenated: the states ``sample_starts`` draws the search's starts from.

    Example:
        >>> import torch
        >>> from rnn_dynamics.api.systems import trajectories
        >>> trajectories(torch.nn.LSTM(3, 4, batch_first=True), torch.zeros(5, 7, 3)).shape
        (5, 7, 8)
    """
    inputs = torch.as_tensor(np.asarray(inputs, dtype=np.float64))
    if inputs.ndim != 3:
        raise ValueError(f"inputs must be a sequence batch (B, T, I) or (T, B, I), got shape {tuple(inputs.shape)}")
    if type(network) in RECURRENT_MODULES and not network.batch_first:
        inputs = inputs.transpose(0, 1)
    system = as_system(network, layer, state_size=state_size, input_size=inputs.shape[-1])
    if system.input_size != inputs.shape[-1]:
        raise ValueError(f"inputs have {inputs.shape[-1]} features, the network reads {system.input_size}")
    h = (
        torch.zeros(inputs.shape[0], system.state_size, dtype=torch.float64)
        if initial is None
        else torch.as_tensor(np.asarray(initial, dtype=np.float64))
    )
    if tuple(h.shape) != (inputs.shape[0], system.state_size):
        raise ValueError(f"initial must have shape ({inputs.shape[0]}, {system.state_size}), got {tuple(h.shape)}")
    states = []
    with torch.no_grad():
        for t in range(inputs.shape[1]):
            h = system.step(h, inputs[:, t])
            states.append(h)
    return torch.stack(states, dim=1).numpy() if states else np.zeros((inputs.shape[0], 0, system.state_size))
