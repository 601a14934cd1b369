"""Full-IMDB training on the available device: seconds per epoch and test accuracy.

    python benchmarks/training_imdb.py [--archive PATH] [--layers 1 3] [--epochs 10 2]
    python benchmarks/training_imdb.py --quick     # a generated archive, tiny model, CPU
    python benchmarks/training_imdb.py --data results/imdb/data --embeddings results/imdb/embeddings/kumo-50.npy \
        --embedding 50 --architecture vanilla --layers 1 --epochs 6 --learning-rate 3e-4 --dropout 0.1 --skip-baseline

Trains the project's way (``rnn_dynamics.networks.training.train``: length-bucketed padded
batches, the fused cuDNN module on a GPU) for each layer count, and as the baseline
one epoch of the same GRU on packed sequences in randomly composed batches (the
reproduction's way), in the same process. Embeddings 100-d, randomly initialised,
hidden 256, batch 64, as the DESIGN.md prototype. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence

from rnn_dynamics.data import batches, datasets, synthetic
from rnn_dynamics.ground.grid import ModelSpec
from rnn_dynamics.networks import model as model_lib
from rnn_dynamics.networks import training

ROOT = Path(__file__).resolve().parents[1]
ARCHIVE = ROOT.parent / "shared" / "data" / "imdb" / "aclImdb_v1_labelled.tar.gz"


def packed_epoch(spec: ModelSpec, reviews: batches.Reviews, vocab_size: int, batch_size: int, device) -> float:
    """Seconds for one training epoch of the same network on packed sequences in shuffled batches."""
    torch.manual_seed(spec.seed)
    embedding = torch.nn.Embedding(vocab_size, spec.embedding).to(device)
    gru = torch.nn.GRU(spec.embedding, spec.hidden, num_layers=spec.layers, batch_first=True).to(device)
    readout = torch.nn.Linear(spec.hidden, 1).to(device)
    params = [*embedding.parameters(), *gru.parameters(), *readout.parameters()]
    optimizer = torch.optim.Adam(params)
    order = np.random.default_rng(spec.seed).permutation(len(reviews))
    start = time.perf_counter()
    for begin in range(0, len(order), batch_size):
        tokens, lengths, labels = batches.padded_batch(reviews, order[begin : begin + batch_size], device)
        packed = pack_padded_sequence(
            F.dropout(embedding(tokens), 0.5), lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        _, last = gru(packed)
        loss = F.binary_cross_entropy_with_logits(readout(F.dropout(last[-1], 0.5)).squeeze(-1), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archive", type=Path, default=ARCHIVE)
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="a prepared data folder (train/valid/test/vocab.parquet) instead of --archive",
    )
    parser.add_argument(
        "--embeddings", type=Path, default=None, help="an embedding matrix (.npy) instead of random vectors"
    )
    parser.add_argument("--layers", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--epochs", type=int, nargs="+", default=[10, 2], help="epochs per entry of --layers")
    parser.add_argument("--architecture", default="gru", help="a cell of rnn_dynamics.networks.cells")
    parser.add_argument("--embedding", type=int, default=100)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--max-length", type=int, default=None)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument(
        "--learning-rate-decay", type=float, default=1.0, help="per-epoch factor (training.learning_rate_decay)"
    )
    parser.add_argument("--max-grad-norm", type=float, default=1.0, help="gradient clipping (0: none)")
    parser.add_argument("--dropout", type=float, default=0.5)
    parser.add_argument("--weight-decay", type=float, default=0.0, help="L2 penalty (training.weight_decay)")
    parser.add_argument("--freeze-embeddings", action="store_true", help="training.freeze_embeddings")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--out", type=Path, default=None, help="keep data and models here (default: a temp dir)")
    parser.add_argument("--quick", action="store_true", help="generated archive, tiny model")
    parser.add_argument("--skip-baseline", action="store_true", help="time only the project's way")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.quick:
        args.layers, args.epochs, args.embedding, args.hidden = [1], [2], 16, 32

    work = Path(args.out or tempfile.mkdtemp(prefix="training_imdb_"))
    archive = args.archive
    if args.quick:
        archive = work / "synthetic.tar.gz"
        synthetic.write_archive(archive, synthetic.Settings(reviews_per_split=500, seed=0))
    start = time.perf_counter()
    if args.data is None:
        data = {name: work / "data" / f"{name}.parquet" for name in ("train", "valid", "test", "vocab")}
        counts = datasets.prepare(
            datasets.read_archive(archive), data, datasets.PrepareSettings(max_length=args.max_length)
        )
    else:
        data = {name: args.data / f"{name}.parquet" for name in ("train", "valid", "test", "vocab")}
        counts = {name: pq.read_metadata(path).num_rows for name, path in data.items()}
    prepare_seconds = time.perf_counter() - start
    vocab_size = counts["vocab"]
    splits = {name: batches.read_split(data[name], vocab_size) for name in ("train", "valid", "test")}
    device = model_lib.resolve_device(args.device)
    print(f"device {device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu'}), "
          f"torch {torch.__version__}, prepared {counts} in {prepare_seconds:.1f} s", flush=True)  # fmt: skip

    result: dict = {"device": str(device), "torch": torch.__version__, "prepare_seconds": round(prepare_seconds, 1)}
    for layers, epochs in zip(args.layers, args.epochs):
        spec = ModelSpec(args.architecture, layers, args.embedding, args.hidden, 0)
        if args.embeddings is None:
            embeddings = np.random.default_rng(0).normal(0, 1, (vocab_size, args.embedding)).astype(np.float32)
        else:
            embeddings = np.load(args.embeddings)
        settings = training.Settings(
            epochs=epochs,
            device=args.device,
            threads=args.threads,
            learning_rate=args.learning_rate,
            learning_rate_decay=args.learning_rate_decay,
            max_grad_norm=args.max_grad_norm or None,
            dropout=args.dropout,
            weight_decay=args.weight_decay,
            freeze_embeddings=args.freeze_embeddings,
        )
        folder = work / "models" / spec.id
        outputs = training.Outputs(
            *(folder / name for name in ("initial.pt", "model.pt", "history.parquet", "metrics.json", "checkpoint.pt"))
        )
        start = time.perf_counter()
        metrics = training.train(spec, splits, embeddings, settings, outputs)
        total = time.perf_counter() - start
        history = pd.read_parquet(outputs.history)
        # The first epoch includes cuDNN's autotuning and allocator warm-up.
        steady = history["seconds"].iloc[1:] if len(history) > 1 else history["seconds"]
        result[f"{args.architecture}{layers}"] = {
            "epochs": epochs,
            "epoch_seconds_first": round(float(history["seconds"].iloc[0]), 2),
            "epoch_seconds_median": round(float(steady.median()), 2),
            "total_seconds": round(total, 1),
            "test_accuracy": round(metrics["test_accuracy"], 4),
            "best_epoch": metrics["best_epoch"],
        }
        print(f"{spec.id}: {result[f'{args.architecture}{layers}']}", flush=True)

    if not args.skip_baseline and args.architecture == "gru":
        spec = ModelSpec("gru", args.layers[0], args.embedding, args.hidden, 0)
        packed = packed_epoch(spec, splits["train"], vocab_size, 64, device)
        ours = result[f"gru{args.layers[0]}"]["epoch_seconds_median"]
        result["baseline_packed_epoch_seconds"] = round(packed, 2)
        result["speedup_vs_packed"] = round(packed / ours, 2)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    sys.exit(main() and 0)
