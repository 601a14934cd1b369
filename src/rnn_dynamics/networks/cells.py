"""Each architecture's update ``h' = F(h, x)`` written as explicit tensor equations.

Each cell also gives its Jacobians ``dF/dh`` and ``dF/dx`` in closed form: the fixed-point
solver forms them at hundreds of states per iteration, where autograd over the equations
would cost most of the time, and torch's fused kernels cannot be differentiated per state.
The equations follow torch's conventions (gate order, bias placement), so a cell's parameters
are one layer's ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh`` of torch's module.

Each cell splits its update at the input projection (``input_projection``, which does not
depend on the state, and ``projected_step``, the rest), which ``scan`` runs over sequences.
A new architecture is a ``Cell`` subclass registered in ``CELLS``. Its state may hold more
than the next layer sees (an LSTM's is ``[h, c]``): ``state_size`` is its width, ``output``
the part the readout and the next layer read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import jacrev, vmap

__all__ = [
    "CELLS",
    "GRU",
    "LSTM",
    "PARAMETER_NAMES",
    "UGRNN",
    "Cell",
    "DynamicalSystem",
    "Vanilla",
    "get",
    "layer_parameters",
]

PARAMETER_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def _rows(scale: Tensor, weight: Tensor) -> Tensor:
    """``diag(scale) @ weight`` for every row of ``scale`` (B, S): (B, S, K) for ``weight`` (S, K)."""
    return scale.unsqueeze(-1) * weight


def _rows_sum(terms: list[tuple[Tensor, Tensor]], diagonal: Tensor | None = None) -> Tensor:
    """The sum of ``_rows(scale, weight)`` over ``terms``, plus ``diag(diagonal)`` (B, S) when given,
    accumulated in place in one (B, S, K) tensor: a batch of 500 GRU-256 Jacobians is 262 MB, and
    each temporary of a sum written out costs as much again in memory traffic."""
    (scale, weight), *rest = terms
    total = _rows(scale, weight)
    for scale, weight in rest:
        total.addcmul_(scale.unsqueeze(-1), weight)
    if diagonal is not None:
        total.diagonal(dim1=-2, dim2=-1).add_(diagonal)
    return total


@dataclass(frozen=True)
class DynamicalSystem:
    """A discrete dynamical system ``h_t = step(h_{t-1}, x_t)`` batched over the first dimension.

    ``step`` is a pure function of its tensors (differentiable with ``torch.func``),
    ``readout`` maps a state to the part that the classifier's readout or the next
    layer sees.
    """

    step: Callable[[Tensor, Tensor], Tensor]
    state_size: int
    input_size: int
    readout: Callable[[Tensor], Tensor]
    # Per coordinate, the largest |h| a state reached from h = 0 can have (inf: unbounded).
    # A fixed point beyond it is a solution of h = F(h, x) the network can never visit.
    state_bound: np.ndarray | None = None
    # (h, x) -> (dF/dh (B, S, S), dF/dx (B, S, I)) at every row in closed form; None: by autograd.
    closed_form_jacobians: Callable[[Tensor, Tensor], tuple[Tensor, Tensor]] | None = None
    # dtype -> the same system with its weights in that dtype (the fixed-point solver forms its
    # Jacobians in float32 from it); None where the system cannot be rebuilt so.
    in_dtype: Callable[[torch.dtype], "DynamicalSystem"] | None = None

    def jacobians(self, h: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
        """``dF/dh`` (B, S, S) and ``dF/dx`` (B, S, I) at every row of ``h`` (B, S) and ``x`` (B, I)."""
        if self.closed_form_jacobians is not None:
            return self.closed_form_jacobians(h, x)

        def single(h_row: Tensor, x_row: Tensor) -> Tensor:
            return self.step(h_row.unsqueeze(0), x_row.unsqueeze(0)).squeeze(0)

        return vmap(jacrev(single, argnums=(0, 1)))(h, x)


class Cell:
    """One architecture: its update equations, their Jacobians, and torch's module with the same weights."""

    name: ClassVar[str]
    # Torch's fused module (cuDNN on a GPU) computing the same update, or None where torch has none
    # (the UGRNN: ``scan.recurrent_module`` gives the module that trains any cell). Built as
    # ``module(input_size, hidden, num_layers=..., batch_first=True, dropout=...)``, layer k's
    # parameters named ``{weight_ih,weight_hh,bias_ih,bias_hh}_l{k}``.
    module: ClassVar[type[nn.Module] | None]

    @staticmethod
    def state_size(hidden: int) -> int:
        return hidden

    @staticmethod
    def output(state: Tensor) -> Tensor:
        return state

    @classmethod
    def state_bound(cls, hidden: int) -> np.ndarray:
        """Per state coordinate, the largest |h| reachable from h = 0: a convex mix or a tanh keeps it in [-1, 1]."""
        return np.ones(cls.state_size(hidden))

    @staticmethod
    def step(params: dict[str, Tensor], h: Tensor, x: Tensor) -> Tensor:
        raise NotImplementedError

    @staticmethod
    def input_projection(params: dict[str, Tensor], inputs: Tensor) -> Tensor:
        """``W_ih x + b_ih`` of ``inputs`` (..., I), plus ``b_hh``: the part of the update that does not
        depend on the state, which a scan computes for all time steps in one product."""
        return F.linear(inputs, params["weight_ih"], params["bias_ih"] + params["bias_hh"])

    @staticmethod
    def projected_step(params: dict[str, Tensor], h: Tensor, projected: Tensor) -> Tensor:
        """``step(params, h, x)`` given ``projected = input_projection(params, x)`` (B, G), in a few fused
        operations (addmm adds the hidden product to the projection; lerp is a gate's convex mix)."""
        raise NotImplementedError

    @staticmethod
    def jacobians(params: dict[str, Tensor], h: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
        """``dF/dh`` (B, S, S) and ``dF/dx`` (B, S, I) at every row of ``h`` (B, S), ``x`` (B, I), in closed form.

        Row i of each is the gradient of output i. The fixed-point solver forms these
        at every start in every iteration: autograd (``vmap(jacrev)``) costs most of an
        iteration there, these equations a few batched products.
        """
        raise NotImplementedError

    @staticmethod
    def state_sequence(params: dict[str, Tensor], inputs: Tensor, outputs: Tensor) -> Tensor:
        """The states (B, T, S) of a one-layer module that read ``inputs`` (B, T, I) from a zero state
        and returned ``outputs`` (B, T, H); the same tensor where the state is the output."""
        return outputs


class GRU(Cell):
    """``torch.nn.GRU``'s update, gates in torch's order r, z, n.

    r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
    z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
    h' = (1 - z) * n + z * h
    """

    name = "gru"
    module = nn.GRU

    @staticmethod
    def step(params: dict[str, Tensor], h: Tensor, x: Tensor) -> Tensor:
        input_r, input_z, input_n = F.linear(x, params["weight_ih"], params["bias_ih"]).chunk(3, dim=-1)
        hidden_r, hidden_z, hidden_n = F.linear(h, params["weight_hh"], params["bias_hh"]).chunk(3, dim=-1)
        r = torch.sigmoid(input_r + hidden_r)
        z = torch.sigmoid(input_z + hidden_z)
        n = torch.tanh(input_n + r * hidden_n)
        return (1 - z) * n + z * h

    @staticmethod
    def input_projection(params: dict[str, Tensor], inputs: Tensor) -> Tensor:
        # All of b_hh but b_hn, which the reset gate multiplies.
        size = params["weight_hh"].shape[1]
        bias = params["bias_ih"] + params["bias_hh"]
        return F.linear(inputs, params["weight_ih"], torch.cat([bias[: 2 * size], params["bias_ih"][2 * size :]]))

    @staticmethod
    def projected_step(params: dict[str, Tensor], h: Tensor, projected: Tensor) -> Tensor:
        size = h.shape[-1]
        weight, bias = params["weight_hh"], params["bias_hh"]
        r, z = torch.sigmoid(torch.addmm(projected[:, : 2 * size], h, weight[: 2 * size].t())).chunk(2, dim=-1)
        hidden_n = torch.addmm(bias[2 * size :], h, weight[2 * size :].t())
        n = torch.tanh(torch.addcmul(projected[:, 2 * size :], r, hidden_n))
        return torch.lerp(n, h, z)

    @staticmethod
    def jacobians(params: dict[str, Tensor], h: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
        # h' = (1 - z) n + z h:  dh' = (1 - z) dn + (h - n) dz + z dh
        # dz = z (1 - z) dA_z,  dn = (1 - n^2) (dA_in + r dA_hn + hidden_n r (1 - r) dA_r)
        w_ir, w_iz, w_in = params["weight_ih"].chunk(3, dim=0)
        w_hr, w_hz, w_hn = params["weight_hh"].chunk(3, dim=0)
        input_r, input_z, input_n = F.linear(x, params["weight_ih"], params["bias_ih"]).chunk(3, dim=-1)
        hidden_r, hidden_z, hidden_n = F.linear(h, params["weight_hh"], params["bias_hh"]).chunk(3, dim=-1)
        r = torch.sigmoid(input_r + hidden_r)
        z = torch.sigmoid(input_z + hidden_z)
        n = torch.tanh(input_n + r * hidden_n)
        via_n = (1 - z) * (1 - n**2)  # dh'/dA_n
        via_r = via_n * hidden_n * r * (1 - r)  # dh'/dA_r
        via_z = (h - n) * z * (1 - z)  # dh'/dA_z
        j_rec = _rows_sum([(via_n * r, w_hn), (via_r, w_hr), (via_z, w_hz)], diagonal=z)
        j_inp = _rows_sum([(via_n, w_in), (via_r, w_ir), (via_z, w_iz)])
        return j_rec, j_inp


class LSTM(Cell):
    """``torch.nn.LSTM``'s update, gates in torch's order i, f, g, o; the state is ``[h, c]``.

    i = sigmoid(W_ii x + b_ii + W_hi h + b_hi), f, o likewise, g = tanh(W_ig x + b_ig + W_hg h + b_hg)
    c' = f * c + i * g,  h' = o * tanh(c')
    The readout and the next layer see ``h``; fixed points and Jacobians live in ``[h, c]``.
    """

    name = "lstm"
    module = nn.LSTM

    @staticmethod
    def state_size(hidden: int) -> int:
        return 2 * hidden

    @staticmethod
    def output(state: Tensor) -> Tensor:
        return state[..., : state.shape[-1] // 2]

    @classmethod
    def state_bound(cls, hidden: int) -> np.ndarray:
        """h = o * tanh(c) stays in [-1, 1]; the cell state c is unbounded."""
        return np.concatenate([np.ones(hidden), np.full(hidden, np.inf)])

    @staticmethod
    def step(params: dict[str, Tensor], h: Tensor, x: Tensor) -> Tensor:
        hidden, cell = h.chunk(2, dim=-1)
        gates = F.linear(x, params["weight_ih"], params["bias_ih"]) + F.linear(
            hidden, params["weight_hh"], params["bias_hh"]
        )
        i, f, g, o = gates.chunk(4, dim=-1)
        new_cell = torch.sigmoid(f) * cell + torch.sigmoid(i) * torch.tanh(g)
        return torch.cat([torch.sigmoid(o) * torch.tanh(new_cell), new_cell], dim=-1)

    @staticmethod
    def projected_step(params: dict[str, Tensor], state: Tensor, projected: Tensor) -> Tensor:
        size = state.shape[-1] // 2
        hidden, cell = state[:, :size], state[:, size:]
        gates = torch.addmm(projected, hidden, params["weight_hh"].t())
        i, f = torch.sigmoid(gates[:, : 2 * size]).chunk(2, dim=-1)
        new_cell = torch.addcmul(f * cell, i, torch.tanh(gates[:, 2 * size : 3 * size]))
        return torch.cat([torch.sigmoid(gates[:, 3 * size :]) * torch.tanh(new_cell), new_cell], dim=-1)

    @staticmethod
    def jacobians(params: dict[str, Tensor], h: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
        # c' = f c + i g,  h' = o tanh(c'):  dc' = c df + g di + i dg + f dc,
        # dh' = tanh(c') do + o (1 - tanh(c')^2) dc'
        hidden, cell = h.chunk(2, dim=-1)
        gates = F.linear(x, params["weight_ih"], params["bias_ih"]) + F.linear(
            hidden, params["weight_hh"], params["bias_hh"]
        )
        i, f, g, o = gates.chunk(4, dim=-1)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        new_cell = f * cell + i * g
        squashed = torch.tanh(new_cell)
        through_cell = o * (1 - squashed**2)  # dh'/dc'
        # dc'/dA for the gates i, f, g, o (o does not reach c') and dh'/dA_o.
        cell_scales = (g * i * (1 - i), cell * f * (1 - f), i * (1 - g**2))

        def gate_jacobian(weight: Tensor) -> tuple[Tensor, Tensor]:
            w_i, w_f, w_g, w_o = weight.chunk(4, dim=0)
            d_cell = _rows_sum(list(zip(cell_scales, (w_i, w_f, w_g))))
            d_hidden = through_cell.unsqueeze(-1) * d_cell + _rows(squashed * o * (1 - o), w_o)
            return d_hidden, d_cell

        hidden_h, cell_h = gate_jacobian(params["weight_hh"])
        hidden_x, cell_x = gate_jacobian(params["weight_ih"])
        j_rec = torch.cat(
            [
                torch.cat([hidden_h, torch.diag_embed(through_cell * f)], dim=-1),
                torch.cat([cell_h, torch.diag_embed(f)], dim=-1),
            ],
            dim=-2,
        )
        return j_rec, torch.cat([hidden_x, cell_x], dim=-2)

    @staticmethod
    def state_sequence(params: dict[str, Tensor], inputs: Tensor, outputs: Tensor) -> Tensor:
        # nn.LSTM returns only h. Every gate at t depends on (x_t, h_{t-1}) alone, so all
        # gates come from one batched product and only the elementwise c recursion loops.
        previous = torch.cat([torch.zeros_like(outputs[:, :1]), outputs[:, :-1]], dim=1)
        gates = F.linear(inputs, params["weight_ih"], params["bias_ih"]) + F.linear(
            previous, params["weight_hh"], params["bias_hh"]
        )
        i, f, g, _ = gates.chunk(4, dim=-1)
        forget, write = torch.sigmoid(f), torch.sigmoid(i) * torch.tanh(g)
        cell = torch.zeros_like(outputs[:, 0])
        cells = []
        for t in range(outputs.shape[1]):
            cell = forget[:, t] * cell + write[:, t]
            cells.append(cell)
        return torch.cat([outputs, torch.stack(cells, dim=1)], dim=-1)


class UGRNN(Cell):
    """The update-gate RNN of Collins, Sohl-Dickstein & Sussillo (2016).

    g = sigmoid(W_g [x, h] + b_g),  c = tanh(W_c [x, h] + b_c),  h' = g * h + (1 - g) * c
    with W_[.] [x, h] split as ``weight_ih`` x + ``weight_hh`` h (rows [g; c]) and
    b = ``bias_ih`` + ``bias_hh``, the layout of torch's own modules.
    """

    name = "ugrnn"
    module = None  # torch has no UGRNN: scan.UGRNNModule trains it

    @staticmethod
    def update(preactivation: Tensor, h: Tensor) -> Tensor:
        gate, candidate = preactivation.chunk(2, dim=-1)
        g = torch.sigmoid(gate)
        return g * h + (1 - g) * torch.tanh(candidate)

    @staticmethod
    def step(params: dict[str, Tensor], h: Tensor, x: Tensor) -> Tensor:
        preactivation = F.linear(x, params["weight_ih"], params["bias_ih"]) + F.linear(
            h, params["weight_hh"], params["bias_hh"]
        )
        return UGRNN.update(preactivation, h)

    @staticmethod
    def projected_step(params: dict[str, Tensor], h: Tensor, projected: Tensor) -> Tensor:
        size = h.shape[-1]
        preactivation = torch.addmm(projected, h, params["weight_hh"].t())
        return torch.lerp(torch.tanh(preactivation[:, size:]), h, torch.sigmoid(preactivation[:, :size]))

    @staticmethod
    def jacobians(params: dict[str, Tensor], h: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
        # h' = g h + (1 - g) c:  dh' = (h - c) g (1 - g) dA_g + (1 - g)(1 - c^2) dA_c + g dh
        preactivation = F.linear(x, params["weight_ih"], params["bias_ih"]) + F.linear(
            h, params["weight_hh"], params["bias_hh"]
        )
        gate, candidate = preactivation.chunk(2, dim=-1)
        g, c = torch.sigmoid(gate), torch.tanh(candidate)
        via_gate, via_candidate = (h - c) * g * (1 - g), (1 - g) * (1 - c**2)

        def through(weight: Tensor, diagonal: Tensor | None = None) -> Tensor:
            w_gate, w_candidate = weight.chunk(2, dim=0)
            return _rows_sum([(via_gate, w_gate), (via_candidate, w_candidate)], diagonal)

        return through(params["weight_hh"], diagonal=g), through(params["weight_ih"])


class Vanilla(Cell):
    """``torch.nn.RNN``'s tanh update: h' = tanh(W_ih x + b_ih + W_hh h + b_hh)."""

    name = "vanilla"
    module = nn.RNN

    @staticmethod
    def step(params: dict[str, Tensor], h: Tensor, x: Tensor) -> Tensor:
        return torch.tanh(
            F.linear(x, params["weight_ih"], params["bias_ih"]) + F.linear(h, params["weight_hh"], params["bias_hh"])
        )

    @staticmethod
    def projected_step(params: dict[str, Tensor], h: Tensor, projected: Tensor) -> Tensor:
        return torch.tanh(torch.addmm(projected, h, params["weight_hh"].t()))

    @staticmethod
    def jacobians(params: dict[str, Tensor], h: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
        slope = 1 - Vanilla.step(params, h, x) ** 2
        return _rows(slope, params["weight_hh"]), _rows(slope, params["weight_ih"])


CELLS: dict[str, type[Cell]] = {cell.name: cell for cell in (GRU, LSTM, UGRNN, Vanilla)}


def get(name: str) -> type[Cell]:
    """The cell class registered as ``name``."""
    try:
        return CELLS[name]
    except KeyError:
        raise ValueError(f"unknown architecture {name!r}; known: {sorted(CELLS)}") from None


def layer_parameters(module: nn.Module, layer: int | None) -> dict[str, Tensor]:
    """The parameters of layer ``layer`` (0-based) of a torch recurrent module, or of a torch cell
    (``nn.GRUCell``, ...: ``layer`` None), as a cell's dict; a module built with ``bias=False`` has zero
    biases."""
    suffix = "" if layer is None else f"_l{layer}"
    weights = {name: getattr(module, f"{name}{suffix}") for name in PARAMETER_NAMES[:2]}
    biases = {
        name: getattr(module, f"{name}{suffix}", None) if getattr(module, "bias", True) else None
        for name in PARAMETER_NAMES[2:]
    }
    zeros = weights["weight_hh"].new_zeros(weights["weight_hh"].shape[0])
    return weights | {name: zeros if value is None else value for name, value in biases.items()}
