"""Benchmark: `prepare` on the real IMDB archive (50,000 reviews), against a naive baseline.

The project's way reads the tar.gz in place and tokenizes every review once into
integer ids. The baseline is the obvious script: extract the archive to disk, read
each file, keep every review's token list in memory, count with a Counter, encode
with a dict lookup per token, write Parquet. Both are timed in this process; the
project's way runs first, so its peak RSS is its own, while the baseline's is the
process peak after both (at least the baseline's own).

    python benchmarks/prepare.py [ARCHIVE] [--quick]

Prints wall times and peak RSS and, as its last line, one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tarfile
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa

from rnn_dynamics.data import datasets, synthetic
from rnn_dynamics.data.text import Vocabulary, tokenize
from rnn_dynamics.ground import storage

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ARCHIVE = ROOT / "../shared/data/imdb/aclImdb_v1_labelled.tar.gz"
OUTPUTS = ("train", "valid", "test", "vocab")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def project_way(archive: Path, out: Path) -> dict:
    reviews = datasets.read_archive(archive)
    return datasets.prepare(reviews, {name: out / f"{name}.parquet" for name in OUTPUTS}, datasets.PrepareSettings())


def baseline(archive: Path, out: Path) -> dict:
    with tempfile.TemporaryDirectory(dir=out) as extracted:
        with tarfile.open(archive) as tar:
            tar.extractall(extracted, filter="data")
        rows = []
        for split in datasets.SPLITS:
            for label, value in datasets.LABELS.items():
                for file in sorted((Path(extracted) / "aclImdb" / split / label).glob("*.txt")):
                    rows.append((f"{split}/{label}/{file.stem}", split, value, tokenize(file.read_text())))
    labels = np.array([row[2] for row in rows])
    is_train = np.array([row[1] == "train" for row in rows])
    held_out = np.zeros(len(rows), dtype=bool)
    held_out[is_train] = datasets.stratified_holdout(labels[is_train], 0.2, 0)
    parts = {
        "train": [r for r, t, h in zip(rows, is_train, held_out) if t and not h],
        "valid": [r for r, t, h in zip(rows, is_train, held_out) if t and h],
        "test": [r for r, t in zip(rows, is_train) if not t],
    }
    vocab = Vocabulary.from_counts(Counter(tok for row in parts["train"] for tok in row[3]), max_size=25000)
    for name, part in parts.items():
        tokens = [[vocab.index.get(tok, 1) for tok in row[3]] for row in part]
        table = pa.table(
            {
                "id": [row[0] for row in part],
                "label": pa.array([row[2] for row in part], pa.int8()),
                "length": pa.array([len(t) for t in tokens], pa.int32()),
                "tokens": pa.array(tokens, pa.list_(pa.int32())),
            }
        )
        storage.write_table(table, out / f"{name}.parquet")
    storage.write_table(vocab.to_table(), out / "vocab.parquet")
    return {name: len(part) for name, part in parts.items()} | {"vocab": len(vocab)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("archive", nargs="?", type=Path, default=DEFAULT_ARCHIVE)
    parser.add_argument("--quick", action="store_true", help="use a generated archive of 4,000 reviews")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="prepare-benchmark-") as tmp:
        tmp = Path(tmp)
        archive = args.archive
        if args.quick:
            archive = tmp / "synthetic.tar.gz"
            synthetic.write_archive(archive, synthetic.Settings(reviews_per_split=2000, seed=0))
        (tmp / "project").mkdir()
        (tmp / "baseline").mkdir()
        start = time.perf_counter()
        counts = project_way(archive, tmp / "project")
        project_seconds = time.perf_counter() - start
        project_rss = peak_rss_mb()
        print(f"project:  {project_seconds:6.1f} s  peak RSS {project_rss:7.0f} MB  {counts}", file=sys.stderr)
        start = time.perf_counter()
        baseline_counts = baseline(archive, tmp / "baseline")
        baseline_seconds = time.perf_counter() - start
        baseline_rss = peak_rss_mb()
        print(
            f"baseline: {baseline_seconds:6.1f} s  peak RSS {baseline_rss:7.0f} MB  {baseline_counts}", file=sys.stderr
        )
        same = all(
            storage.read_table(tmp / "project" / f"{n}.parquet", {}).equals(
                storage.read_table(tmp / "baseline" / f"{n}.parquet", {})
            )
            for n in OUTPUTS
        )
    print(
        json.dumps(
            {
                "archive": os.fspath(archive.name),
                "reviews": sum(counts[n] for n in ("train", "valid", "test")),
                "prepare_seconds": round(project_seconds, 2),
                "prepare_peak_rss_mb": round(project_rss),
                "baseline_seconds": round(baseline_seconds, 2),
                "baseline_peak_rss_mb_at_most": round(baseline_rss),
                "speedup": round(baseline_seconds / project_seconds, 2),
                "identical_outputs": same,
                "cpus": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()
