"""Fixed points of a GRU layer of 256 units from 500 starts: batched Levenberg-Marquardt against Adam.

Times, in one process and on the same starts, the project's solver (float64
Levenberg-Marquardt on all starts at once) against the reproduction's way (Adam on
q, one start at a time; a sample of starts is timed and the time extrapolated to
all of them) and FixedPointFinder's way (Adam on all starts at once).

The network: a trained 1-layer GRU with 256 units if one is found (``--model``, or
the newest ``/tmp/**/models/gru-L1-*-H256-*/model.pt``), with its visited states
taken from reviews of its dataset; otherwise a 1-layer GRU trained here on a
generated dataset.

    python benchmarks/fixed_points.py [--quick] [--model PATH --reviews SPLIT.parquet]

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch

from rnn_dynamics import datasets, embeddings, fixed_points, linearization, model as model_lib, storage, synthetic, training
from rnn_dynamics.grid import ModelSpec


def find_trained_model() -> tuple[Path, Path] | None:
    """The newest trained 1-layer, 256-unit GRU under /tmp, with the test (or valid) split beside its results."""
    for path in sorted(glob.glob("/tmp/**/models/gru-L1-*-H256-*/model.pt", recursive=True), key=os.path.getmtime, reverse=True):
        data = Path(path).parents[2] / "data"
        for split in ("test", "valid"):
            if (data / f"{split}.parquet").exists():
                return Path(path), data / f"{split}.parquet"
    return None


def train_on_synthetic(folder: Path, epochs: int) -> tuple[Path, Path]:
    """A 1-layer GRU (E16, H256) trained on a generated dataset; its model.pt and test split."""
    synthetic.write_archive(folder / "synthetic.tar.gz", reviews_per_split=2000, seed=0)
    outputs = {name: folder / f"{name}.parquet" for name in ("train", "valid", "test", "vocab")}
    datasets.prepare(datasets.read_archive(folder / "synthetic.tar.gz"), outputs, valid_fraction=0.2, split_seed=0)
    spec = ModelSpec.parse("gru-L1-E16-H256-s0")
    splits = {split: training.read_reviews(outputs[split]) for split in ("train", "valid", "test")}
    matrix = embeddings.build(pq.read_table(outputs["vocab"]), "random", spec.embedding)
    settings = training.Settings(epochs=epochs, learning_rate=0.01, dropout=0.1, device="cpu", threads=torch.get_num_threads())
    names = ("initial.pt", "model.pt", "history.parquet", "metrics.json", "checkpoint.pt")
    training.train(spec, splits, matrix, settings, training.Outputs(*(folder / name for name in names)))
    return folder / "model.pt", outputs["test"]


def visited_states(model, reviews_path: Path, n_reviews: int) -> np.ndarray:
    """Layer 1's states at every token of the first ``n_reviews`` reviews."""
    reviews = training.read_reviews(reviews_path)
    rows = np.arange(min(n_reviews, len(reviews)))
    tokens, lengths, _ = training.padded_batch(reviews, rows, torch.device("cpu"))
    with torch.no_grad():
        (states,) = model.eval().layer_states(tokens, lengths)
    return torch.cat([states[i, : lengths[i]] for i in range(len(rows))]).numpy()


def converged_fractions(result) -> dict:
    return {"converged_1e-6": float(np.mean(result.q < 1e-6)), "converged_1e-8": float(np.mean(result.q < 1e-8))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 starts, fewer Adam iterations, 3 per-start samples")
    parser.add_argument("--model", type=Path, help="a trained 1-layer model.pt")
    parser.add_argument("--reviews", type=Path, help="the split table whose reviews give the start states")
    parser.add_argument("--starts", type=int)
    parser.add_argument("--adam-iterations", type=int)
    parser.add_argument("--per-start-sample", type=int)
    args = parser.parse_args()
    starts_n = args.starts or (100 if args.quick else 500)
    adam_iterations = args.adam_iterations or (1000 if args.quick else 5000)
    sample = args.per_start_sample or (3 if args.quick else 10)
    torch.manual_seed(0)

    if args.model:
        source = (args.model, args.reviews)
    else:
        source = find_trained_model()
    workdir = None
    if source is None:
        workdir = tempfile.TemporaryDirectory(prefix="benchmark_fixed_points_")
        print("no trained GRU1 with 256 units found under /tmp: training one on generated data")
        source = train_on_synthetic(Path(workdir.name), epochs=3 if args.quick else 6)
    model_path, reviews_path = source
    model = model_lib.load(model_path)
    system = model.system("layer1")
    states = visited_states(model, reviews_path, n_reviews=200)
    starts = fixed_points.sample_starts(states, starts_n, seed=0)
    print(f"model {model_path} ({model.spec.id}), {len(states)} visited states, {starts_n} starts, "
          f"{torch.get_num_threads()} threads")

    lm = fixed_points.find(system, starts, method="lm", max_iterations=200, tolerance=1e-12, progress=False)
    print(f"levenberg-marquardt, batched: {lm.seconds:.2f} s, {converged_fractions(lm)}, "
          f"median iterations {np.median(lm.iterations):.0f}, max {lm.iterations.max()}")
    adam = fixed_points.find(system, starts, method="adam", max_iterations=adam_iterations, tolerance=1e-12, progress=False)
    print(f"adam, batched ({adam_iterations} iterations at most): {adam.seconds:.2f} s, {converged_fractions(adam)}")
    chosen = np.random.default_rng(0).choice(starts_n, size=sample, replace=False)
    per_start = fixed_points.find(
        system, starts[chosen], method="adam", batched=False, max_iterations=adam_iterations, tolerance=1e-12, progress=False
    )
    per_start_seconds = per_start.seconds / sample * starts_n
    print(f"adam, one start at a time: {per_start.seconds:.2f} s for a sample of {sample} starts, "
          f"extrapolated to {starts_n} starts: {per_start_seconds:.1f} s, {converged_fractions(per_start)} (on the sample)")

    gathered = fixed_points.gather([lm.to_table()])
    unique = fixed_points.unique_fixed_points(gathered)
    modulus = linearization.linearize(system, storage.list_matrix(unique["fixed_point"]), modes=1).modulus
    median, tau = linearization.largest_modulus(modulus)
    print(f"levenberg-marquardt: {len(unique)} unique fixed points (chebyshev 1e-3), "
          f"median largest |lambda| {median:.4f} (tau {tau:.1f} steps)")
    figures = {
        "model": model.spec.id,
        "model_path": str(model_path),
        "starts": starts_n,
        "threads": torch.get_num_threads(),
        "lm_seconds": round(lm.seconds, 3),
        "adam_batched_seconds": round(adam.seconds, 3),
        "adam_per_start_seconds_extrapolated": round(per_start_seconds, 1),
        "adam_per_start_sample": sample,
        "adam_iterations": adam_iterations,
        "speedup_vs_adam_per_start": round(per_start_seconds / lm.seconds, 1),
        "speedup_vs_adam_batched": round(adam.seconds / lm.seconds, 1),
        "lm_converged_1e-6": converged_fractions(lm)["converged_1e-6"],
        "lm_converged_1e-8": converged_fractions(lm)["converged_1e-8"],
        "adam_batched_converged_1e-6": converged_fractions(adam)["converged_1e-6"],
        "adam_batched_converged_1e-8": converged_fractions(adam)["converged_1e-8"],
        "adam_per_start_converged_1e-6": converged_fractions(per_start)["converged_1e-6"],
        "adam_per_start_converged_1e-8": converged_fractions(per_start)["converged_1e-8"],
        "lm_median_iterations": float(np.median(lm.iterations)),
        "unique_fixed_points": len(unique),
        "median_largest_modulus": round(median, 5),
        "time_constant": round(tau, 2),
    }
    if workdir is not None:
        workdir.cleanup()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
