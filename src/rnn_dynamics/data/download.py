"""Downloading a file with retries, verifying its checksum, and moving it into place atomically."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from rnn_dynamics.ground.storage import atomic_path

__all__ = ["CHUNK", "ChecksumError", "MissingChecksumError", "NoNetworkError", "copy", "fetch", "sha256sum"]

log = logging.getLogger(__name__)

CHUNK = 1 << 20


class ChecksumError(ValueError):
    """A downloaded or local file does not have the expected sha256 (or md5, or size)."""


class MissingChecksumError(ValueError):
    """No trusted sha256 (nor md5) is configured, so a download could not be verified."""


class NoNetworkError(ConnectionError):
    """A download failed on every attempt: most likely there is no network access."""


def sha256sum(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _stream(url: str, destination: Path, timeout: float) -> dict[str, str | int]:
    """Copy ``url`` to ``destination``; return the sha256, md5 and size of what was received."""
    digests = {"sha256": hashlib.sha256(), "md5": hashlib.md5(usedforsecurity=False)}
    with urllib.request.urlopen(url, timeout=timeout) as response, open(destination, "wb") as out:
        size = response.headers.get("Content-Length")
        size = int(size) if size else None
        received = 0
        with tqdm(total=size, unit="B", unit_scale=True, desc=Path(url).name, mininterval=5) as bar:
            while chunk := response.read(CHUNK):
                out.write(chunk)
                for digest in digests.values():
                    digest.update(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    if size is not None and received != size:
        # A connection cut short: worth another attempt, unlike a wrong checksum.
        raise urllib.error.URLError(f"received {received} of {size} bytes")
    return {name: digest.hexdigest() for name, digest in digests.items()} | {"size": received}


def fetch(
    url: str,
    path: str | os.PathLike,
    sha256: str | None,
    retries: int = 3,
    local_key: str | None = None,
    sha256_key: str | None = None,
    backoff: float = 2.0,
    timeout: float = 60.0,
    md5: str | None = None,
    size: int | None = None,
) -> Path:
    """Download ``url`` to ``path`` if its sha256 is ``sha256``.

    Where no sha256 is published (Zhang et al.'s archives: fastai pins their md5 and size), ``md5``
    stands in for it; every one given of ``sha256``, ``md5`` and ``size`` (bytes) must match.

    The file is streamed to a temporary file beside ``path`` and renamed into place
    only once verified, so a failed or corrupt download leaves nothing at ``path``.
    Network errors are retried ``retries`` times in all, waiting ``backoff * 2**k``
    seconds between attempts; a checksum mismatch is not retried. When every attempt
    fails, the error says there seems to be no network and names ``local_key``, the
    config key that points to a local copy instead. Without a ``sha256`` nothing is
    downloaded: the error names ``sha256_key`` and ``local_key``, the ways to go on.
    """
    if sha256 is None and md5 is None:
        checksum = f"`{sha256_key}`" if sha256_key else "the sha256"
        local_copy = f", or point `{local_key}` at a copy of the file you have" if local_key else ""
        raise MissingChecksumError(
            f"refusing to download {url} unverified: no sha256 to check it against ({checksum} is null). "
            f"Set {checksum} to a checksum you trust{local_copy}."
        )
    path = Path(path)
    errors = []
    for attempt in range(1, retries + 1):
        try:
            with atomic_path(path) as tmp:
                log.info("downloading %s (attempt %d of %d)", url, attempt, retries)
                actual = _stream(url, tmp, timeout)
                for name, expected in (("size", size), ("sha256", sha256), ("md5", md5)):
                    if expected is not None and actual[name] != expected:
                        raise ChecksumError(
                            f"{url}: {name} is {actual[name]}, expected {expected}; nothing was written to {path}"
                        )
            verified = " and ".join(name for name, value in (("sha256", sha256), ("md5", md5)) if value is not None)
            log.info("downloaded %s to %s (%s verified)", url, path, verified)
            return path
        except (urllib.error.URLError, OSError) as exc:  # HTTPError and timeouts included
            errors.append(f"attempt {attempt}: {exc}")
            log.warning("download of %s failed: %s", url, exc)
            if attempt < retries:
                time.sleep(backoff * 2 ** (attempt - 1))
    hint = f" Set the config key `{local_key}` to a local copy of the file instead." if local_key else ""
    raise NoNetworkError(f"could not download {url} ({'; '.join(errors)}). There seems to be no network access.{hint}")


def copy(source: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Copy a local file to ``path`` atomically."""
    with atomic_path(path) as tmp:
        shutil.copyfile(source, tmp)
    return Path(path)
