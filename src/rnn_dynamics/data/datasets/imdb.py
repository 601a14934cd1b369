"""The Large Movie Review Dataset's ``aclImdb`` tar.gz, and the generated archives in its layout, read in place."""

from __future__ import annotations

import os
import re
import tarfile
import zlib
from collections import Counter
from pathlib import Path
from typing import Callable, Mapping

import pyarrow as pa
import pyarrow.compute as pc
from tqdm import tqdm

from rnn_dynamics.data import synthetic
from rnn_dynamics.data.datasets.layout import LayoutError
from rnn_dynamics.data.datasets.schema import REVIEWS_SCHEMA, SPLITS, Classes, LabelError, review_table, with_classes

__all__ = [
    "LABELS",
    "REVIEW_MEMBER",
    "SYNTHETIC_MEMBER",
    "check_archive_layout",
    "read_archive",
    "read_synthetic_archive",
]

LABELS = {"neg": 0, "pos": 1}
REVIEW_MEMBER = re.compile(r"^(?:\./)?aclImdb/(train|test)/(pos|neg)/([^/]+)\.txt$")
SYNTHETIC_MEMBER = re.compile(r"^(?:\./)?synthetic/(train|test)/([0-9]+)/([^/]+)\.txt$")


def _members(path: str | os.PathLike, wanted: Callable[[str], bool]):
    """Yield (member, its bytes) for each regular file of the tar.gz at ``path`` whose name is ``wanted``,
    streaming; an unreadable archive raises a LayoutError naming it."""
    try:
        with tarfile.open(path, "r|*") as tar:
            for member in tar:
                if member.isfile() and wanted(member.name):
                    yield member, tar.extractfile(member).read()
    except FileNotFoundError:
        raise
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:  # gzip's errors are OSErrors
        raise LayoutError(f"{path}: not a readable tar.gz archive ({exc})") from exc


def _review_members(path: str | os.PathLike, read_text: bool):
    """Yield (split, label, name, text or None) for each review in the archive, streaming."""
    for member, data in _members(path, REVIEW_MEMBER.match):
        split, label, name = REVIEW_MEMBER.match(member.name).groups()
        yield split, label, name, data.decode("utf-8") if read_text else None


def _check_counts(path, counts: Mapping[tuple[str, str], int]) -> None:
    missing = [f"aclImdb/{s}/{label}/" for s in SPLITS for label in LABELS if counts.get((s, label), 0) == 0]
    if missing:
        found = ", ".join(f"{s}/{label}: {n}" for (s, label), n in sorted(counts.items())) or "no reviews at all"
        raise LayoutError(
            f"{path}: not an aclImdb archive: no reviews (*.txt) under {', '.join(missing)} (found {found})"
        )


def check_archive_layout(path: str | os.PathLike) -> dict[str, int]:
    """Check that the archive holds reviews for both splits and both labels; return the counts."""
    counts = Counter((split, label) for split, label, _, _ in _review_members(path, read_text=False))
    _check_counts(path, counts)
    return {f"{split}/{label}": n for (split, label), n in sorted(counts.items())}


def read_archive(path: str | os.PathLike) -> pa.Table:
    """Read an aclImdb ``tar.gz`` in place (no extraction) into a review table sorted by id."""
    ids, splits, labels, texts = [], [], [], []
    counts = Counter()
    members = _review_members(path, read_text=True)
    for split, label, name, text in tqdm(members, desc=f"reading {Path(path).name}", unit=" reviews", mininterval=5):
        ids.append(f"{split}/{label}/{name}")
        splits.append(split)
        labels.append(LABELS[label])
        texts.append(text)
        counts[split, label] += 1
    _check_counts(path, counts)
    table = pa.table([ids, splits, pa.array(labels, pa.int8()), pa.array(texts, pa.string())], schema=REVIEWS_SCHEMA)
    # Sorted, so that the output does not depend on the order the archive was packed in.
    return table.take(pc.sort_indices(table, [("id", "ascending")]))


def read_synthetic_archive(path: str | os.PathLike) -> pa.Table:
    """A ``synthetic.write_archive`` archive read in place: the binary task's aclImdb layout
    (``read_archive``), or the N-class layout (``synthetic/{split}/{label}/{i}.txt`` with its classes in
    ``synthetic.CLASSES_MEMBER``), sorted by id."""
    ids, splits, labels, texts = [], [], [], []
    classes = None
    wanted = lambda name: name.removeprefix("./") == synthetic.CLASSES_MEMBER or SYNTHETIC_MEMBER.match(name)  # noqa: E731
    for member, data in _members(path, wanted):
        if member.name.removeprefix("./") == synthetic.CLASSES_MEMBER:
            classes = Classes.from_json(data, f"{path}: {member.name}")
            continue
        split, label, name = SYNTHETIC_MEMBER.match(member.name).groups()
        ids.append(f"{split}/{int(label)}/{name}")
        splits.append(split)
        labels.append(int(label))
        texts.append(data.decode("utf-8"))
    if classes is None:
        return read_archive(path)
    outside = sorted({label for label in labels if label >= len(classes)})
    if outside:
        raise LabelError(f"{path}: labels {outside} outside the archive's {len(classes)} classes {classes.names}")
    table = with_classes(review_table(ids, splits, labels, texts, classes=len(classes)), classes)
    return table.take(pc.sort_indices(table, [("id", "ascending")]))
