"""Writing outputs atomically, reading them back with the schema a step expects, and job locks.

Every output goes to a temporary file beside its destination and is renamed
into place only when complete, so an interrupted job never leaves a
half-written file that looks finished; a write that fails for want of space
raises :class:`NoSpaceLeft`, which says so, with the path and the free bytes. A
file that cannot be read (damaged, truncated, written by something else) raises
:class:`UnreadableFile`, which names the file, the workflow rule that makes it and
the ``--forcerun`` target that makes it again, so the user knows what to run.
A lock (:func:`acquire_lock`) records its holder, so that a second process is told
who holds it, and a lock whose holder has ended is never in the way.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import fcntl
import json
import logging
import os
import pickle
import re
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

logger = logging.getLogger(__name__)

__all__ = [
    "FULL_DISK_BYTES",
    "PRODUCING_RULES",
    "RUN_LOCK",
    "HeldLock",
    "LockHeld",
    "NoSpaceLeft",
    "SchemaError",
    "UnreadableFile",
    "acquire_lock",
    "atomic_path",
    "check_schema",
    "exclusive_lock",
    "forcerun_target",
    "hold_run_lock",
    "list_column",
    "list_matrix",
    "producing_rule",
    "read_array",
    "read_json",
    "read_table",
    "read_torch",
    "reading",
    "register_producer",
    "remake_hint",
    "write_json",
    "write_table",
]


# A write that fails while less than this is free on its device is put down to the full disk, whatever
# the error says: torch.save reports a full disk only as an opaque RuntimeError of its zip writer.
FULL_DISK_BYTES = 1 << 20
_FULL_DISK_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
_FULL_DISK_WORDS = ("no space left on device", "disk quota exceeded")


class NoSpaceLeft(OSError):
    """A write failed because the disk holding its file is full (or the user's quota is spent).

    The message says ``no space left on device`` with the path, the bytes free there once
    the partial file is removed, the error the writer raised (``cause``), what was kept
    (``kept``: by default the earlier file at ``path``, if any, since nothing was renamed
    into place) and how to go on (``resume``).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        free: int,
        cause: BaseException | None = None,
        kept: str = "",
        resume: str = "it runs again the jobs that did not finish",
    ):
        self.path, self.free, self.cause = Path(path), free, cause
        kept = kept or f"nothing was replaced (an earlier {self.path.name}, if any, is kept)"
        failed = f"; the write failed with {type(cause).__name__}: {_first_line(cause)}" if cause else ""
        super().__init__(
            f"{path}: no space left on device ({free:,} bytes free in {self.path.parent}{failed}); {kept}. "
            f"Free some space, then rerun the same snakemake command: {resume}"
        )
        self.errno = errno.ENOSPC


def _free_bytes(directory: Path) -> int:
    """Bytes free to this user on the device holding ``directory`` (-1 when that cannot be asked)."""
    try:
        return shutil.disk_usage(directory).free
    except OSError:
        return -1


def _disk_full(exc: BaseException, free: int) -> bool:
    """Whether ``exc``, raised by a write, is a full disk: ENOSPC or EDQUOT anywhere in its chain, or an
    OSError or RuntimeError (torch's zip writer) while less than ``FULL_DISK_BYTES`` is free."""
    seen = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in _FULL_DISK_ERRNOS:
            return True
        if any(words in str(seen).lower() for words in _FULL_DISK_WORDS):
            return True
        seen = seen.__cause__ or seen.__context__
    return isinstance(exc, (OSError, RuntimeError)) and 0 <= free < FULL_DISK_BYTES


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it onto ``path`` if the block succeeds.

    A failure for want of space (see ``_disk_full``) raises :class:`NoSpaceLeft` naming ``path``;
    the temporary file is removed either way, so a full disk leaves no partial file behind.
    """
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        tmp = Path(name)
        # mkstemp makes the file private (0600); give it the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        yield tmp
        os.replace(tmp, path)
    except NoSpaceLeft:
        raise
    except Exception as exc:
        directory = path.parent if path.parent.exists() else Path.cwd()
        if not _disk_full(exc, _free_bytes(directory)):  # asked before the partial file goes
            raise
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise NoSpaceLeft(path, _free_bytes(directory), exc) from exc
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def write_table(table: pa.Table, path: str | os.PathLike, **kwargs) -> None:
    """Write a Parquet table atomically."""
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, **kwargs)


def write_json(obj, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def list_column(matrix: np.ndarray) -> pa.FixedSizeListArray:
    """A (rows, ...) array as a column with one fixed-size list per row, trailing dimensions flattened."""
    matrix = np.ascontiguousarray(matrix)
    return pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1)), int(np.prod(matrix.shape[1:])))


def list_matrix(column: pa.Array | pa.ChunkedArray, *shape: int) -> np.ndarray:
    """A list column as an array (rows, *shape); ``shape`` defaults to a fixed-size list's length."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if not shape:
        shape = (array.type.list_size,) if pa.types.is_fixed_size_list(array.type) else (-1,)
    return array.flatten().to_numpy(zero_copy_only=False).reshape(len(array), *shape)


# Which rule of workflow/rules/*.smk writes a file, by the file's place in the data
# contracts (DESIGN.md), most specific first, and the output of that rule's job that
# `--forcerun` must be given to make the file again (a template for the match's
# `expand`; ``\g<0>``: the file itself). A file inside a directory() output is not an
# output of its own: Snakemake knows only the folder. Of a model's folder, only the
# rule's four outputs are; its other files (checkpoint.pt, .lock) go with model.pt.
# The summary tables are added by their catalogue (``register_producer``), which names their rules.
PRODUCING_RULES = [
    (r"results/[^/]+/data/([^/]+\.parquet|card\.json)", "prepare", r"\g<0>"),
    (r"results/[^/]+/embeddings/[^/]+\.(npy|json)", "embeddings", r"\g<0>"),
    (r"results/[^/]+/models/[^/]+/(initial\.pt|model\.pt|history\.parquet|metrics\.json)", "train", r"\g<0>"),
    (r"(results/[^/]+/models/[^/]+)/[^/]+", "train", r"\1/model.pt"),
    (r"(results/[^/]+/states/[^/]+)/[^/]+\.parquet", "hidden_states", r"\1"),
    (r"results/[^/]+/(pca|examples)/[^/]+\.parquet", "hidden_states", r"\g<0>"),
    (r"results/[^/]+/fixed_points/[^/]+/[^/]+/shard-[^/]+\.parquet", "fixed_point_shard", r"\g<0>"),
    (r"results/[^/]+/fixed_points/[^/]+/[^/]+\.parquet", "gather_fixed_points", r"\g<0>"),
    (r"results/[^/]+/linearization/[^/]+/[^/]+\.parquet", "linearize", r"\g<0>"),
    (r"(results/[^/]+/analyses/[^/]+/[^/]+)/[^/]+", "analyze", r"\1"),
    (r"results/[^/]+/RESULTS\.md", "results_page", r"\g<0>"),
]


def register_producer(pattern: str, rule: str, target: str = r"\g<0>") -> None:
    """Add a file of the layers above to ``PRODUCING_RULES``: the summary tables, whose rules their catalogue
    (``rnn_dynamics.outputs.catalogue``) names. Registering the same entry twice keeps one."""
    entry = (pattern, rule, target)
    if entry not in PRODUCING_RULES:
        PRODUCING_RULES.append(entry)


def _producer(path: str | os.PathLike) -> tuple[str, str] | None:
    """(rule, --forcerun target) of ``path``, or None for a file the workflow does not make."""
    text = Path(path).as_posix()
    for pattern, rule, target in PRODUCING_RULES:
        match = re.search(rf"(?:^|/)({pattern})$", text)
        if match:
            # From results/ on: the workflow's outputs are relative to its directory, where snakemake runs.
            return rule, re.fullmatch(pattern, match.group(1)).expand(target)
    return None


def producing_rule(path: str | os.PathLike) -> str | None:
    """The workflow rule whose output ``path`` is, or None for a file the workflow does not make."""
    found = _producer(path)
    return found[0] if found else None


def forcerun_target(path: str | os.PathLike) -> str | None:
    """What ``snakemake --forcerun`` takes to make ``path`` again: an output of the job that writes it,
    relative to the workflow's directory (the folder of a ``directory()`` output, model.pt for a
    model's checkpoint), or None for a file the workflow does not make."""
    found = _producer(path)
    return found[1] if found else None


def remake_hint(path: str | os.PathLike) -> str:
    """How to make ``path`` again: the rule that writes it, and the ``--forcerun`` arguments that
    make its job (or every job of the rule) run again, to add to the run's own snakemake command."""
    found = _producer(path)
    if found is None:
        return ""
    rule, target = found
    return (
        f"; it is made by rule `{rule}`: make it again by running this run's snakemake command with "
        f"`--forcerun {target}` added (this job and those after it) or `--forcerun {rule}` (every job of the rule)"
    )


class UnreadableFile(ValueError):
    """A file exists but cannot be read as what it should be."""

    def __init__(self, path: str | os.PathLike, reason: str | BaseException):
        self.path = Path(path)
        if isinstance(reason, BaseException):
            reason = f"{type(reason).__name__}: {_first_line(reason)}"
        super().__init__(f"{path}: unreadable ({reason}){remake_hint(path)}")


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else repr(exc)


@contextlib.contextmanager
def reading(path: str | os.PathLike) -> Iterator[None]:
    """Turn a failure to parse ``path`` inside the block into an :class:`UnreadableFile` naming it.

    A missing file stays a FileNotFoundError; errors that already name the file pass unchanged.
    """
    try:
        yield
    except (FileNotFoundError, MemoryError, UnreadableFile, SchemaError):
        raise
    except Exception as exc:
        raise UnreadableFile(path, exc) from exc


def read_json(path: str | os.PathLike):
    with reading(path):
        return json.loads(Path(path).read_text())


def read_array(path: str | os.PathLike, **kwargs) -> np.ndarray:
    """A ``.npy`` file (no pickled objects)."""
    with reading(path):
        return np.load(path, allow_pickle=False, **kwargs)


def read_torch(path: str | os.PathLike, required: set[str] = frozenset()) -> dict:
    """A dict saved with ``torch.save``, loaded with ``weights_only`` (tensors and plain values only) onto the CPU.

    ``required``: keys it must have, or it is unreadable as what the caller expects.
    """
    import torch  # only the readers of checkpoints need it

    try:
        with reading(path):
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except UnreadableFile as exc:
        cause = exc.__cause__
        if isinstance(cause, pickle.UnpicklingError):
            # torch's message advises loading with weights_only=False, which runs any code
            # the file holds: never for a file that may be damaged or foreign. Keep its reason.
            detail = str(cause).split("WeightsUnpickler error:", 1)[-1].split("Check the documentation")[0]
            detail = " ".join(detail.split())
            raise UnreadableFile(path, f"not a torch.save file of tensors and plain values: {detail}") from cause
        raise
    if not isinstance(payload, dict) or not required <= set(payload):
        found = sorted(payload) if isinstance(payload, dict) else type(payload).__name__
        raise UnreadableFile(path, f"expected a dict with keys {sorted(required)}, found {found}")
    return payload


class SchemaError(ValueError):
    """A table on disk lacks a column the reader needs, or has it with another type."""


def check_schema(schema: pa.Schema, expected: pa.Schema | dict, source: str | os.PathLike) -> None:
    """Raise SchemaError naming ``source`` and the column when ``schema`` lacks a field of ``expected``."""
    fields = expected.items() if isinstance(expected, dict) else ((f.name, f.type) for f in expected)
    for name, type_ in fields:
        if name not in schema.names:
            raise SchemaError(f"{source}: missing column {name!r} (has {schema.names}){remake_hint(source)}")
        actual = schema.field(name).type
        if type_ is not None and actual != type_:
            raise SchemaError(f"{source}: column {name!r} has type {actual}, expected {type_}{remake_hint(source)}")


def read_table(path: str | os.PathLike, expected: pa.Schema | dict, columns: list[str] | None = None) -> pa.Table:
    """Read a Parquet file after checking that it has the ``expected`` columns and types.

    ``expected`` maps column names to pyarrow types (``None`` accepts any type).
    """
    with reading(path):  # pyarrow raises several types for a file that is not Parquet
        schema = pq.read_schema(path)
    check_schema(schema, expected, path)
    with reading(path):  # a sound footer does not make sound pages
        return pq.read_table(path, columns=columns)


# flock's errors on a filesystem without locks (some NFS and Lustre mounts): the record alone is the lock there.
_NO_FLOCK_ERRNOS = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS)
_RECORD = re.compile(r"process (\d+) on (\S+)")


class LockHeld(RuntimeError):
    """A lock that another live process holds: the message names what it guards, the holder and the lock file."""

    def __init__(self, path: Path, holder: str, record: str, advice: str):
        self.path = path
        self.owner, _, command = record.partition("\n")
        super().__init__(
            f"{holder} is already being written by {self.owner or 'another process'}, which holds the lock {path}; "
            f"{advice}" + (f". Its command: {command}" if command else "")
        )


@dataclass
class HeldLock:
    """A lock this process holds until :meth:`release` (or its exit).

    ``taken_over``: the record left by a holder that ended without releasing the lock (a crashed or killed run),
    which this one replaced; empty when the lock was free.
    """

    path: Path
    handle: IO[str] | None
    record: str
    taken_over: str = ""

    def release(self) -> None:
        """Clear this process's record (a later holder then finds the lock free, not stale) and unlock."""
        if self.handle is None:
            return
        handle, self.handle = self.handle, None
        with handle:
            handle.seek(0)
            if handle.read().strip() == self.record:
                handle.seek(0)
                handle.truncate()


def _record(command: str = "") -> str:
    """This process as a lock's holder: the pid and host that say whether it still runs, its start and command."""
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    return f"process {os.getpid()} on {socket.gethostname()} since {started}" + (f"\n{command}" if command else "")


def _gone(record: str) -> bool | None:
    """Whether the process a record names has ended: None when that cannot be told (another host, no record)."""
    found = _RECORD.match(record)
    if not found or found.group(2) != socket.gethostname():
        return None
    try:
        os.kill(int(found.group(1)), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def acquire_lock(path: str | os.PathLike, holder: str, command: str = "") -> HeldLock:
    """Take the exclusive lock ``path`` for this process, or raise :class:`LockHeld` at once if a live process has it.

    The lock is the operating system's (``flock``): it ends with its process, even one killed with ``kill -9``.
    The file records the holder's pid, host, start and ``command``, for the error a second process gets; a record
    left by a holder that ended without releasing it is stale, and replaced (``HeldLock.taken_over`` names it). On
    a filesystem without ``flock`` the record alone is the lock: one naming a live process of this host, or any
    process of another host (which cannot be asked), refuses; one whose process has ended is taken over.
    ``holder`` names what the lock guards, for the error.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            record_only = False
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip()
            advice = "wait for it to finish or stop it (a lock ends with its process, so nothing needs deleting)"
            if _gone(owner):
                advice += (
                    f"; that process has ended, yet one it started holds the lock still: `fuser -v {path}` names it"
                )
            raise LockHeld(path, holder, owner, advice) from None
        except OSError as exc:
            if exc.errno not in _NO_FLOCK_ERRNOS:
                raise
            record_only = True
        handle.seek(0)
        previous = handle.read().strip()
        ended = _gone(previous) if previous else None
        if previous and record_only and not ended:
            advice = "wait for it to finish or stop it"
            if ended is None:
                advice += f" (this filesystem has no flock: if no run is going on there, delete {path})"
            raise LockHeld(path, holder, previous, advice)
        record = _record(command)
        handle.seek(0)
        handle.truncate()
        try:
            handle.write(record + "\n")
            handle.flush()
        except OSError as exc:
            if not _disk_full(exc, _free_bytes(path.parent)):
                raise
            raise NoSpaceLeft(path, _free_bytes(path.parent), exc) from exc
    except BaseException:
        handle.close()
        raise
    return HeldLock(path, handle, record, previous.partition("\n")[0])


@contextlib.contextmanager
def exclusive_lock(path: str | os.PathLike, holder: str) -> Iterator[None]:
    """Hold the lock ``path`` for the block (see :func:`acquire_lock`), or fail at once if a live process holds it."""
    held = acquire_lock(path, holder)
    if held.taken_over:
        logger.info("%s: taken over from %s, which ended without releasing it", path, held.taken_over)
    try:
        yield
    finally:
        held.release()


RUN_LOCK = ".run.lock"


def hold_run_lock(folder: str | os.PathLike, command: str = "") -> HeldLock:
    """Hold ``folder/.run.lock`` until this process exits: one workflow run at a time writes a results folder.

    Taken when a run starts its first job, so a second run stops before it starts any: a job that fails instead
    (on a model's lock, say) has its outputs deleted by Snakemake, and those are the files the first run writes.
    """
    folder = Path(folder).absolute()
    held = acquire_lock(
        folder / RUN_LOCK, f"the results folder {folder} (one run at a time, even with --nolock)", command
    )
    atexit.register(held.release)
    return held
