"""Test accuracy of one architecture trained on the quick-look synthetic set, with given training settings.

The data and model are those of ``configs/synthetic.yaml`` (2000 generated reviews per
split of 8-24 tokens, 20% of train held out for validation, random embeddings of 16,
hidden 32, batch 64, dropout 0.1, 10 epochs, on the CPU); the options change one
setting at a time, which is how docs/training-notes.md was measured.

    python benchmarks/synthetic_training.py --architecture vanilla --layers 1 \
        [--learning-rate 0.01] [--max-grad-norm 1.0 | --no-clip] [--epochs 10] [--dropout 0.1] [--seeds 0 1 2] [--quick]

The last line printed is one JSON object with the test accuracy of each seed.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
import torch

from rnn_dynamics.data import batches, datasets, embeddings, synthetic
from rnn_dynamics.ground.grid import ModelSpec
from rnn_dynamics.networks import training

FILES = ("train", "valid", "test", "vocab")


def prepare(folder: Path, reviews_per_split: int) -> dict:
    synthetic.write_archive(
        folder / "synthetic.tar.gz",
        synthetic.Settings(reviews_per_split=reviews_per_split, min_length=8, max_length=24, seed=0),
    )
    outputs = {name: folder / f"{name}.parquet" for name in FILES}
    datasets.prepare(
        datasets.read_archive(folder / "synthetic.tar.gz"),
        outputs,
        datasets.PrepareSettings(valid_fraction=0.2, split_seed=0, max_vocab=None),
    )
    return outputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--architecture", default="vanilla")
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--learning-rate", type=float, default=0.01)
    parser.add_argument("--max-grad-norm", type=float, default=1.0)
    parser.add_argument("--no-clip", action="store_true", help="no gradient-norm clipping")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--quick", action="store_true", help="500 reviews per split, 3 epochs")
    args = parser.parse_args()
    reviews_per_split, epochs = (500, 3) if args.quick else (2000, args.epochs)
    settings = training.Settings(
        epochs=epochs,
        learning_rate=args.learning_rate,
        max_grad_norm=None if args.no_clip else args.max_grad_norm,
        dropout=args.dropout,
        device="cpu",
        threads=1,
    )
    results = {
        "architecture": args.architecture,
        "layers": args.layers,
        "settings": training.dataclasses.asdict(settings),
    }
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        files = prepare(scratch, reviews_per_split)
        splits = {split: batches.read_split(files[split]) for split in ("train", "valid", "test")}
        accuracies = []
        start = time.perf_counter()
        for seed in args.seeds:
            spec = ModelSpec(args.architecture, args.layers, 16, 32, seed)
            matrix = embeddings.build(pq.read_table(files["vocab"]), "random", spec.embedding, seed=0)
            folder = scratch / spec.id
            folder.mkdir()
            outputs = training.Outputs(
                *(folder / n for n in ("initial.pt", "model.pt", "history.parquet", "metrics.json", "checkpoint.pt"))
            )
            metrics = training.train(spec, splits, matrix, settings, outputs)
            accuracies.append(round(metrics["test_accuracy"], 4))
            print(spec.id, "test accuracy", accuracies[-1], "best epoch", metrics["best_epoch"], flush=True)
        results |= {
            "test_accuracy": accuracies,
            "seconds": round(time.perf_counter() - start, 1),
            "torch": torch.__version__,
        }
    print(json.dumps(results))


if __name__ == "__main__":
    main()
