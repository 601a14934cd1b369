"""Hidden states of a classifier: extraction, Parquet dumps (read back through ``state_dumps``), streaming PCA,
example trajectories.

One pass over a split runs every review through the trained and the untrained
(initial) network. Every visited state updates a streaming PCA per layer (float64
sums of a fixed size, so memory does not grow with the number of reviews), and the
trained network's states of a seeded sample of reviews are appended, one row group
per batch, to a Parquet file per layer.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from tqdm import tqdm

from rnn_dynamics.data import text
from rnn_dynamics.data.batches import Reviews, bucketed_batches, padded_batch
from rnn_dynamics.dynamics.pca import PCA, PCA_SCHEMA, WEIGHTS, from_moments, pca_table, read_pca
from rnn_dynamics.dynamics.state_dumps import EXAMPLES_SCHEMA, layer_schema, read_examples, read_layer
from rnn_dynamics.ground import storage
from rnn_dynamics.ground.stages import StatesSettings as Settings

__all__ = [
    "DOMINANT_REVIEW_SHARE",
    "EXAMPLES_SCHEMA",
    "PCA",
    "PCA_SCHEMA",
    "WEIGHTS",
    "Settings",
    "StreamingPCA",
    "example_states",
    "extract",
    "layer_schema",
    "pca_table",
    "read_examples",
    "read_layer",
    "read_pca",
    "sample_reviews",
    "visited_states",
    "warn_of_dominant_review",
    "write_hidden_states",
]

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------
# Streaming PCA


class StreamingPCA:
    """PCA of states seen in batches, from running sums of a fixed size.

    Sums are taken around a shift (the first batch's mean) so that a large common
    offset does not cancel catastrophically when the covariance is formed. They live
    on the device of the first batch, so a GPU does the outer products.
    """

    def __init__(self, dim: int):
        self.dim = dim
        self.count = 0
        self._shift: torch.Tensor | None = None
        self._sum: torch.Tensor | None = None
        self._outer: torch.Tensor | None = None

    def update(self, states: torch.Tensor | np.ndarray) -> None:
        """Add a batch of states, shape (N, dim)."""
        x = torch.as_tensor(states).detach().to(torch.float64)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"StreamingPCA({self.dim}) needs states of shape (N, {self.dim}), got {tuple(x.shape)}")
        if len(x) == 0:
            return
        if self._shift is None:
            self._shift = x.mean(dim=0)
            self._sum = torch.zeros(self.dim, dtype=torch.float64, device=x.device)
            self._outer = torch.zeros(self.dim, self.dim, dtype=torch.float64, device=x.device)
        x = x.to(self._shift.device) - self._shift
        self.count += len(x)
        self._sum += x.sum(dim=0)
        self._outer += x.T @ x

    def fit(self) -> PCA:
        """Mean, components by descending variance, and their (ratio of) variance, as scikit-learn's PCA."""
        if self.count < 2:
            raise ValueError(f"StreamingPCA needs at least 2 states, has {self.count}")
        return from_moments(self._shift.cpu().numpy(), self._sum.cpu().numpy(), self._outer.cpu().numpy(), self.count)


# ---------------------------------------------------------------------------
# Extraction


def sample_reviews(n_reviews: int, sample: int | str, seed: int) -> np.ndarray:
    """Sorted indices of the reviews whose states are dumped: a seeded sample of ``sample``, or ``"all"``."""
    if sample == "all":
        return np.arange(n_reviews)
    if not isinstance(sample, int) or isinstance(sample, bool) or sample < 1:
        raise ValueError(f"states.sample_reviews must be a positive integer or 'all', not {sample!r}")
    if sample >= n_reviews:
        log.info("states.sample_reviews=%d covers all %d reviews of the split", sample, n_reviews)
        return np.arange(n_reviews)
    return np.sort(np.random.default_rng(seed).choice(n_reviews, size=sample, replace=False))


def _dump_batch(reviews, lengths, labels, mask, layer_states, keep) -> list[pa.Table]:
    """The rows of the kept reviews of one batch, one table per layer."""
    kept_lengths = lengths[keep]
    review_column = pa.array(np.repeat(reviews[keep], kept_lengths).astype(np.int32))
    t_column = pa.array(np.concatenate([np.arange(n, dtype=np.int32) for n in kept_lengths]))
    label_column = pa.array(np.repeat(labels[keep], kept_lengths).astype(np.int8))
    keep_tensor = torch.from_numpy(keep).to(mask.device)
    tables = []
    for h in layer_states:
        flat = h[keep_tensor][mask[keep_tensor]].to("cpu", torch.float32).numpy()
        tables.append(
            pa.table(
                [review_column, t_column, label_column, storage.list_column(flat)],
                schema=layer_schema(flat.shape[1]),
            )
        )
    return tables


def extract(
    trained,
    untrained,
    split: Reviews,
    states_dir: str | Path,
    sample: np.ndarray,
    batch_size: int,
    progress: bool = True,
) -> dict[tuple[str, int], PCA]:
    """Run ``split`` through both networks; dump the trained states of ``sample``; return the PCAs.

    Writes ``states_dir/layer{n}.parquet`` for every layer n (1-based). Both models
    must be on the same device. The PCA of each (weights, layer) covers every
    non-padding state of every review.
    """
    states_dir = Path(states_dir)
    device = next(trained.parameters()).device
    trained.eval()
    untrained.eval()
    sizes = [trained.cell.state_size(trained.spec.hidden)] * trained.spec.layers
    streams = {(w, layer): StreamingPCA(size) for w in WEIGHTS for layer, size in enumerate(sizes, start=1)}
    if len(split.classes) > np.iinfo(np.int8).max + 1:
        raise ValueError(
            f"{len(split.classes)} classes: the state dumps' label column (int8) holds at most "
            f"{np.iinfo(np.int8).max + 1}"
        )
    lengths, labels = split.lengths, split.labels.astype(np.int8)
    sampled = np.zeros(len(split), dtype=bool)
    sampled[sample] = True
    states_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack, torch.no_grad():
        # Atomic paths are entered before the writers, so each writer has written its footer
        # before its file is moved into place.
        paths = [
            stack.enter_context(storage.atomic_path(states_dir / f"layer{n}.parquet")) for n in range(1, len(sizes) + 1)
        ]
        # No dictionary encoding: states hardly repeat, and trying it makes writing far slower and files larger.
        writers = [
            stack.enter_context(pq.ParquetWriter(p, layer_schema(s), use_dictionary=False))
            for p, s in zip(paths, sizes)
        ]
        bar = stack.enter_context(tqdm(total=int(lengths.sum()), unit="state", disable=not progress, mininterval=5))
        for reviews in bucketed_batches(lengths, batch_size):
            tokens, batch_lengths, _ = padded_batch(split, reviews, device)
            mask = torch.arange(tokens.shape[1], device=device)[None, :] < batch_lengths[:, None]
            keep = sampled[reviews]
            for weights, model in (("trained", trained), ("untrained", untrained)):
                layer_states = model.layer_states(tokens, batch_lengths)
                for layer, h in enumerate(layer_states, start=1):
                    streams[weights, layer].update(h[mask])
                if weights == "trained" and keep.any():
                    for writer, table in zip(
                        writers, _dump_batch(reviews, lengths[reviews], labels[reviews], mask, layer_states, keep)
                    ):
                        writer.write_table(table)
            bar.update(int(lengths[reviews].sum()))
    return {key: stream.fit() for key, stream in streams.items()}


# One review holding more than this share of the states a PCA or the fixed-point starts are drawn
# from outweighs the others (a 50,000-word review among a thousand short ones): warned of, once there
# are enough reviews (2 / share) that an even spread gives each well under it.
DOMINANT_REVIEW_SHARE = 0.1


def warn_of_dominant_review(lengths: np.ndarray, rows: np.ndarray, what: str) -> None:
    """Log a warning when one of the reviews ``rows`` (their lengths ``lengths[rows]``) holds more than
    ``DOMINANT_REVIEW_SHARE`` of their states, naming the review (its row in the split, the layer dumps'
    ``review``), its share and ``what`` those states feed."""
    rows = np.asarray(rows)
    if len(rows) < 2 / DOMINANT_REVIEW_SHARE:
        return
    counts = lengths[rows]
    longest = int(np.argmax(counts))
    share = counts[longest] / counts.sum()
    if share > DOMINANT_REVIEW_SHARE:
        log.warning(
            "review %d of the split (`review` %d in the layer dumps) supplies %d of the %d states %s (%.0f%%, "
            "above %.0f%%): it outweighs the other %d reviews there; prepare.max_length cuts every review to "
            "its first tokens",
            rows[longest], rows[longest], counts[longest], counts.sum(), what, 100 * share,
            100 * DOMINANT_REVIEW_SHARE, len(rows) - 1,
        )  # fmt: skip


def write_hidden_states(
    trained,
    untrained,
    split: Reviews,
    vocabulary: dict[str, int],
    settings: Settings,
    outputs: dict[str, str | Path],
    max_length: int | None,
    progress: bool = True,
) -> dict[tuple[str, int], PCA]:
    """The hidden_states rule's work: every layer's states over ``split`` through both networks.

    ``outputs`` maps ``states`` (the folder of layer dumps), ``pca`` and
    ``examples`` to paths. Dumps the trained states of a seeded sample of reviews, writes
    the PCA of every (weights, layer) and the example reviews' trajectories (tokenized
    with ``vocabulary``, cut to ``max_length``); returns the PCAs.
    """
    sample = sample_reviews(len(split), settings.sample_reviews, settings.seed)
    warn_of_dominant_review(split.lengths, np.arange(len(split)), "the PCA of every layer is fitted to")
    warn_of_dominant_review(split.lengths, sample, "dumped, which the fixed-point starts are drawn from")
    pcas = extract(trained, untrained, split, outputs["states"], sample, settings.batch_size, progress)
    storage.write_table(pca_table(pcas), outputs["pca"])
    storage.write_table(example_states(trained, settings.examples, vocabulary, max_length), outputs["examples"])
    return pcas


def visited_states(model, reviews: Reviews, rows: np.ndarray) -> list[np.ndarray]:
    """Every layer's states (N, S) at every token of ``reviews[rows]``, review by review, in float64:
    the states the network visited, where fixed-point starts are drawn from."""
    device = next(model.parameters()).device
    tokens, lengths, _ = padded_batch(reviews, np.asarray(rows), device)
    mask = torch.arange(tokens.shape[1], device=device)[None, :] < lengths[:, None]
    with torch.no_grad():
        return [h[mask].double().cpu().numpy() for h in model.eval().layer_states(tokens, lengths)]


# ---------------------------------------------------------------------------
# Example reviews


def example_states(model, examples: dict[str, str], vocabulary: dict[str, int], max_length: int | None) -> pa.Table:
    """Every layer's state at every token of each example text (cut to ``max_length`` tokens; None: whole),
    with the model's final P(positive) (NaN for a model of more than two classes, which has no positive one)."""
    device = next(model.parameters()).device
    model.eval()
    columns = {name: [] for name in EXAMPLES_SCHEMA.names}
    for name, review in examples.items():
        ids = text.encode(review, vocabulary, max_length=max_length)
        if not ids:
            raise ValueError(f"states.examples.{name}: the text has no tokens: {review!r}")
        # The words themselves, not the vocabulary's entries, so unknown words keep their spelling.
        words = text.tokenize(review)[: len(ids)]
        tokens = torch.tensor([ids], dtype=torch.long, device=device)
        lengths = torch.tensor([len(ids)], dtype=torch.long, device=device)
        with torch.no_grad():
            logits = model(tokens, lengths)
            probability = torch.sigmoid(logits).item() if model.classes == 2 else float("nan")
            layer_states = model.layer_states(tokens, lengths)
        for layer, h in enumerate(layer_states, start=1):
            for t, state in enumerate(h[0].to("cpu", torch.float32).numpy()):
                columns["name"].append(name)
                columns["layer"].append(layer)
                columns["t"].append(t)
                columns["token"].append(words[t])
                columns["h"].append(state)
                columns["probability"].append(probability)
    return pa.table(columns, schema=EXAMPLES_SCHEMA)
