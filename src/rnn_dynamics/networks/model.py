"""The classifier: embedding, stacked recurrent layers, linear readout (one logit for two classes, N for N > 2).

Training runs all layers through torch's fused multi-layer module (one cuDNN call
on a GPU). The analysis reaches every layer from the same weights: ``layer_states``
runs the layers one at a time and returns each one's state sequence, and
``system`` turns a layer (or the whole stack) of any stack of cells (the classifier's,
or one of torch's own recurrent modules) into a ``cells.DynamicalSystem`` built from
the explicit update equations.
"""

from __future__ import annotations

import os
import re

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnn_dynamics.ground.grid import ModelSpec
from rnn_dynamics.ground.storage import atomic_path, read_torch, reading
from rnn_dynamics.networks import cells, scan

__all__ = ["CPU_SCAN", "SentimentClassifier", "load", "resolve_device", "save", "system"]

_LAYER_SYSTEM = re.compile(r"^layer([0-9]+)$")
# The cells whose states ``layer_states`` computes on a CPU by ``scan.scan`` rather than
# their fused module: the LSTM (nn.LSTM returns no cell states, which then cost a second
# pass) and the UGRNN (its module is the scan on a CPU). The GRU and the vanilla RNN keep
# torch's kernels, no slower than the scan (benchmarks/hidden_state_throughput.py).
CPU_SCAN = frozenset({"lstm", "ugrnn"})
# Unless told otherwise, torch lets cuDNN run float32 recurrent layers in TF32 (a 10-bit
# mantissa). The pipeline's states and analyses are IEEE float32 on every device: importing
# this module, as every stage that runs a network does, turns TF32 off (tests/test_model.py).
torch.backends.cudnn.allow_tf32 = False


class SentimentClassifier(nn.Module):
    """embedding -> dropout -> ``spec.layers`` recurrent layers -> dropout -> linear readout.

    The logit of a review is the readout of the top layer's state at its last token: one logit for
    ``classes`` 2 (binary cross-entropy, as the paper's), one per class for more (cross-entropy).
    ``layer_dropout`` is applied between recurrent layers during training.
    ``embeddings`` (vocab_size, spec.embedding) initialises the (trainable) embedding.
    """

    def __init__(
        self,
        spec: ModelSpec,
        vocab_size: int,
        *,
        dropout: float,
        layer_dropout: float,
        embeddings: np.ndarray | None = None,
        classes: int = 2,
    ):
        super().__init__()
        if classes < 2:
            raise ValueError(f"model {spec.id}: a classifier needs at least two classes, not {classes}")
        self.spec = spec
        self.cell = cells.get(spec.architecture)
        self.dropout_rate = dropout
        self.layer_dropout = layer_dropout
        self.embedding = nn.Embedding(vocab_size, spec.embedding)
        if embeddings is not None:
            if embeddings.shape != (vocab_size, spec.embedding):
                raise ValueError(
                    f"embedding matrix has shape {embeddings.shape}, model {spec.id} needs "
                    f"(vocab_size, embedding) = {(vocab_size, spec.embedding)}"
                )
            with torch.no_grad():
                self.embedding.weight.copy_(torch.as_tensor(embeddings))
        self.dropout = nn.Dropout(dropout)
        self.recurrent = scan.recurrent_module(self.cell)(
            spec.embedding, spec.hidden, num_layers=spec.layers, batch_first=True, dropout=layer_dropout
        )
        self.readout = nn.Linear(spec.hidden, 1 if classes == 2 else classes)

    @property
    def vocab_size(self) -> int:
        return self.embedding.num_embeddings

    @property
    def classes(self) -> int:
        """The number of classes: 2 for a readout of one logit, else its number of logits."""
        outputs = self.readout.out_features
        return 2 if outputs == 1 else outputs

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        """Logits of 0-padded ``tokens`` (B, T) whose reviews have ``lengths`` (B,): (B,) for two classes,
        (B, N) for N."""
        top, _ = self.recurrent(self.dropout(self.embedding(tokens)))
        last = top[torch.arange(tokens.shape[0], device=tokens.device), lengths.to(tokens.device) - 1]
        logits = self.readout(self.dropout(last))
        return logits.squeeze(-1) if self.classes == 2 else logits

    def loss(self, logits: Tensor, labels: Tensor, reduction: str = "mean") -> Tensor:
        """Binary cross-entropy of two classes' logits (B,), cross-entropy of N classes' (B, N), against
        ``labels`` (B,), the class indices as float (``batches.Reviews.labels``)."""
        if self.classes == 2:
            return F.binary_cross_entropy_with_logits(logits, labels, reduction=reduction)
        return F.cross_entropy(logits, labels.long(), reduction=reduction)

    def predict(self, logits: Tensor) -> Tensor:
        """The class each review's logits choose: the sign of one logit for two classes, the largest of N."""
        return (logits > 0).long() if self.classes == 2 else logits.argmax(-1)

    def _single_layer(self, layer: int) -> nn.Module:
        """A one-layer module holding a copy of layer ``layer``'s (0-based) weights."""
        input_size = self.spec.embedding if layer == 0 else self.spec.hidden
        module = scan.recurrent_module(self.cell)(input_size, self.spec.hidden, batch_first=True)
        module.to(device=self.readout.weight.device, dtype=self.readout.weight.dtype)
        with torch.no_grad():
            for name, value in cells.layer_parameters(self.recurrent, layer).items():
                getattr(module, f"{name}_l0").copy_(value)
        return module

    def layer_states(self, tokens: Tensor, lengths: Tensor) -> list[Tensor]:
        """Every layer's state sequence (B, T, S), bottom first, without dropout.

        Positions t >= length are padding; their states are meaningless. ``lengths``
        is accepted for symmetry with ``forward``: a unidirectional network's states
        before a review's end do not depend on the padding after it.
        """
        del lengths
        inputs = self.embedding(tokens)
        states = []
        for layer in range(self.spec.layers):
            params = cells.layer_parameters(self.recurrent, layer)
            if inputs.is_cuda or self.cell.name not in CPU_SCAN:
                # The fused kernel (cuDNN on a GPU); an LSTM's cell states are recovered from its outputs.
                outputs, _ = self._single_layer(layer)(inputs)
                states.append(self.cell.state_sequence(params, inputs, outputs))
            else:
                states.append(scan.scan(self.cell, params, inputs))
                outputs = self.cell.output(states[-1])
            inputs = outputs
        return states

    def readout_weights(self) -> tuple[Tensor, float]:
        """The readout's weight vector (H,) and bias: logit = w . h + b.

        Only a binary model has one readout direction; for N > 2 classes (an N x H readout) this raises
        ValueError, naming what is not supported."""
        if self.classes != 2:
            raise ValueError(
                f"model {self.spec.id} has {self.classes} classes: its readout is a {self.classes} x "
                f"{self.spec.hidden} matrix, not the one readout direction that the line-attractor analyses "
                f"(readout alignment, mode orientation, linearized accuracy) use; they are not yet supported "
                f"for more than two classes"
            )
        return self.readout.weight.detach()[0], float(self.readout.bias.detach()[0])

    def system(self, name: str, dtype: torch.dtype = torch.float64) -> cells.DynamicalSystem:
        """The update of layer ``layerK`` (1-based) alone, or of the ``stack`` of all layers (``system``)."""
        layers = [cells.layer_parameters(self.recurrent, layer) for layer in range(self.spec.layers)]
        return system(self.cell, layers, self.spec.embedding, name, f"model {self.spec.id}", dtype)


def system(
    cell: type[cells.Cell],
    layers: list[dict[str, Tensor]],
    input_size: int,
    name: str,
    owner: str,
    dtype: torch.dtype = torch.float64,
) -> cells.DynamicalSystem:
    """The update of layer ``layerK`` (1-based) of a stack of ``cell`` layers, or of the whole ``stack``.

    ``layers`` holds each layer's parameters bottom first (``cells.layer_parameters``), ``input_size`` is the
    bottom layer's input width, ``owner`` names the network in errors. A layer's input is its input in the
    network (the network's input for layer 1, the output of the layer below otherwise). The stack's state is
    all layers' states concatenated bottom first; its input is the network's input, and each upper layer
    reads the new state of the layer below in the same time step.
    """
    params = [{key: value.detach().to(dtype) for key, value in layer.items()} for layer in layers]
    hidden = params[0]["weight_hh"].shape[1]
    size = cell.state_size(hidden)

    def in_dtype(new_dtype: torch.dtype) -> cells.DynamicalSystem:
        return system(cell, layers, input_size, name, owner, new_dtype)

    if name == "stack":

        def stack_step(h: Tensor, x: Tensor) -> Tensor:
            new_states = []
            for layer_params, state in zip(params, h.split(size, dim=-1)):
                new_state = cell.step(layer_params, state, x)
                new_states.append(new_state)
                x = cell.output(new_state)
            return torch.cat(new_states, dim=-1)

        def stack_jacobians(h: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
            # Layer k's new state depends on its own state and, through the new output of
            # layer k-1, on every layer below: a block lower-triangular chain rule.
            by_state, by_input, below_x, below_h = [], [], None, None
            for k, (layer_params, state) in enumerate(zip(params, h.split(size, dim=-1))):
                j_rec, j_inp = cell.jacobians(layer_params, state, x)
                if k == 0:
                    d_x, d_h = j_inp, j_rec.new_zeros(len(h), size, h.shape[-1])
                else:
                    d_x, d_h = j_inp @ below_x, j_inp @ below_h
                d_h[..., k * size : (k + 1) * size] += j_rec
                by_state.append(d_h)
                by_input.append(d_x)
                # The next layer reads this layer's output, a slice of its new state.
                below_x = cell.output(d_x.transpose(-1, -2)).transpose(-1, -2)
                below_h = cell.output(d_h.transpose(-1, -2)).transpose(-1, -2)
                x = cell.output(cell.step(layer_params, state, x))
            return torch.cat(by_state, dim=-2), torch.cat(by_input, dim=-2)

        return cells.DynamicalSystem(
            step=stack_step,
            closed_form_jacobians=stack_jacobians,
            state_size=size * len(params),
            input_size=input_size,
            readout=lambda h: cell.output(h[..., -size:]),
            in_dtype=in_dtype,
            state_bound=np.tile(cell.state_bound(hidden), len(params)),
        )
    match = _LAYER_SYSTEM.match(name)
    if match is None or not 1 <= int(match.group(1)) <= len(params):
        known = [f"layer{k}" for k in range(1, len(params) + 1)] + ["stack"]
        raise ValueError(f"{owner} has no system {name!r}; known: {known}")
    layer = int(match.group(1)) - 1
    layer_params = params[layer]
    return cells.DynamicalSystem(
        step=lambda h, x: cell.step(layer_params, h, x),
        closed_form_jacobians=lambda h, x: cell.jacobians(layer_params, h, x),
        state_size=size,
        input_size=input_size if layer == 0 else hidden,
        readout=cell.output,
        in_dtype=in_dtype,
        state_bound=cell.state_bound(hidden),
    )


def resolve_device(name: str, key: str = "training.device") -> torch.device:
    """The device a model runs on, from a config value: ``auto`` is the GPU when CUDA is available, else
    the CPU. ``key`` names the config key in errors."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{key} is {name!r} but CUDA is not available here; use 'auto' or 'cpu'")
    return device


def save(model: SentimentClassifier, path: str | os.PathLike, **extra) -> None:
    """Write the model (id, vocabulary size, hyperparameters, weights) atomically.

    ``extra`` holds plain values (numbers, strings, lists, dicts) stored alongside.
    """
    payload = {
        "spec": model.spec.id,
        "vocab_size": model.vocab_size,
        "hyperparameters": {"dropout": model.dropout_rate, "layer_dropout": model.layer_dropout},
        "state_dict": {key: value.detach().cpu() for key, value in model.state_dict().items()},
        "extra": extra,
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> SentimentClassifier:
    """A model written by ``save``, in eval mode, on ``map_location``; its number of classes is that of its
    readout's weights (a binary model's file is as it was before N classes)."""
    payload = read_torch(path, required={"spec", "vocab_size", "hyperparameters", "state_dict"})
    readout = payload["state_dict"].get("readout.weight")
    classes = 2 if readout is None or readout.shape[0] == 1 else readout.shape[0]
    # Building the model draws initial weights; keep the caller's random stream untouched.
    with torch.random.fork_rng(devices=[]):
        model = SentimentClassifier(
            ModelSpec.parse(payload["spec"]), payload["vocab_size"], **payload["hyperparameters"], classes=classes
        )
    with reading(path):  # weights of another shape or name
        model.load_state_dict(payload["state_dict"])
    return model.to(map_location).eval()
