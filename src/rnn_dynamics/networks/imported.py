"""Networks the pipeline did not train (``models.import``): a state dict of torch's ``nn.GRU``, ``nn.LSTM`` or
``nn.RNN`` with its ``nn.Embedding`` and ``nn.Linear`` readout, and the vocabulary it read.

``load`` reads the state dict with ``torch.load(weights_only=True)`` and checks every key and shape against the
declared sizes (``CheckpointMismatch`` names the key and both shapes); the Snakefile calls it while it reads the
config, so a wrong checkpoint stops the run before any job. ``import_network`` (rule import_model) turns it into
the pipeline's own classifier over a dataset's vocabulary: each dataset token reads the checkpoint's embedding
row of the same token, or that of its unknown token. The model files it writes are those the train rule writes,
so every later stage reads an imported network as it reads a trained one.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from rnn_dynamics.data import text
from rnn_dynamics.data.batches import Reviews
from rnn_dynamics.ground import provenance
from rnn_dynamics.ground.grid import ModelSpec
from rnn_dynamics.ground.stages import ImportSettings as Settings
from rnn_dynamics.ground.storage import read_torch, reading, write_json
from rnn_dynamics.networks import cells, training
from rnn_dynamics.networks import model as model_lib

__all__ = ["Checkpoint", "CheckpointMismatch", "Outputs", "Settings", "import_network", "load", "read_tokens"]

log = logging.getLogger(__name__)

# The recurrent biases, which a module built with bias=False lacks (they read as zero).
_BIASES = ("bias_ih", "bias_hh")


class CheckpointMismatch(ValueError):
    """A checkpoint or its vocabulary does not match the declared architecture, sizes or dataset."""


@dataclass(frozen=True)
class Checkpoint:
    """A checked checkpoint: its recurrent module's state dict (torch's key names, no prefix; biases of zero
    where it has none), embedding (V, E), readout (C, H) and (C,), and its vocabulary's tokens."""

    spec: ModelSpec
    recurrent: dict[str, Tensor]
    embedding: Tensor
    readout_weight: Tensor
    readout_bias: Tensor
    tokens: list[str]
    unk: int | None
    source: str


@dataclass(frozen=True)
class Outputs:
    initial: Path
    final: Path
    metrics: Path


def read_tokens(path: str | Path) -> list[str]:
    """The tokens of a vocabulary file by index: one a line (UTF-8), or prepare's ``vocab.parquet``.

    Raises CheckpointMismatch naming the file and line of an empty or repeated token."""
    path = Path(path)
    if path.suffix == ".parquet":
        return text.read_vocabulary(path).tokens
    with reading(path):
        lines = path.read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line
    seen = {}
    for number, token in enumerate(lines, start=1):
        token = token.removesuffix("\r")
        if not token:
            raise CheckpointMismatch(f"{path}: line {number} is empty; a vocabulary holds one token a line")
        if token in seen:
            raise CheckpointMismatch(f"{path}: token {token!r} on line {number} repeats line {seen[token]}")
        seen[token] = number
    return list(seen)


def _shape(value) -> tuple[int, ...]:
    return tuple(value.shape)


def _expected_recurrent(settings: Settings) -> dict[str, tuple[int, ...]]:
    """torch's own module of the declared sizes: its state dict's keys and shapes."""
    with torch.random.fork_rng(devices=[]):
        module = cells.get(settings.architecture).module(settings.embedding, settings.hidden, settings.layers)
    return {key: _shape(value) for key, value in module.state_dict().items()}


def load(settings: Settings, name: str) -> Checkpoint:
    """The checkpoint of ``models.import.<name>``, checked against its declared sizes.

    Raises CheckpointMismatch naming the weights file, the key and both shapes (a key missing, one no module of
    these sizes has, a shape of other sizes), or the vocabulary file where its size is not the embedding's rows
    or it lacks the declared unknown token."""
    where = f"models.import.{name}"
    sizes = (
        f"{where} declares {settings.architecture} ({cells.get(settings.architecture).module.__name__}), layers "
        f"{settings.layers}, embedding {settings.embedding}, hidden {settings.hidden}"
    )
    state = read_torch(settings.weights)
    not_tensors = sorted(key for key, value in state.items() if not isinstance(value, Tensor))
    if not_tensors:
        raise CheckpointMismatch(
            f"{settings.weights}: not a state dict: the entries {not_tensors[:5]} are not tensors ({where}.weights "
            "is torch.save(model.state_dict(), path))"
        )
    prefixes = {
        "embedding": f"{settings.embedding_key}.",
        "recurrent": f"{settings.recurrent_key}.",
        "readout": f"{settings.readout_key}.",
    }
    expected = {f"{prefixes['recurrent']}{key}": shape for key, shape in _expected_recurrent(settings).items()}
    hidden, vocab_rows = settings.hidden, None
    embedding_key, readout_key = f"{prefixes['embedding']}weight", f"{prefixes['readout']}weight"
    if embedding_key in state:
        vocab_rows = _shape(state[embedding_key])[0]
    expected[embedding_key] = (vocab_rows if vocab_rows is not None else "V", settings.embedding)
    classes = _shape(state[readout_key])[0] if readout_key in state else "C"
    expected[readout_key] = (classes, hidden)
    expected[f"{prefixes['readout']}bias"] = (classes,)
    biasless = not any(_is_recurrent_bias(key, prefixes) for key in state)
    if biasless:  # a module built with bias=False: zero biases, as cells.layer_parameters reads it
        expected = {key: shape for key, shape in expected.items() if not _is_recurrent_bias(key, prefixes)}
    missing = [key for key in expected if key not in state]
    if missing:
        raise CheckpointMismatch(
            f"{settings.weights}: no key {missing[0]!r} (shape {_text(expected[missing[0]])}); {sizes}, with the "
            f"key prefixes {sorted(prefixes.values())} ({where}.embedding_key, recurrent_key, readout_key). Missing: "
            f"{missing}; the file's keys: {sorted(state)}"
        )
    unexpected = sorted(key for key in state if key not in expected)
    if unexpected:
        raise CheckpointMismatch(
            f"{settings.weights}: unexpected key {unexpected[0]!r} (shape {_shape(state[unexpected[0]])}): no part of "
            f"the declared network; {sizes} (a key of layer {settings.layers} or above is a deeper network's, one "
            f"ending _reverse a bidirectional one's). Unexpected: {unexpected}"
        )
    for key, shape in expected.items():
        if _shape(state[key]) != shape:
            raise CheckpointMismatch(
                f"{settings.weights}: key {key!r} has shape {_shape(state[key])}, but {sizes}, which needs "
                f"{_text(shape)}"
            )
    tokens = read_tokens(settings.vocabulary)
    if len(tokens) != vocab_rows:
        raise CheckpointMismatch(
            f"{settings.vocabulary}: {len(tokens)} tokens, but the embedding {embedding_key!r} of "
            f"{settings.weights} has shape {_shape(state[embedding_key])}: {vocab_rows} rows, one per token "
            f"({where}.vocabulary)"
        )
    unk = None
    if settings.unk is not None:
        if settings.unk not in tokens:
            raise CheckpointMismatch(
                f"{settings.vocabulary}: no token {settings.unk!r} ({where}.unk), which the dataset's words outside "
                f"the vocabulary would read; name its unknown token, or set {where}.unk to null if it has none "
                "(such words then read a zero input vector)"
            )
        unk = tokens.index(settings.unk)
    recurrent = {
        key.removeprefix(prefixes["recurrent"]): state[key].float()
        for key in expected
        if key.startswith(prefixes["recurrent"])
    }
    if biasless:
        for layer in range(settings.layers):
            for bias in _BIASES:
                rows = recurrent[f"weight_hh_l{layer}"].shape[0]
                recurrent[f"{bias}_l{layer}"] = torch.zeros(rows)
    return Checkpoint(
        spec=settings.spec(name),
        recurrent=recurrent,
        embedding=state[embedding_key].float(),
        readout_weight=state[readout_key].float(),
        readout_bias=state[f"{prefixes['readout']}bias"].float(),
        tokens=tokens,
        unk=unk,
        source=str(settings.weights),
    )


def _is_recurrent_bias(key: str, prefixes: dict[str, str]) -> bool:
    return key.startswith(prefixes["recurrent"]) and key.removeprefix(prefixes["recurrent"]).startswith(_BIASES)


def _text(shape: tuple) -> str:
    return "(" + ", ".join(str(size) for size in shape) + ("," if len(shape) == 1 else "") + ")"


def token_map(checkpoint: Checkpoint, tokens: list[str]) -> np.ndarray:
    """For each token of a dataset's vocabulary (``tokens``, by index), the checkpoint's index of the same token,
    else its unknown token's (-1 where it has none: a zero input). The dataset's own unknown token
    (``text.UNK_INDEX``) reads the checkpoint's."""
    index = {token: i for i, token in enumerate(checkpoint.tokens)}
    fallback = -1 if checkpoint.unk is None else checkpoint.unk
    mapped = np.array([index.get(token, fallback) for token in tokens], dtype=np.int64)
    mapped[text.UNK_INDEX] = fallback
    return mapped


def _readout(checkpoint: Checkpoint, classes: int, dataset: str) -> tuple[Tensor, Tensor]:
    """The readout of the pipeline's classifier: one logit for two classes (two logits read as their
    difference, the log-odds of the second class, which predicts the same), one per class for more."""
    weight, bias = checkpoint.readout_weight, checkpoint.readout_bias
    rows = weight.shape[0]
    if classes == 2 and rows == 2:
        return weight[1:] - weight[:1], bias[1:] - bias[:1]
    if rows != (1 if classes == 2 else classes):
        needs = "1 or 2 rows (one logit, or one per class)" if classes == 2 else f"{classes} rows, one per class"
        raise CheckpointMismatch(
            f"{checkpoint.source}: the readout's weight has shape {tuple(weight.shape)}, but the dataset {dataset} has "
            f"{classes} classes, which need {needs} ({checkpoint.spec.id})"
        )
    return weight, bias


def classifier(
    checkpoint: Checkpoint, tokens: list[str], classes: int, dataset: str
) -> tuple[model_lib.SentimentClassifier, np.ndarray]:
    """The pipeline's classifier holding the checkpoint's weights, over a dataset's vocabulary ``tokens`` (its
    embedding row i is the checkpoint's row of token i, ``token_map``), and that map."""
    mapped = token_map(checkpoint, tokens)
    embedding = checkpoint.embedding[torch.from_numpy(np.maximum(mapped, 0))]
    embedding[torch.from_numpy(mapped < 0)] = 0.0
    weight, bias = _readout(checkpoint, classes, dataset)
    with torch.random.fork_rng(devices=[]):
        network = model_lib.SentimentClassifier(
            checkpoint.spec, len(tokens), dropout=0.0, layer_dropout=0.0, embeddings=embedding.numpy(), classes=classes
        )
    with torch.no_grad():
        network.recurrent.load_state_dict(checkpoint.recurrent)
        network.readout.weight.copy_(weight)
        network.readout.bias.copy_(bias)
    return network.eval(), mapped


def untrained(network: model_lib.SentimentClassifier) -> model_lib.SentimentClassifier:
    """A network of the same sizes and embedding whose recurrent layers and readout are torch's initial weights,
    drawn from the model's seed: the untrained null of an imported network, which has no initial weights of its
    own, reading the same word vectors."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(network.spec.seed)
        null = model_lib.SentimentClassifier(
            network.spec,
            network.vocab_size,
            dropout=0.0,
            layer_dropout=0.0,
            embeddings=network.embedding.weight.detach().cpu().numpy(),
            classes=network.classes,
        )
    return null.eval()


def _coverage(mapped: np.ndarray, reviews: Reviews) -> float:
    """The share of ``reviews``' tokens that the checkpoint's vocabulary holds (not read as its unknown token)."""
    known = mapped != mapped[text.UNK_INDEX]
    return float(known[reviews.tokens].mean()) if len(reviews.tokens) else float("nan")


def import_network(
    settings: Settings,
    name: str,
    splits: dict[str, Reviews],
    vocabulary: text.Vocabulary,
    dataset: str,
    outputs: Outputs,
    device: torch.device,
) -> dict:
    """Write ``models.import.<name>`` as the model files of ``dataset`` (prepared ``splits`` and ``vocabulary``):
    model.pt, initial.pt (``untrained``) and metrics.json, whose losses and accuracies are measured on the
    dataset's splits as the train rule's are; return the metrics."""
    checkpoint = load(settings, name)
    classes = {split: len(reviews.classes) for split, reviews in splits.items()}
    if len(set(classes.values())) != 1:
        raise ValueError(f"model {checkpoint.spec.id}: the splits' classes differ ({classes}); prepare them again")
    network, mapped = classifier(checkpoint, vocabulary.tokens, classes["test"], dataset)
    model_lib.save(untrained(network), outputs.initial)
    model_lib.save(network, outputs.final, imported=checkpoint.source)
    coverage = _coverage(mapped, splits["test"])
    metrics = {
        "model": checkpoint.spec.id,
        "imported": checkpoint.source,
        "imported_sha256": hashlib.sha256(Path(settings.weights).read_bytes()).hexdigest(),
        "vocabulary": str(settings.vocabulary),
        "unknown_token": settings.unk,
        "test_vocabulary_coverage": coverage,
        "device": str(device),
        "code": provenance.code_version(),
        **training.split_metrics(network.to(device), splits, checkpoint.spec.batch_size, device),
    }
    if checkpoint.unk is None:
        log.warning(
            "%s: the vocabulary %s has no unknown token (unk: null): the %.1f%% of test tokens it lacks read a zero "
            "input vector",
            checkpoint.spec.id, settings.vocabulary, 100 * (1 - coverage),
        )  # fmt: skip
    write_json(metrics, outputs.metrics)
    log.info(
        "%s: imported from %s; %.1f%% of test tokens in its vocabulary; test accuracy %.4f",
        checkpoint.spec.id, checkpoint.source, 100 * coverage, metrics["test_accuracy"],
    )  # fmt: skip
    return metrics
