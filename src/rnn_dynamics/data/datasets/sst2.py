"""GLUE's SST-2.zip read in place: train.tsv is the train split, the labelled dev.tsv the test split."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pyarrow as pa

from rnn_dynamics.data.datasets.layout import LayoutError, open_zip, require_members
from rnn_dynamics.data.datasets.schema import LabelError, review_table

__all__ = ["SST2_MEMBERS", "check_sst2_layout", "read_sst2_archive"]

SST2_MEMBERS = {"train": "SST-2/train.tsv", "test": "SST-2/dev.tsv"}  # GLUE's test.tsv has no labels


def check_sst2_layout(path: str | os.PathLike) -> dict[str, int]:
    """Check that a zip holds SST-2/train.tsv and SST-2/dev.tsv; return their sizes in bytes."""
    with open_zip(path) as archive:
        require_members(path, archive.namelist(), SST2_MEMBERS, "GLUE's SST-2.zip")
        return {member: archive.getinfo(member).file_size for member in SST2_MEMBERS.values()}


def read_sst2_archive(path: str | os.PathLike) -> pa.Table:
    """GLUE's ``SST-2.zip`` read in place into a binary review table (labels 0 negative, 1 positive)."""
    columns = ([], [], [], [])
    with open_zip(path) as archive:
        require_members(path, archive.namelist(), SST2_MEMBERS, "GLUE's SST-2.zip")
        for split, member in SST2_MEMBERS.items():
            raw = archive.read(member).decode("utf-8")
            # GLUE's TSVs are unquoted: a '"' is part of the sentence.
            reader = csv.DictReader(io.StringIO(raw, newline=""), delimiter="\t", quoting=csv.QUOTE_NONE)
            if reader.fieldnames != ["sentence", "label"]:
                raise LayoutError(f"{path}: {member} has columns {reader.fieldnames}, expected ['sentence', 'label']")
            for row, record in enumerate(reader):
                if record["label"] not in ("0", "1"):
                    raise LabelError(f"{path}: {member} row {row + 1} has label {record['label']!r}, expected 0 or 1")
                for column, value in zip(
                    columns, (f"{Path(member).stem}:{row}", split, int(record["label"]), record["sentence"])
                ):
                    column.append(value)
    return review_table(*columns, 2)
