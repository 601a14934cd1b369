"""Hidden-state extraction: states per second and peak memory with N and with 2N reviews.

The project's way (``states.extract``: streaming PCA, Parquet row groups written per
batch) against the obvious baseline (keep every state in memory, then scikit-learn's
PCA), on random reviews through an untrained GRU on the CPU, all in one process.
The streaming way's peak memory must not grow with the number of reviews; the
baseline's grows linearly.

    python benchmarks/hidden_states.py [--quick]

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch
from sklearn.decomposition import PCA

from rnn_dynamics.data.batches import bucketed_batches, padded_batch, read_split
from rnn_dynamics.dynamics import states
from rnn_dynamics.ground import storage
from rnn_dynamics.ground.grid import ModelSpec
from rnn_dynamics.networks.model import SentimentClassifier

VOCAB_SIZE = 5000


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


class PeakMemory:
    """Peak resident memory above the level at entry, sampled every millisecond, and tracemalloc's peak."""

    def __enter__(self):
        # Hand freed heap back to the system so that one run's leftovers do not hide the next one's growth.
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        self.start = self.peak = resident_bytes()
        self._running = True
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        tracemalloc.start()
        return self

    def _sample(self):
        while self._running:
            self.peak = max(self.peak, resident_bytes())
            time.sleep(0.001)

    def __exit__(self, *exc):
        self.traced_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        self._running = False
        self._thread.join()
        self.rss_growth = self.peak - self.start


def write_split(path: Path, n_reviews: int, min_length: int, max_length: int) -> None:
    rng = np.random.default_rng(0)
    lengths = rng.integers(min_length, max_length + 1, size=n_reviews)
    storage.write_table(
        pa.table(
            {
                "id": [str(i) for i in range(n_reviews)],
                "label": pa.array(rng.integers(0, 2, size=n_reviews), pa.int8()),
                "length": pa.array(lengths, pa.int32()),
                "tokens": pa.array([rng.integers(2, VOCAB_SIZE, size=n) for n in lengths], pa.list_(pa.int32())),
            }
        ),
        path,
    )


def in_memory_pca(model, split, batch_size: int) -> list[PCA]:
    """The baseline: gather every state of every layer, then fit scikit-learn's PCA."""
    gathered = [[] for _ in range(model.spec.layers)]
    with torch.no_grad():
        for reviews in bucketed_batches(split.lengths, batch_size):
            tokens, lengths, _ = padded_batch(split, reviews, torch.device("cpu"))
            mask = torch.arange(tokens.shape[1])[None, :] < lengths[:, None]
            for layer, h in enumerate(model.layer_states(tokens, lengths)):
                gathered[layer].append(h[mask].numpy())
    return [PCA(svd_solver="covariance_eigh").fit(np.concatenate(parts)) for parts in gathered]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small version (seconds)")
    args = parser.parse_args()
    reviews, hidden, lengths = (300, 64, (20, 120)) if args.quick else (2000, 256, (50, 400))
    batch_size = 64
    torch.manual_seed(0)
    model = SentimentClassifier(ModelSpec("gru", 1, 100, hidden, 0), VOCAB_SIZE, dropout=0.0, layer_dropout=0.0).eval()

    results = {"hidden": hidden, "layers": 1, "threads": torch.get_num_threads()}
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        for name, n in (("n", reviews), ("2n", 2 * reviews)):
            write_split(scratch / f"{name}.parquet", n, *lengths)
        # Warm up: the CPU's recurrent kernels are set up once per sequence length, so run every
        # length once before timing anything.
        in_memory_pca(model, read_split(scratch / "2n.parquet"), batch_size)
        for name in ("n", "2n"):
            split = read_split(scratch / f"{name}.parquet")
            n_states = int(split.lengths.sum())
            # Every review dumped: the dump is streamed too, so this is the hardest case for memory.
            with PeakMemory() as memory:
                start = time.perf_counter()
                states.extract(model, model, split, scratch / name, np.arange(len(split)), batch_size, progress=False)
                seconds = time.perf_counter() - start
            with PeakMemory() as baseline_memory:
                start = time.perf_counter()
                in_memory_pca(model, split, batch_size)
                baseline_seconds = time.perf_counter() - start
            dump_bytes = sum(f.stat().st_size for f in (scratch / name).iterdir())
            results[name] = {
                "reviews": len(split),
                "states": n_states,
                # Each state is computed twice (trained and untrained weights) in the project's way.
                "states_per_second": round(n_states / seconds),
                "seconds": round(seconds, 2),
                "peak_rss_growth_mb": round(memory.rss_growth / 2**20, 1),
                "peak_traced_mb": round(memory.traced_peak / 2**20, 1),
                "dump_mb": round(dump_bytes / 2**20, 1),
                "baseline_seconds": round(baseline_seconds, 2),
                "baseline_peak_rss_growth_mb": round(baseline_memory.rss_growth / 2**20, 1),
                "baseline_peak_traced_mb": round(baseline_memory.traced_peak / 2**20, 1),
            }
            print(name, json.dumps(results[name]), flush=True)
    results["peak_rss_ratio_2n_over_n"] = round(
        results["2n"]["peak_rss_growth_mb"] / max(results["n"]["peak_rss_growth_mb"], 0.1), 2
    )
    results["baseline_peak_rss_ratio_2n_over_n"] = round(
        results["2n"]["baseline_peak_rss_growth_mb"] / max(results["n"]["baseline_peak_rss_growth_mb"], 0.1), 2
    )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
