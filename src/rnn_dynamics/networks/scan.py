"""A cell's equations run over whole sequences, fast: scans, compiled chunks, the UGRNN's module.

The input half of every update, ``W_ih x_t + b_ih``, does not depend on the state: ``scan``
computes it for all time steps in one matrix product (``Cell.input_projection``), and only the
hidden product and the elementwise gates loop over time (``Cell.projected_step``). On a CPU that
eager loop keeps up with torch's fused modules (``benchmarks/hidden_state_throughput.py``); on a
GPU the scan compiles the elementwise part of each step into one kernel (``compiled_chunk``).

Torch has no UGRNN: ``UGRNNModule`` trains it, through the scan on a CPU and through torch's
fused GRU kernel with the reset gate held open on a GPU (``fused_ugrnn``).
"""

from __future__ import annotations

import logging
import warnings
from typing import Callable

import torch
import torch.nn.functional as F
from torch import _VF, Tensor, nn

from rnn_dynamics.networks import cells

__all__ = [
    "OPEN_RESET_BIAS",
    "SCAN_CHUNK",
    "UGRNNModule",
    "compiled_chunk",
    "fused_ugrnn",
    "gru_with_open_reset",
    "recurrent_module",
    "scan",
]

log = logging.getLogger(__name__)

# Steps per compiled call: unrolled in one graph, so that the Python and guard overhead of
# a compiled call is paid once per chunk, not once per step, and compile time stays bounded.
SCAN_CHUNK = 16
# torch.compile's backend: inductor fuses each step's gates into one kernel. "aot_eager" captures the same chunk
# (the graph and its backward) without generating code, for checking the chunked scan where no GPU is.
BACKEND = "inductor"
_COMPILED_CHUNKS: dict[tuple[str, int, str], Callable] = {}
_UNCOMPILABLE: set[tuple[str, int, str]] = set()


def _run_steps(step: Callable, params: dict[str, Tensor], h: Tensor, projected: Tensor) -> Tensor:
    """The states (T, B, S) of ``step`` from ``h`` over the time-major projections ``projected`` (T, B, G)."""
    states = []
    # unbind, not projected[t]: the backward of T selections would fill and add T full-size gradients.
    for projected_t in projected.unbind(0):
        h = step(params, h, projected_t)
        states.append(h)
    return torch.stack(states)


def compiled_chunk(
    cell: type[cells.Cell], length: int = SCAN_CHUNK, backend: str = BACKEND
) -> Callable[[dict[str, Tensor], Tensor, Tensor], Tensor]:
    """``length`` steps of ``cell`` (``_run_steps`` on a chunk of that length) through ``torch.compile``, built on
    first use.

    Inductor fuses each step's elementwise gates into one kernel beside the hidden product.
    """
    key = (cell.name, length, backend)
    if key not in _COMPILED_CHUNKS:
        step = cell.projected_step
        # dynamic=False: one graph per batch shape; length-bucketed batches have one or two.
        _COMPILED_CHUNKS[key] = torch.compile(
            lambda params, h, projected: _run_steps(step, params, h, projected), dynamic=False, backend=backend
        )
    return _COMPILED_CHUNKS[key]


def scan(
    cell: type[cells.Cell],
    params: dict[str, Tensor],
    inputs: Tensor,
    h0: Tensor | None = None,
    compiled: bool | None = None,
    chunk: int = SCAN_CHUNK,
    backend: str = BACKEND,
) -> Tensor:
    """The states (B, T, S) of one layer of ``cell`` reading ``inputs`` (B, T, I) from ``h0`` (B, S; zeros if None).

    The same states as stepping ``cell.step`` from ``h0``, differentiable. ``compiled``:
    run whole chunks of ``chunk`` steps through ``compiled_chunk`` and the remainder
    eagerly (default: on CUDA only, where it saves kernel launches; on a CPU eager steps
    are as fast, and compiling costs seconds), through torch.compile's ``backend``.
    """
    if compiled is None:
        compiled = inputs.is_cuda
    batch, steps = inputs.shape[:2]
    size = cell.state_size(params["weight_hh"].shape[1])
    h = inputs.new_zeros(batch, size) if h0 is None else h0
    if steps == 0:
        return inputs.new_zeros(batch, 0, size)
    # Time-major, so that each step reads one contiguous block.
    projected = cell.input_projection(params, inputs.transpose(0, 1))
    if not compiled:
        return _run_steps(cell.projected_step, params, h, projected).transpose(0, 1)
    pieces = []
    for piece in projected.split(chunk):
        states = None
        if len(piece) == chunk and (cell.name, chunk, backend) not in _UNCOMPILABLE:
            try:
                states = compiled_chunk(cell, chunk, backend)(params, h, piece)
            except Exception as error:  # e.g. a GPU machine without a working Triton toolchain
                _UNCOMPILABLE.add((cell.name, chunk, backend))
                log.warning("%s: compiling the scan failed (%s); running it eagerly from now on", cell.name, error)
        if states is None:
            states = _run_steps(cell.projected_step, params, h, piece)
        pieces.append(states)
        h = states[-1]
    return torch.cat(pieces).transpose(0, 1)


# The UGRNN is a GRU whose reset gate is held open. With r = 1 the GRU's candidate
# n = tanh(W_in x + b_in + W_hn h + b_hn) is the UGRNN's c, its update gate z is g, and
# h' = (1 - z) n + z h = g h + (1 - g) c. The reset gate's weights are zero and its bias
# OPEN_RESET_BIAS, whose sigmoid rounds to exactly 1 in float16, float32 and float64, so
# torch's fused GRU (cuDNN's kernel on a GPU) computes the UGRNN's own states, with
# products for 3H gate rows where the UGRNN needs 2H (tests/test_scan.py holds it to the
# explicit equations): on a GPU one fused kernel call per layer instead of a step per token.
OPEN_RESET_BIAS = 100.0


def gru_with_open_reset(params: dict[str, Tensor]) -> list[Tensor]:
    """One UGRNN layer's parameters as a GRU layer's ``[weight_ih, weight_hh, bias_ih, bias_hh]``
    (rows [reset r; update z; candidate n]) whose reset gate is always 1."""

    def prepend(tensor: Tensor, value: float) -> Tensor:
        rows = tensor.shape[0] // 2
        return torch.cat([tensor.new_full((rows, *tensor.shape[1:]), value), tensor])

    return [
        prepend(params["weight_ih"], 0.0),
        prepend(params["weight_hh"], 0.0),
        prepend(params["bias_ih"], OPEN_RESET_BIAS),
        prepend(params["bias_hh"], 0.0),
    ]


def fused_ugrnn(params: dict[str, Tensor], inputs: Tensor, h0: Tensor | None = None) -> Tensor:
    """The states (B, T, H) of one UGRNN layer reading ``inputs`` (B, T, I) from ``h0`` (B, H; zeros if None),
    through torch's fused GRU kernel (``gru_with_open_reset``); differentiable."""
    size = params["weight_hh"].shape[1]
    h = inputs.new_zeros(1, inputs.shape[0], size) if h0 is None else h0.unsqueeze(0)
    with warnings.catch_warnings():
        # The GRU's weights are assembled on each call, so cuDNN copies them into one block.
        warnings.filterwarnings("ignore", message="RNN module weights are not part of single contiguous")
        # train: cuDNN keeps what its backward needs only when told so; no dropout with one layer.
        outputs, _ = _VF.gru(inputs, h, gru_with_open_reset(params), True, 1, 0.0, torch.is_grad_enabled(), False, True)
    return outputs


class UGRNNModule(nn.Module):
    """A multi-layer UGRNN with ``nn.RNN``'s interface (batch_first only), for training.

    Layer k holds ``weight_ih_lk`` (2H, I), ``weight_hh_lk`` (2H, H), ``bias_ih_lk``,
    ``bias_hh_lk`` (2H), rows in the order [update gate g; candidate c], initialised
    like torch's recurrent modules. On a GPU each layer runs through cuDNN's GRU kernel
    with its reset gate held open (``fused_ugrnn``: the same equations); elsewhere
    through ``scan``, where the input projections of all time steps are one product and
    only the hidden product loops over time.
    """

    def __init__(
        self, input_size: int, hidden_size: int, num_layers: int = 1, batch_first: bool = True, dropout: float = 0.0
    ):
        super().__init__()
        if not batch_first:
            raise ValueError("UGRNNModule supports batch_first=True only")
        self.hidden_size, self.num_layers, self.dropout = hidden_size, num_layers, dropout
        bound = hidden_size**-0.5
        for layer in range(num_layers):
            sizes = {
                "weight_ih": (2 * hidden_size, input_size if layer == 0 else hidden_size),
                "weight_hh": (2 * hidden_size, hidden_size),
                "bias_ih": (2 * hidden_size,),
                "bias_hh": (2 * hidden_size,),
            }
            for name, size in sizes.items():
                self.register_parameter(f"{name}_l{layer}", nn.Parameter(torch.empty(size).uniform_(-bound, bound)))

    def forward(self, inputs: Tensor, h0: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Outputs (B, T, H) of the top layer and final states (L, B, H), like ``nn.RNN``."""
        finals = []
        for layer in range(self.num_layers):
            params, start = cells.layer_parameters(self, layer), None if h0 is None else h0[layer]
            inputs = fused_ugrnn(params, inputs, start) if inputs.is_cuda else scan(cells.UGRNN, params, inputs, start)
            finals.append(inputs[:, -1])
            if layer < self.num_layers - 1:
                inputs = F.dropout(inputs, self.dropout, self.training)
        return inputs, torch.stack(finals)


def recurrent_module(cell: type[cells.Cell]) -> type[nn.Module]:
    """The multi-layer module that trains ``cell``: torch's fused one (``cell.module``), or ``UGRNNModule``
    for the UGRNN, which torch lacks."""
    if cell.module is not None:
        return cell.module
    if cell is cells.UGRNN:
        return UGRNNModule
    raise ValueError(f"architecture {cell.name!r} has no module to train it")
