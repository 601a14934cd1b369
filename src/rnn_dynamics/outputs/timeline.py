"""The run's timeline: Snakemake's per-job ``benchmark:`` records gathered into one table.

Every rule that does real work writes ``logs/benchmarks/[{dataset}/]{rule}/{…}.tsv`` (one line
of Snakemake's measurements: wall seconds ``s``, ``max_rss`` in MB, CPU time, …); the path says
which rule and which job (model, system, shard, or another wildcard).

A record holds no clock time: the file is written when its job ends, so its modification time
is taken as the job's end and ``end - s`` as its start; ``start_s`` and ``end_s`` count seconds
from the earliest start, which shows which jobs ran at once (copies without their times lose
that; ``s`` and ``max_rss`` stay exact).

    python -m rnn_dynamics.outputs.timeline logs/benchmarks/imdb [--csv timeline.csv]

prints the table and the wall time and summed job seconds per rule.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from rnn_dynamics.ground.grid import MODEL_ID_PATTERN, SPLIT_TAG_PATTERN
from rnn_dynamics.ground.storage import atomic_path
from rnn_dynamics.outputs.catalogue import TABLES

__all__ = [
    "describe",
    "find",
    "main",
    "per_rule",
    "present",
    "read_benchmark",
    "timeline_table",
    "write",
]

# A model id with its split tag (``gru-L1-E50-H256-s0@train``) where a job is per split.
_MODEL = re.compile(f"^{MODEL_ID_PATTERN}(?:{SPLIT_TAG_PATTERN})$")
_SYSTEM = re.compile(r"^(layer[0-9]+|stack)$")
_SHARD = re.compile(r"^shard-([0-9]+-of-[0-9]+)$")
log = logging.getLogger(__name__)


def describe(path: str | os.PathLike, root: str | os.PathLike) -> dict[str, str]:
    """Rule and job wildcards of a benchmark file under ``root`` (``{rule}.tsv`` or ``{rule}/{…}.tsv``),
    or beside it (a job of all datasets: ``root/../{rule}.tsv``).

    Path parts after the rule are read as a model id, a system (``layerN``, ``stack``),
    a shard (``shard-I-of-N``), or else kept whole as ``item`` (an archive, ``glove-100``).
    """
    path, root = Path(path), Path(root)
    # A job shared by all datasets (download_glove) keeps its record beside the datasets' folders.
    relative = path.relative_to(root) if path.is_relative_to(root) else path.relative_to(root.parent)
    if relative.suffix != ".tsv":
        raise ValueError(f"{path}: a benchmark record is a .tsv file")
    parts = [*relative.parent.parts, relative.stem]
    found = {"rule": parts[0], "model": "", "system": "", "shard": "", "item": ""}
    rest = []
    for part in parts[1:]:
        if _MODEL.match(part) and not found["model"]:
            found["model"] = part
        elif _SYSTEM.match(part) and not found["system"]:
            found["system"] = part
        elif _SHARD.match(part) and not found["shard"]:
            found["shard"] = _SHARD.match(part).group(1)
        else:
            rest.append(part)
    found["item"] = "/".join(rest)
    return found


def read_benchmark(path: str | os.PathLike) -> dict[str, float]:
    """Seconds, peak resident memory (MB) and CPU seconds of one record (the mean if it holds repeats)."""
    table = pd.read_csv(path, sep="\t")
    missing = {"s", "max_rss"} - set(table.columns)
    if missing or table.empty:
        raise ValueError(f"{path}: not a Snakemake benchmark record (no rows, or no column {sorted(missing)})")

    def mean(column: str) -> float:
        if column not in table:
            return float("nan")
        # Snakemake writes "-" where it could not measure (a job too short for a sample).
        return float(pd.to_numeric(table[column], errors="coerce").mean())

    return {"s": mean("s"), "max_rss": mean("max_rss"), "cpu_time": mean("cpu_time")}


def timeline_table(paths: list[str | os.PathLike], root: str | os.PathLike) -> pd.DataFrame:
    """One row per benchmark record in ``paths`` (under ``root``), in order of start."""
    rows = []
    for path in paths:
        record = read_benchmark(path)
        end = Path(path).stat().st_mtime
        rows.append({**describe(path, root), **record, "end": end, "benchmark": Path(path).as_posix()})
    if not rows:
        return pd.DataFrame(columns=TABLES["timeline"].names)
    table = pd.DataFrame(rows)
    table["start"] = table["end"] - table["s"]
    origin = table["start"].min()
    table["start_s"] = (table["start"] - origin).round(2)
    table["end_s"] = (table["end"] - origin).round(2)
    table = table.sort_values(["start_s", "rule", "model", "system", "shard", "item"], kind="stable")
    return table[TABLES["timeline"].names].reset_index(drop=True)


def present(expected: list[str | os.PathLike]) -> list[Path]:
    """The records of ``expected`` that exist; the missing ones (a job run before records were
    kept, or whose logs were deleted) are logged and left out rather than failing the table."""
    paths = [Path(p) for p in expected]
    missing = [p.as_posix() for p in paths if not p.exists()]
    if missing:
        log.warning("%d of %d benchmark records missing, left out: %s", len(missing), len(paths), missing)
    return [p for p in paths if p.exists()]


def find(root: str | os.PathLike) -> list[Path]:
    """Every benchmark record under ``root``."""
    return sorted(Path(root).rglob("*.tsv"))


def per_rule(table: pd.DataFrame) -> pd.DataFrame:
    """Jobs, summed and longest job seconds, and largest peak memory per rule, in order of first start;
    the wall span of the whole table is ``table.end_s.max()``."""
    grouped = table.groupby("rule", sort=False)
    return pd.DataFrame(
        {
            "jobs": grouped.size(),
            "first_start_s": grouped["start_s"].min(),
            "last_end_s": grouped["end_s"].max(),
            "sum_s": grouped["s"].sum().round(2),
            "max_s": grouped["s"].max().round(2),
            "max_rss": grouped["max_rss"].max(),
        }
    ).reset_index()


def write(table: pd.DataFrame, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Gather Snakemake benchmark records into one timeline.")
    parser.add_argument("root", help="a benchmark folder, e.g. logs/benchmarks/imdb")
    parser.add_argument("--csv", help="also write the table here")
    args = parser.parse_args(argv)
    table = timeline_table(find(args.root), args.root)
    if args.csv:
        write(table, args.csv)
    with pd.option_context("display.max_rows", None, "display.width", 200, "display.max_columns", None):
        print(table.drop(columns="benchmark").to_string(index=False))
        print()
        print(per_rule(table).to_string(index=False))
    span = float(np.nanmax(table["end_s"])) if len(table) else 0.0
    print(f"\n{len(table)} jobs; wall time from the first start to the last end: {span:.1f} s")


if __name__ == "__main__":
    main()
