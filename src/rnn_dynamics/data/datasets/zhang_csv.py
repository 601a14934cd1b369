"""Zhang et al.'s (2015) CSV archives read in place: Yelp polarity, Yelp full (1 to 5 stars), AG News, DBpedia.

Each archive is one ``CsvArchive``: its members, its text fields and its classes; the registry
(``datasets.registry``) holds one entry per archive, whose reader and layout check are the archive's
``read`` and ``check_layout``.
"""

from __future__ import annotations

import csv
import io
import os
import tarfile
import zlib
from dataclasses import dataclass
from typing import Mapping

import pyarrow as pa

from rnn_dynamics.data.datasets.cleaning import RULES, clean
from rnn_dynamics.data.datasets.layout import LayoutError, open_tar, require_members, require_regular_file
from rnn_dynamics.data.datasets.schema import BINARY, Classes, LabelError, review_table, with_classes

__all__ = [
    "AG_NEWS",
    "AG_NEWS_CLASSES",
    "AG_NEWS_MEMBERS",
    "DBPEDIA",
    "DBPEDIA_MEMBERS",
    "YELP",
    "YELP_FULL",
    "YELP_FULL_MEMBERS",
    "YELP_LABELS",
    "YELP_MEMBERS",
    "CsvArchive",
]


@dataclass(frozen=True)
class CsvArchive:
    """One of Zhang et al.'s (2015) CSV archives: rows ``"label", "field", ...`` with labels 1..N; ``cleaning``
    names the rules (``cleaning.RULES``) its texts go through."""

    name: str  # the official file name
    members: Mapping[str, str]  # split -> member
    fields: tuple[str, ...]  # the text fields after the label, joined by a space
    names: tuple[str, ...] | None  # the classes, or None: one per line of ``names_member``
    names_member: str | None
    ordered: bool
    cleaning: tuple[str, ...] = tuple(RULES)

    def required(self) -> list[str]:
        return list(self.members.values()) + ([self.names_member] if self.names_member else [])

    @property
    def classes(self) -> Classes | None:
        """The classes its prepared tables carry (``BINARY`` for two), or None where ``names_member`` names them."""
        if self.names is None:
            return None
        return BINARY if len(self.names) == 2 else Classes(self.names, self.ordered)

    def check_layout(self, path: str | os.PathLike) -> dict[str, int]:
        """Check that a tar holds the archive's members as regular files; return their sizes in bytes."""
        try:
            with open_tar(path, "r|*") as tar:  # streaming: only the headers are looked at
                members = {member.name.removeprefix("./"): member for member in tar}
        except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
            raise LayoutError(f"{path}: not a readable tar archive ({exc})") from exc
        required = dict(enumerate(self.required()))
        require_members(path, members, required, self.name)
        for member in required.values():
            require_regular_file(path, members[member], self.name)
        return {member: members[member].size for member in required.values()}

    def read(self, path: str | os.PathLike) -> pa.Table:
        """The archive's review table, read in place; labels 1..N become 0..N-1, and the text is the
        fields joined by a space, through the archive's ``cleaning`` rules."""
        read = []  # (split, member, rows), in the archive's order
        names = self.names
        with open_tar(path, "r:*") as tar:
            for member in tar:
                name = member.name.removeprefix("./")
                if name == self.names_member:
                    require_regular_file(path, member, self.name)
                    lines = tar.extractfile(member).read().decode("utf-8").splitlines()
                    names = tuple(line.strip() for line in lines if line.strip())
                    continue
                split = next((s for s, member_name in self.members.items() if name == member_name), None)
                if split is None:
                    continue
                require_regular_file(path, member, self.name)
                text = io.TextIOWrapper(tar.extractfile(member), encoding="utf-8", newline="")
                read.append((split, name, list(csv.reader(text))))
        found = [name for _, name, _ in read] + ([self.names_member] if self.names_member and names else [])
        require_members(path, found, dict(enumerate(self.required())), self.name)
        labels = {str(number): number - 1 for number in range(1, len(names) + 1)}
        expected = "label 1 or 2" if len(names) == 2 else f"label 1 to {len(names)}"
        columns = ([], [], [], [])
        for split, member, records in read:
            for row, record in enumerate(records):
                if len(record) != 1 + len(self.fields) or record[0] not in labels:
                    raise LabelError(
                        f"{path}: {member} row {row + 1} is not ({expected}, {', '.join(self.fields)}): "
                        f"{record[: 1 + len(self.fields)]!r}"
                    )
                # Zhang et al.'s files quote as CSV ("" inside a text); escaped line breaks, HTML entities and
                # markup are the cleaning rules' (docs/data.md).
                review = clean(" ".join(record[1:]), self.cleaning)
                for column, value in zip(columns, (f"{split}:{row}", split, labels[record[0]], review)):
                    column.append(value)
        return with_classes(review_table(*columns, classes=len(names)), Classes(names, self.ordered))


YELP_MEMBERS = {"train": "yelp_review_polarity_csv/train.csv", "test": "yelp_review_polarity_csv/test.csv"}
YELP_LABELS = {"1": 0, "2": 1}
YELP = CsvArchive("yelp_review_polarity_csv.tgz", YELP_MEMBERS, ("text",), tuple(YELP_LABELS), None, False)
AG_NEWS_MEMBERS = {"train": "ag_news_csv/train.csv", "test": "ag_news_csv/test.csv"}
AG_NEWS_CLASSES = ("World", "Sports", "Business", "Sci/Tech")
AG_NEWS = CsvArchive("ag_news_csv.tgz", AG_NEWS_MEMBERS, ("title", "description"), AG_NEWS_CLASSES, None, False)
YELP_FULL_MEMBERS = {"train": "yelp_review_full_csv/train.csv", "test": "yelp_review_full_csv/test.csv"}
YELP_FULL = CsvArchive("yelp_review_full_csv.tgz", YELP_FULL_MEMBERS, ("text",), ("1", "2", "3", "4", "5"), None, True)
DBPEDIA_MEMBERS = {"train": "dbpedia_csv/train.csv", "test": "dbpedia_csv/test.csv"}
DBPEDIA = CsvArchive("dbpedia_csv.tgz", DBPEDIA_MEMBERS, ("title", "content"), None, "dbpedia_csv/classes.txt", False)
