"""Where downloads live on disk, and the bookkeeping that makes them resumable.

A download writes ``<file>.part`` next to its final name plus ``<file>.part.json``
describing the remote file it belongs to. The ``.part`` is never a model: only a
verified file gets the real name.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from app.core.models.hub_errors import DownloadError, NotEnoughSpaceError
from app.core.units import size_text

PART_SUFFIX = ".part"
SIDECAR_SUFFIX = ".part.json"
MARGIN_FIXED = 200 * 1024 * 1024
MARGIN_FRACTION = 0.05
# A full disk or a full quota (EDQUOT is missing on Windows).
DISK_FULL = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})

log = logging.getLogger(__name__)


def disk_free(folder: Path) -> int:
    return shutil.disk_usage(folder).free


def space_needed(remaining: int, size: int) -> int:
    """Bytes still to write plus a margin (5% + 200 MB), so a download never fills the disk."""
    return remaining + int(size * MARGIN_FRACTION) + MARGIN_FIXED


def check_free_space(
    folder: Path, remaining: int, size: int, free_space: Callable[[Path], int] = disk_free
) -> None:
    """Refuse to start when ``folder`` lacks room for the rest of the file plus the margin."""
    needed = space_needed(remaining, size)
    free = free_space(folder)
    if free < needed:
        raise NotEnoughSpaceError(
            f"not enough free space in {folder}: the model needs {size_text(remaining)} more "
            f"plus a {size_text(needed - remaining)} safety margin, but only "
            f"{size_text(free)} is free; free some space or choose another models folder"
        )


def disk_full_error(target: Path, size: int) -> NotEnoughSpaceError:
    """The disk filled up mid-download (another program wrote to it): say what was kept."""
    part, _ = partial_paths(target)
    try:
        kept = part.stat().st_size
    except OSError:
        kept = 0
    return NotEnoughSpaceError(
        f"the disk filled up while downloading {target.name} into {target.parent}: "
        f"{size_text(kept)} of {size_text(size)} are kept; free some space, then start "
        "the download again to resume"
    )


def target_path(root: Path, repo: str, filename: str) -> Path:
    """``<root>/<owner>--<name>/<filename>``: two repos may ship the same file name."""
    relative = PurePosixPath(filename)
    if not relative.parts or relative.is_absolute() or ".." in relative.parts:
        raise DownloadError(f"refusing unsafe file name from the hub: {filename!r}")
    return root / repo.replace("/", "--") / Path(*relative.parts)


def partial_paths(target: Path) -> tuple[Path, Path]:
    """The ``.part`` file and its JSON sidecar for a final path."""
    return (
        target.with_name(target.name + PART_SUFFIX),
        target.with_name(target.name + SIDECAR_SUFFIX),
    )


def remove_partial(target: Path) -> bool:
    """Delete an unfinished download of ``target``; True if there was one."""
    found = False
    for path in partial_paths(target):
        if path.exists():
            path.unlink()
            found = True
    return found


def discard_if_empty(target: Path) -> None:
    """Delete ``target``'s partial and sidecar when the partial holds no byte."""
    part, sidecar = partial_paths(target)
    try:
        if part.stat().st_size > 0:
            return
    except FileNotFoundError:
        pass
    part.unlink(missing_ok=True)
    sidecar.unlink(missing_ok=True)


def resumable_offset(target: Path, expected: dict[str, Any]) -> int:
    """Bytes of an earlier attempt worth keeping, or 0 after discarding stale ones.

    Kept only when the sidecar describes the same remote file (same sha256 and size)
    and the partial is not longer than the file.
    """
    part, sidecar = partial_paths(target)
    if not part.exists():
        sidecar.unlink(missing_ok=True)
        return 0
    try:
        recorded = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        recorded = None
    size = part.stat().st_size
    if recorded == expected and size <= int(expected.get("size") or 0):
        log.info("resuming %s from byte %d", part.name, size)
        return size
    log.info("discarding partial %s: it belongs to another version of the file", part)
    part.unlink()
    sidecar.unlink(missing_ok=True)
    return 0


def git_blob_sha1(path: Path) -> str:
    """Git's object id of a file (how the hub identifies small, non-LFS files)."""
    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode(), usedforsecurity=False)
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
