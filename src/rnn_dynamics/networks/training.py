"""Training a classifier: Adam on binary cross-entropy (cross-entropy for N > 2 classes) over bucketed padded
batches, resumable.

The weights with the lowest validation loss are kept. After every epoch a checkpoint
(weights, optimizer, random states, history, best weights so far) is written
atomically; a run started again continues after its last finished epoch and, on a
CPU, ends with the same weights as a run never interrupted. A checkpoint is continued
only when it is a prefix of the run now asked for (same model and settings, no more
epochs); otherwise training starts over, with a warning saying why.

Training stops with :class:`TrainingDiverged`, naming the model and the epoch, when
the loss is not finite or explodes (``DIVERGED_LOSS``); the last good checkpoint is
kept. A model whose kept weights do no better on the validation split than always
answering its majority label is flagged ``at_chance``, unless the
split is too small to tell (``chance_judged`` false, with a warning). The number of classes is the
prepared data's (``batches.Reviews.classes``); an N-class model's metrics add its classes, its
per-class test accuracy and the test split's majority-class rate.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pyarrow as pa
import torch
from tqdm import tqdm

from rnn_dynamics.data.batches import Reviews, bucketed_batches, padded_batch, trained_on
from rnn_dynamics.ground import provenance
from rnn_dynamics.ground.grid import ModelSpec
from rnn_dynamics.ground.stages import TrainingSettings as Settings
from rnn_dynamics.ground.storage import (
    NoSpaceLeft,
    UnreadableFile,
    atomic_path,
    exclusive_lock,
    read_torch,
    write_json,
    write_table,
)
from rnn_dynamics.networks import model as model_lib

__all__ = [
    "CHANCE_MARGIN",
    "CHECK_EVERY",
    "DIVERGED_LOSS",
    "HISTORY_SCHEMA",
    "Outputs",
    "Settings",
    "TrainingDiverged",
    "at_chance",
    "check_loss",
    "majority_rate",
    "evaluate",
    "model_lock",
    "resumable_checkpoint",
    "reviews_to_judge",
    "split_metrics",
    "train",
]

log = logging.getLogger(__name__)

# How often (in batches) the loss is copied from the device: for the progress bar
# and the non-finite check. Copying every batch would stall a GPU.
CHECK_EVERY = 20
HISTORY_SCHEMA = pa.schema(
    [("epoch", pa.int32())]
    + [
        (name, pa.float64())
        for name in (
            "learning_rate",
            "train_loss",
            "train_accuracy",
            "valid_loss",
            "valid_accuracy",
            "seconds",
            "tokens_per_second",
        )  # fmt: skip
    ]
)
# A loss no learning run passes through: ln 2 is the mean binary cross-entropy of a
# classifier that answers 1/2 (an untrained one, near enough), and a mean 100 times
# that gives the true label a probability of about e^-69 on average. Above it, or not
# finite, the run has diverged (a learning rate far too large, typically). The same bound
# serves N classes, whose untrained cross-entropy is ln N (ln 14 for DBpedia, 2.6).
DIVERGED_LOSS = 100 * math.log(2)
# Standard errors above the majority-label rate that a validation accuracy must reach
# not to be flagged as chance level (one-sided, ~2% false alarms for a chance model).
CHANCE_MARGIN = 2.0


@dataclass(frozen=True)
class Outputs:
    initial: Path
    final: Path
    history: Path
    metrics: Path
    checkpoint: Path


@torch.no_grad()
def _evaluate(
    model: model_lib.SentimentClassifier, reviews: Reviews, batch_size: int, device: torch.device
) -> tuple[float, float, np.ndarray]:
    """``evaluate``'s loss and accuracy, and the accuracy on the reviews of each class (NaN for a class
    without any)."""
    model.eval()
    loss = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros(model.classes, dtype=torch.long, device=device)
    for indices in bucketed_batches(reviews.lengths, batch_size):
        tokens, lengths, labels = padded_batch(reviews, indices, device)
        logits = model(tokens, lengths)
        loss += model.loss(logits, labels, reduction="sum")
        labels = labels.long()
        correct += torch.bincount(labels[model.predict(logits) == labels], minlength=model.classes)
    correct = correct.cpu().numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        by_class = correct / np.bincount(reviews.labels.astype(np.int64), minlength=model.classes)
    return loss.item() / len(reviews), int(correct.sum()) / len(reviews), by_class


def evaluate(
    model: model_lib.SentimentClassifier, reviews: Reviews, batch_size: int, device: torch.device
) -> tuple[float, float]:
    """Mean cross-entropy (binary for two classes) and accuracy of ``model`` (in eval mode) on ``reviews``."""
    loss, accuracy, _ = _evaluate(model, reviews, batch_size, device)
    return loss, accuracy


class TrainingDiverged(FloatingPointError):
    """The loss of a model became non-finite or exploded (above ``DIVERGED_LOSS``)."""


def check_loss(spec: ModelSpec, epoch: int, where: str, loss: float, checkpoint: Path) -> None:
    """Raise :class:`TrainingDiverged` naming model, epoch and checkpoint when ``loss`` (a mean per review) diverged."""
    if math.isfinite(loss) and loss <= DIVERGED_LOSS:
        return
    kind = "not finite" if not math.isfinite(loss) else f"above {DIVERGED_LOSS:.1f} (100 ln 2)"
    kept = (
        f"the last good checkpoint ({checkpoint}, after epoch {epoch - 1}) is kept"
        if epoch > 1 and checkpoint.exists()
        else "no epoch finished, so there is no checkpoint to keep"
    )
    raise TrainingDiverged(
        f"model {spec.id} diverged in epoch {epoch}, {where}: loss {loss:.4g} is {kind}; {kept}. "
        f"Lower training.learning_rate"
    )


def reviews_to_judge(majority: float) -> float:
    """The fewest validation reviews on which a perfect accuracy clears the chance margin
    (``CHANCE_MARGIN`` standard errors above the majority label's rate ``majority``):
    n > CHANCE_MARGIN^2 p / (1 - p), 5 for balanced labels. On fewer, every model would be
    called at chance, however well it does (``at_chance`` asks the margin itself)."""
    if majority >= 1:
        return math.inf
    return math.floor(CHANCE_MARGIN**2 * majority / (1 - majority)) + 1


def majority_rate(labels: np.ndarray) -> float:
    """The rate of the most frequent class among ``labels`` (class indices): the accuracy of always answering it."""
    if np.isin(labels, (0, 1)).all():
        return float(max(labels.mean(), 1 - labels.mean()))  # as binary runs have always computed it
    return float(np.bincount(labels.astype(np.int64)).max() / len(labels))


def at_chance(accuracy: float, labels: np.ndarray) -> tuple[bool, float, bool]:
    """Whether ``accuracy`` on reviews with ``labels`` is within chance of always answering the majority label.

    Returns the flag, the majority label's rate (the chance accuracy, ``majority_rate``) and whether there
    are enough reviews to judge (``reviews_to_judge``); with too few the flag is False.
    """
    majority = majority_rate(labels)
    margin = CHANCE_MARGIN * math.sqrt(majority * (1 - majority) / len(labels))
    judged = majority + margin < 1
    return bool(judged and accuracy <= majority + margin), majority, bool(judged)


def resumable_checkpoint(path: Path, spec: ModelSpec, settings: Settings) -> dict | None:
    """The checkpoint at ``path`` if it is a prefix of training ``spec`` with ``settings``, else None.

    A checkpoint of another model or other settings, of more epochs than asked for, or
    one that cannot be read is not continued: the reason is logged as a warning and
    training starts over (overwriting it after the first epoch).
    """
    if not path.exists():
        return None
    try:
        checkpoint = read_torch(path, required={"model", "settings", "weights", "optimizer", "rng", "history", "best"})
    except UnreadableFile as exc:
        reason = str(exc)
    else:
        done = len(checkpoint["history"])
        if checkpoint["model"] != spec.id or checkpoint["settings"] != settings.resumable_with():
            reason = (
                f"it is for {checkpoint['model']} with {checkpoint['settings']}, not for {spec.id} with "
                f"{settings.resumable_with()}"
            )
        elif done > settings.epochs:
            reason = f"it holds {done} epochs, more than the {settings.epochs} now asked for"
        else:
            return checkpoint
    log.warning("%s: not resuming from %s: %s; training from the start", spec.id, path, reason)
    return None


@contextlib.contextmanager
def model_lock(spec: ModelSpec, folder: Path):
    """Hold ``folder/.lock`` for the block: a second trainer of the same model fails at once."""
    with exclusive_lock(Path(folder) / ".lock", f"model {spec.id} ({folder})"):
        yield


def _rng_states(shuffle: torch.Generator, device: torch.device) -> dict:
    states = {"torch": torch.get_rng_state(), "shuffle": shuffle.get_state()}
    if device.type == "cuda":
        states["cuda"] = torch.cuda.get_rng_state(device)
    return states


def _set_rng_states(states: dict, shuffle: torch.Generator, device: torch.device) -> None:
    torch.set_rng_state(states["torch"])
    shuffle.set_state(states["shuffle"])
    if device.type == "cuda" and "cuda" in states:
        torch.cuda.set_rng_state(states["cuda"], device)


def _cpu_copy(state_dict: dict) -> dict:
    return {key: value.detach().to("cpu", copy=True) for key, value in state_dict.items()}


def train(
    spec: ModelSpec,
    splits: dict[str, Reviews],
    embeddings: np.ndarray,
    settings: Settings,
    outputs: Outputs,
    on_epoch_end: Callable[[int, model_lib.SentimentClassifier], None] | None = None,
) -> dict:
    """Train ``spec`` on ``splits`` (train, valid, test), write ``outputs``, return the metrics.

    ``embeddings`` (vocab_size, spec.embedding) initialises the embedding.
    ``on_epoch_end(epoch, model)`` runs after each epoch's checkpoint is written.
    Three steps: resume from a checkpoint (``_resume``), the epochs (``_train_epoch``,
    then validation and a checkpoint), and the final evaluation of the kept weights
    (``_finish``). A write that fails for want of space stops with
    :class:`~rnn_dynamics.ground.storage.NoSpaceLeft`, saying which checkpoint is kept and how a
    rerun resumes from it.
    """
    with _reporting_full_disk(spec, outputs.checkpoint) as saved:
        return _train(spec, splits, embeddings, settings, outputs, on_epoch_end, saved)


def _train(
    spec: ModelSpec,
    splits: dict[str, Reviews],
    embeddings: np.ndarray,
    settings: Settings,
    outputs: Outputs,
    on_epoch_end: Callable[[int, model_lib.SentimentClassifier], None] | None,
    saved: _Saved,
) -> dict:
    """``train``'s work; ``saved`` records the epochs of the checkpoint on disk as they are written."""
    torch.set_num_threads(settings.threads)
    # Gradients fading back through hundreds of time steps reach subnormal floats, which the
    # CPU multiplies many times slower than normal ones: flushed to zero, they cost nothing.
    torch.set_flush_denormal(True)
    device = model_lib.resolve_device(settings.device)
    splits = {**splits, "train": trained_on(splits["train"], spec)}
    if spec.train_fraction != 1:
        log.info("%s: trained on %d reviews of the training split (fraction %g)", spec.id, len(splits["train"]),
                 spec.train_fraction)  # fmt: skip
    classes = {split: reviews.classes for split, reviews in splits.items()}
    if len(set(classes.values())) != 1:
        raise ValueError(f"model {spec.id}: the splits' classes differ ({classes}); prepare them again together")
    torch.manual_seed(spec.seed)
    model = model_lib.SentimentClassifier(
        spec,
        embeddings.shape[0],
        dropout=settings.dropout,
        layer_dropout=settings.layer_dropout,
        embeddings=embeddings,
        classes=len(splits["train"].classes),
    )
    model_lib.save(model, outputs.initial)
    model.to(device)
    model.embedding.weight.requires_grad_(not settings.freeze_embeddings)
    optimizer = torch.optim.Adam(
        [parameter for parameter in model.parameters() if parameter.requires_grad],
        lr=settings.learning_rate_for(spec.architecture),
        weight_decay=settings.weight_decay,
    )
    shuffle = torch.Generator().manual_seed(spec.seed)
    history, best = _resume(outputs.checkpoint, spec, settings, model, optimizer, shuffle, device)
    saved.epochs = len(history)

    train_tokens = int(splits["train"].lengths.sum())
    for epoch in range(len(history) + 1, settings.epochs + 1):
        learning_rate = settings.learning_rate_at(spec.architecture, epoch)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate
        train_loss, train_accuracy, seconds = _train_epoch(
            model, optimizer, splits["train"], settings, shuffle, spec, epoch, outputs.checkpoint, device
        )
        valid_loss, valid_accuracy = evaluate(model, splits["valid"], spec.batch_size, device)
        check_loss(spec, epoch, "on the validation split", valid_loss, outputs.checkpoint)
        record = {
            "epoch": epoch,
            "learning_rate": learning_rate,
            "train_loss": train_loss,
            "train_accuracy": train_accuracy,
            "valid_loss": valid_loss,
            "valid_accuracy": valid_accuracy,
            "seconds": seconds,
            "tokens_per_second": train_tokens / seconds,
        }
        history.append(record)
        if valid_loss < best["valid_loss"]:
            best = {"epoch": epoch, "valid_loss": valid_loss, "weights": _cpu_copy(model.state_dict())}
        _save_checkpoint(outputs.checkpoint, spec, settings, model, optimizer, shuffle, device, history, best)
        saved.epochs = epoch
        log.info(
            "%s epoch %d/%d: train loss %.4f accuracy %.4f, valid loss %.4f accuracy %.4f, %.1f s, %.0f tokens/s",
            spec.id, epoch, settings.epochs, record["train_loss"], record["train_accuracy"],
            valid_loss, valid_accuracy, seconds, record["tokens_per_second"],
        )  # fmt: skip
        if on_epoch_end is not None:
            on_epoch_end(epoch, model)

    return _finish(model, spec, splits, settings, outputs, history, best, device)


@dataclass
class _Saved:
    """How many epochs the checkpoint on disk holds, once known (None before the resume step)."""

    epochs: int | None = None


@contextlib.contextmanager
def _reporting_full_disk(spec: ModelSpec, checkpoint: Path):
    """Turn a full disk inside the block into a :class:`NoSpaceLeft` that says what training keeps:
    the last good checkpoint (the block records its epochs in the yielded ``_Saved``), from which the
    rerun resumes."""
    saved = _Saved()
    try:
        yield saved
    except NoSpaceLeft as exc:
        if saved.epochs:
            kept = (
                f"training of model {spec.id} stopped; the last good checkpoint ({checkpoint}, after epoch "
                f"{saved.epochs}) is kept"
            )
            resume = f"training resumes from {checkpoint.name} after epoch {saved.epochs}"
        elif saved.epochs is None and checkpoint.exists():
            kept = f"training of model {spec.id} stopped; its checkpoint ({checkpoint}) is kept"
            resume = f"training resumes from {checkpoint.name}"
        else:
            kept = f"training of model {spec.id} stopped before its first epoch ended, so there is no checkpoint yet"
            resume = "training starts from the beginning"
        raise NoSpaceLeft(exc.path, exc.free, exc.cause, kept=kept, resume=resume) from exc


def _resume(
    path: Path, spec: ModelSpec, settings: Settings, model, optimizer, shuffle: torch.Generator, device: torch.device
) -> tuple[list[dict], dict]:
    """The history and the best weights so far: those of a resumable checkpoint at ``path``, whose
    weights, optimizer state and random states are loaded, else none yet (the initial weights)."""
    best = {"epoch": 0, "valid_loss": math.inf, "weights": _cpu_copy(model.state_dict())}
    checkpoint = resumable_checkpoint(path, spec, settings)
    if checkpoint is None:
        return [], best
    model.load_state_dict(checkpoint["weights"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    _set_rng_states(checkpoint["rng"], shuffle, device)
    log.info("%s: resuming from %s after epoch %d", spec.id, path, len(checkpoint["history"]))
    return checkpoint["history"], checkpoint["best"]


def _train_epoch(
    model,
    optimizer,
    reviews: Reviews,
    settings: Settings,
    shuffle: torch.Generator,
    spec: ModelSpec,
    epoch: int,
    checkpoint: Path,
    device: torch.device,
) -> tuple[float, float, float]:
    """One pass over the training ``reviews`` in shuffled buckets: its mean loss, its accuracy and its seconds."""
    model.train()
    batches = bucketed_batches(reviews.lengths, spec.batch_size, shuffle)
    batch_losses = torch.zeros(len(batches), device=device)
    batch_sizes = torch.tensor([len(indices) for indices in batches], device=device)
    correct = torch.zeros((), dtype=torch.long, device=device)
    start = time.perf_counter()
    with tqdm(
        total=len(batches), desc=f"{spec.id} epoch {epoch}/{settings.epochs}", unit="batch", mininterval=1
    ) as bar:
        for number, indices in enumerate(batches, start=1):
            tokens, lengths, labels = padded_batch(reviews, indices, device)
            logits = model(tokens, lengths)
            loss = model.loss(logits, labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if settings.max_grad_norm is not None:
                # Against exploding gradients (a vanilla RNN on long reviews); docs/training-notes.md.
                torch.nn.utils.clip_grad_norm_(model.parameters(), settings.max_grad_norm)
            try:
                optimizer.step()
            except RuntimeError as exc:  # a step too large for float32 (learning rate ~1e40)
                if "overflow" not in str(exc):
                    raise
                check_loss(
                    spec, epoch, f"batch {number} of {len(batches)} (optimizer step: {exc})", math.inf, checkpoint
                )
            batch_losses[number - 1] = loss.detach() * len(indices)
            correct += (model.predict(logits.detach()) == labels.long()).sum()
            bar.update()
            if number % CHECK_EVERY == 0 or number == len(batches):
                means = (batch_losses[:number] / batch_sizes[:number]).cpu()
                diverged = ~(torch.isfinite(means) & (means <= DIVERGED_LOSS))
                if diverged.any():
                    first = int(torch.nonzero(diverged)[0])
                    check_loss(spec, epoch, f"batch {first + 1} of {len(batches)}", means[first].item(), checkpoint)
                bar.set_postfix(loss=f"{batch_losses[:number].sum().item() / sum(map(len, batches[:number])):.4f}")
    seconds = time.perf_counter() - start
    return batch_losses.sum().item() / len(reviews), correct.item() / len(reviews), seconds


def _save_checkpoint(
    path: Path,
    spec: ModelSpec,
    settings: Settings,
    model,
    optimizer,
    shuffle: torch.Generator,
    device: torch.device,
    history: list[dict],
    best: dict,
) -> None:
    """Everything a later run needs to continue after this epoch, written atomically."""
    with atomic_path(path) as tmp:
        torch.save(
            {
                "model": spec.id,
                "settings": settings.resumable_with(),
                "weights": _cpu_copy(model.state_dict()),
                "optimizer": optimizer.state_dict(),
                "rng": _rng_states(shuffle, device),
                "history": history,
                "best": best,
            },
            tmp,
        )


def _finish(
    model,
    spec: ModelSpec,
    splits: dict[str, Reviews],
    settings: Settings,
    outputs: Outputs,
    history: list[dict],
    best: dict,
    device: torch.device,
) -> dict:
    """Keep the best weights, evaluate them on every split, write the final outputs and drop the checkpoint."""
    model.load_state_dict(best["weights"])
    model_lib.save(model, outputs.final, epoch=best["epoch"])
    metrics = {
        "model": spec.id,
        "epochs": settings.epochs,
        "best_epoch": best["epoch"],
        "device": str(device),
        "code": provenance.code_version(),
        **split_metrics(model, splits, spec.batch_size, device),
    }
    write_table(pa.Table.from_pylist(history, schema=HISTORY_SCHEMA), outputs.history)
    write_json(metrics, outputs.metrics)
    # Finished: a later run (new code, same settings) must start afresh, not resume.
    outputs.checkpoint.unlink()
    log.info(
        "%s: kept epoch %d; test loss %.4f accuracy %.4f",
        spec.id,
        best["epoch"],
        metrics["test_loss"],
        metrics["test_accuracy"],
    )
    return metrics


def split_metrics(
    model: model_lib.SentimentClassifier, splits: dict[str, Reviews], batch_size: int, device: torch.device
) -> dict:
    """The metrics.json entries of a model's weights: the loss and accuracy on each of ``splits`` (train, valid,
    test), an N-class model's classes and per-class test accuracy, and whether it is at chance on the validation
    split (``at_chance``, with a warning where it is or where the split is too small to judge)."""
    metrics = {}
    spec = model.spec
    for split, reviews in splits.items():
        metrics[f"{split}_loss"], metrics[f"{split}_accuracy"], by_class = _evaluate(model, reviews, batch_size, device)
        if split == "test" and model.classes > 2:  # a binary model's metrics stay as they were
            names = reviews.classes.names
            metrics["classes"] = list(names)
            metrics["ordered"] = reviews.classes.ordered
            # A list in class order: metrics.json is written with sorted keys, which would reorder a dict.
            metrics["test_class_accuracy"] = [float(value) for value in by_class]
            metrics["test_chance_accuracy"] = majority_rate(reviews.labels)
    metrics["at_chance"], metrics["valid_chance_accuracy"], metrics["chance_judged"] = at_chance(
        metrics["valid_accuracy"], splits["valid"].labels
    )
    if not metrics["chance_judged"]:
        log.warning(
            "%s: too few validation reviews to judge whether it is at chance level: %d, where a perfect accuracy "
            "clears %.0f standard errors above the majority label's rate %.4f only on %s or more; raise "
            "prepare.valid_fraction or add reviews",
            spec.id, len(splits["valid"]), CHANCE_MARGIN, metrics["valid_chance_accuracy"],
            reviews_to_judge(metrics["valid_chance_accuracy"]),
        )  # fmt: skip
    if metrics["at_chance"]:
        log.warning(
            "%s is at chance level: validation accuracy %.4f, always answering the majority label %.4f",
            spec.id, metrics["valid_accuracy"], metrics["valid_chance_accuracy"],
        )  # fmt: skip
    return metrics
