"""CPU training throughput of a 1-layer GRU-256: length-bucketed padded batches against packed sequences.

Both ways train the same model on the same reviews in the same batches (batch 64,
forward + backward + Adam step, IMDB-like review lengths), so the figures isolate
how the recurrent module is run. Also timed: the padded way without flushing
subnormal floats to zero, which the training sets (see rnn_dynamics.networks.training).

    python benchmarks/training_throughput.py [--quick] [--threads N]

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence

from rnn_dynamics.data.batches import Reviews, bucketed_batches, padded_batch
from rnn_dynamics.ground.grid import ModelSpec
from rnn_dynamics.networks import training
from rnn_dynamics.networks.model import SentimentClassifier

VOCAB = 25002
BATCH = 64
# The training config's dropout and layer dropout, by default (the schema's).
DEFAULTS = training.Settings()


def imdb_like_reviews(count: int, max_length: int, seed: int = 0) -> Reviews:
    """Random tokens with IMDB's length distribution (log-normal, median ~175 tokens), cut at ``max_length``."""
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.lognormal(np.log(175), 0.65, count).astype(np.int64), 10, max_length)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    return Reviews(rng.integers(2, VOCAB, offsets[-1]), offsets, rng.integers(0, 2, count).astype(np.float32))


def packed_logits(model: SentimentClassifier, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The baseline: the same network run on a packed sequence, reading the final state."""
    packed = pack_padded_sequence(
        model.dropout(model.embedding(tokens)), lengths, batch_first=True, enforce_sorted=False
    )
    _, final = model.recurrent(packed)
    return model.readout(model.dropout(final[-1])).squeeze(-1)


def tokens_per_second(reviews: Reviews, batches: list[np.ndarray], packed: bool, flush_denormal: bool) -> float:
    torch.set_flush_denormal(flush_denormal)
    torch.manual_seed(0)
    model = SentimentClassifier(
        ModelSpec("gru", 1, 100, 256, 0), VOCAB, dropout=DEFAULTS.dropout, layer_dropout=DEFAULTS.layer_dropout
    ).train()
    optimizer = torch.optim.Adam(model.parameters())
    cpu = torch.device("cpu")
    seconds = 0.0
    for number, indices in enumerate([batches[0], *batches]):  # the first batch warms up, untimed
        tokens, lengths, labels = padded_batch(reviews, indices, cpu)
        start = time.perf_counter()
        logits = packed_logits(model, tokens, lengths) if packed else model(tokens, lengths)
        loss = F.binary_cross_entropy_with_logits(logits, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if number:
            seconds += time.perf_counter() - start
    return sum(int(reviews.lengths[b].sum()) for b in batches) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 batches of reviews cut to 200 tokens")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    batches_count, max_length = (2, 200) if args.quick else (6, 1000)
    reviews = imdb_like_reviews(batches_count * BATCH * 8, max_length)
    # Bucketed batches drawn from a pool eight times larger, as in an epoch; the first few timed.
    batches = bucketed_batches(reviews.lengths, BATCH, torch.Generator().manual_seed(0))[:batches_count]
    figures = {
        "padded_tokens_per_second": tokens_per_second(reviews, batches, packed=False, flush_denormal=True),
        "packed_tokens_per_second": tokens_per_second(reviews, batches, packed=True, flush_denormal=True),
        "padded_subnormal_tokens_per_second": tokens_per_second(reviews, batches, packed=False, flush_denormal=False),
    }
    figures = {key: round(value, 1) for key, value in figures.items()}
    figures |= {
        "speedup": round(figures["padded_tokens_per_second"] / figures["packed_tokens_per_second"], 2),
        "flush_denormal_speedup": round(
            figures["padded_tokens_per_second"] / figures["padded_subnormal_tokens_per_second"], 2
        ),
        "batches": batches_count,
        "tokens": sum(int(reviews.lengths[b].sum()) for b in batches),
        "threads": args.threads,
        "torch": torch.__version__,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
