"""An archive's layout: the error every reader raises on an archive of another kind, and the checks they share."""

from __future__ import annotations

import tarfile
import zipfile
import zlib
from typing import Iterable, Mapping

__all__ = ["LayoutError", "open_tar", "open_zip", "require_members", "require_regular_file"]


class LayoutError(ValueError):
    """An archive does not have its kind's layout (aclImdb, SST-2, or one of Zhang et al.'s CSV archives)."""


def open_tar(path, mode: str) -> tarfile.TarFile:
    """``tarfile.open(path, mode)``; an unreadable archive raises a LayoutError naming ``path``."""
    try:
        return tarfile.open(path, mode)
    except FileNotFoundError:
        raise
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:  # gzip's errors are OSErrors
        raise LayoutError(f"{path}: not a readable tar archive ({exc})") from exc


def open_zip(path) -> zipfile.ZipFile:
    """``zipfile.ZipFile(path)``; an unreadable archive raises a LayoutError naming ``path``."""
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise LayoutError(f"{path}: not a readable zip archive ({exc})") from exc


def require_members(path, names: Iterable[str], members: Mapping, archive: str) -> None:
    """Raise a LayoutError naming the expected ``members`` (any key -> name) that ``names`` lacks."""
    present = {name.removeprefix("./") for name in names}
    missing = [member for member in members.values() if member not in present]
    if missing:
        raise LayoutError(f"{path}: no member {missing} (not {archive}?)")


def require_regular_file(path, member: tarfile.TarInfo, archive: str) -> None:
    """Raise a LayoutError naming the archive when ``member`` (one it must hold) is a link or a folder."""
    if member.isfile():
        return
    kind = "symbolic link" if member.issym() else "hard link" if member.islnk() else "folder or special file"
    target = f" to {member.linkname!r}" if member.linkname else ""
    raise LayoutError(f"{path}: member {member.name} is a {kind}{target}, not a regular file (not {archive}?)")
