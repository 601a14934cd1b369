"""Benchmark: the data card's cost on top of `prepare`, on the real IMDB archive (50,000 reviews).

`prepare` runs twice on the same review table, read once: without the card (the token tables and the
vocabulary alone) and with it (``card.json`` as well: the per-split counts, lengths and unknown tokens from
the ids prepare makes, and one search per artefact detector in every text). The card's cost is the
difference; the detectors' search is timed on its own too.

    python benchmarks/data_card.py [ARCHIVE] [--quick]

Prints wall times and, as its last line, one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from rnn_dynamics.data import datasets, synthetic

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ARCHIVE = ROOT / "../shared/data/imdb/aclImdb_v1_labelled.tar.gz"
OUTPUTS = ("train", "valid", "test", "vocab")


def timed_prepare(reviews, out: Path, card: bool) -> float:
    outputs = {name: out / f"{name}.parquet" for name in OUTPUTS} | ({"card": out / "card.json"} if card else {})
    start = time.perf_counter()
    datasets.prepare(reviews, outputs, datasets.PrepareSettings())
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("archive", nargs="?", type=Path, default=DEFAULT_ARCHIVE)
    parser.add_argument("--quick", action="store_true", help="use a generated archive of 4,000 reviews")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="data-card-benchmark-") as tmp:
        tmp = Path(tmp)
        archive = args.archive
        if args.quick:
            archive = tmp / "synthetic.tar.gz"
            synthetic.write_archive(archive, synthetic.Settings(reviews_per_split=2000, seed=0))
        reviews = datasets.read_reviews({"kind": "aclimdb"}, [archive], seed=0)
        for name in ("without", "with"):
            (tmp / name).mkdir()
        without = timed_prepare(reviews, tmp / "without", card=False)
        with_card = timed_prepare(reviews, tmp / "with", card=True)
        start = time.perf_counter()
        found = datasets.artefacts(reviews.column("id").to_pylist(), reviews.column("text").to_pylist())
        detectors = time.perf_counter() - start
        print(f"prepare alone: {without:6.1f} s; with the card: {with_card:6.1f} s", file=sys.stderr)
        same = all(
            (tmp / "without" / f"{n}.parquet").read_bytes() == (tmp / "with" / f"{n}.parquet").read_bytes()
            for n in OUTPUTS
        )
    print(
        json.dumps(
            {
                "archive": os.fspath(archive.name),
                "reviews": reviews.num_rows,
                "prepare_seconds": round(without, 2),
                "prepare_with_card_seconds": round(with_card, 2),
                "card_seconds": round(with_card - without, 2),
                "card_share": round((with_card - without) / without, 3),
                "detectors_seconds": round(detectors, 2),
                "artefact_texts": {name: entry["texts"] for name, entry in found.items()},
                "identical_tables": same,
                "cpus": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()
