"""The one registry of dataset kinds: each archive kind's reader, layout check, file name, download and classes.

``ARCHIVES`` maps a kind (the config's ``datasets.<name>.kind``) to its ``Archive``; ``KINDS`` is every kind
the config schema accepts: the archives' and the users' own files (``table``). The workflow reads it for the
file a dataset's ``prepare`` reads and the archives it downloads, ``scripts/download.py`` for the layout
check and the checksums, and the tests hold the config schema equal to it. A new reader is one module
with its ``read`` (and ``check_layout``, if downloaded) and one entry here.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import pyarrow as pa

from rnn_dynamics.data.datasets import imdb, sst2, zhang_csv
from rnn_dynamics.data.datasets.cleaning import check_rules
from rnn_dynamics.data.datasets.schema import BINARY, CLEANING_KEY, INPUTS_KEY, LABEL_COLUMN_KEY, Classes
from rnn_dynamics.data.datasets.table_files import TABLE_KIND, read_table_files
from rnn_dynamics.ground import config

__all__ = ["ARCHIVES", "KINDS", "Archive", "downloaded", "read_reviews", "with_defaults"]


@dataclass(frozen=True)
class Archive:
    """One archive kind.

    ``read`` reads the archive in place into a review table; ``file_name`` is the archive's name under
    ``resources/{dataset}/``. A downloaded kind has its official ``url`` (the config's ``url`` names the one
    to fetch), ``checksums``: the config keys a download is verified by, each checked when given
    (``download.fetch``), and ``check_layout``, which stands in for the checksum on a local copy, which need
    not be byte-identical. ``classes`` are the classes its prepared tables carry, or None where the archive
    names them (DBpedia's classes.txt, a generated archive's classes). ``cleaning`` names the rules
    (``cleaning.RULES``) its reader puts every text through.
    """

    read: Callable[[str | os.PathLike], pa.Table]
    file_name: str
    classes: Classes | None
    url: str | None = None
    checksums: tuple[str, ...] = ()
    check_layout: Callable[[str | os.PathLike], dict[str, int]] | None = None
    cleaning: tuple[str, ...] = ()

    @property
    def downloaded(self) -> bool:
        return self.url is not None


_FAST_AI = "https://s3.amazonaws.com/fast-ai-nlp/"
# Zhang et al.'s archives publish no sha256: fastai pins their md5 and size.
_ZHANG_CHECKSUMS = ("sha256", "md5", "size")


def _zhang(archive: zhang_csv.CsvArchive, checksums: tuple[str, ...] = _ZHANG_CHECKSUMS) -> Archive:
    return Archive(
        archive.read,
        archive.name,
        archive.classes,
        _FAST_AI + archive.name,
        checksums,
        archive.check_layout,
        archive.cleaning,
    )


ARCHIVES: Mapping[str, Archive] = {
    "aclimdb": Archive(
        imdb.read_archive,
        "aclImdb_v1.tar.gz",
        BINARY,
        "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
        ("sha256",),
        imdb.check_archive_layout,
    ),
    "synthetic": Archive(imdb.read_synthetic_archive, "synthetic.tar.gz", None),
    "sst2": Archive(
        sst2.read_sst2_archive,
        "SST-2.zip",
        BINARY,
        "https://dl.fbaipublicfiles.com/glue/data/SST-2.zip",
        ("sha256",),
        sst2.check_sst2_layout,
    ),
    "yelp": _zhang(zhang_csv.YELP, ("sha256",)),
    "ag_news": _zhang(zhang_csv.AG_NEWS),
    "yelp_full": _zhang(zhang_csv.YELP_FULL),
    "dbpedia": _zhang(zhang_csv.DBPEDIA),
}
# Every dataset kind: the archives and the users' own files.
KINDS = (*ARCHIVES, TABLE_KIND)


def downloaded() -> dict[str, Archive]:
    """The archive kinds that are downloaded (or copied from ``local_archive``), by kind."""
    return {kind: archive for kind, archive in ARCHIVES.items() if archive.downloaded}


def with_defaults(spec: Mapping) -> dict:
    """A dataset's config entry with the schema's default for every key its kind has and it leaves out."""
    return {**config.defaults(f"datasets.{spec['kind']}"), **spec}


def read_reviews(spec: Mapping, paths: Sequence[str | os.PathLike], seed: int) -> pa.Table:
    """The review table of a configured dataset (``spec`` is its entry under ``datasets``; a key left
    out takes the schema's default), with ``paths`` recorded in its metadata (``INPUTS_KEY``); ``seed``
    (``prepare.split_seed``) splits a single table file. A table file's label column is recorded too
    (``LABEL_COLUMN_KEY``), and the cleaning rules the texts went through (``CLEANING_KEY``): the archive's,
    or a table file's ``clean`` key (none by default: users' texts stay as they are)."""
    if spec["kind"] in ARCHIVES:
        (path,) = paths
        table = ARCHIVES[spec["kind"]].read(path)
        cleaning = {"rules": list(ARCHIVES[spec["kind"]].cleaning), "key": None}
    elif spec["kind"] == TABLE_KIND:
        spec = with_defaults(spec)
        table = read_table_files(
            paths,
            spec["text_column"],
            spec["label_column"],
            spec["test_fraction"],
            seed,
            spec["encoding"],
            classes=spec["classes"],
            ordered=spec["ordered"],
            clean=spec["clean"],
        )
        cleaning = {"rules": list(check_rules(spec["clean"], "the dataset's `clean` key")), "key": "clean"}
    else:
        raise ValueError(f"unknown dataset kind {spec['kind']!r}; the kinds are {list(KINDS)}")
    metadata = {
        **(table.schema.metadata or {}),
        INPUTS_KEY: json.dumps([str(path) for path in paths]).encode(),
        CLEANING_KEY: json.dumps(cleaning).encode(),
    }
    if spec["kind"] == TABLE_KIND:
        metadata[LABEL_COLUMN_KEY] = spec["label_column"].encode()
    return table.replace_schema_metadata(metadata)
