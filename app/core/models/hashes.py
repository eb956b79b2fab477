"""The sha256 of a model file, computed once per version of the file.

A consensus report names the exact model file by its sha256, but hashing a 2.5 GB GGUF
takes seconds to minutes. Digests are therefore kept in a small JSON file in the cache
folder, keyed by the file's resolved path and checked against its size and modification
time: a file replaced in place (new size or mtime) is hashed again, an unchanged one never.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.core.files import sha256_of_file, write_json_atomic
from app.core.paths import cache_dir

CACHE_FILENAME = "model-sha256.json"
_MAX_ENTRIES = 200  # plenty for anyone's models folder; keeps the file tiny
_lock = threading.Lock()  # one writer of the cache file per process


class ModelHashError(RuntimeError):
    """The file could not be hashed; the message is meant for a user."""


class HashCancelled(ModelHashError):
    """cancel() returned True before the hash was complete."""


def cache_path() -> Path:
    return cache_dir() / CACHE_FILENAME


def cached_sha256(path: str | Path) -> str | None:
    """The digest remembered for this version of the file, without reading the file."""
    key, size, mtime_ns = _identity(path)
    entry = _load().get(key)
    if isinstance(entry, dict) and entry.get("size") == size and entry.get("mtime_ns") == mtime_ns:
        digest = entry.get("sha256")
        return digest if isinstance(digest, str) else None
    return None


def remember_sha256(path: str | Path, sha256: str) -> None:
    """Record a digest already known (e.g. checked during download) for this file version."""
    digest = sha256.strip().lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"not a sha256 hex digest: {sha256!r}")
    key, size, mtime_ns = _identity(path)
    with _lock:
        entries = _load()
        entries.pop(key, None)  # re-insert so the newest entry is last (oldest dropped first)
        entries[key] = {"size": size, "mtime_ns": mtime_ns, "sha256": digest}
        while len(entries) > _MAX_ENTRIES:
            entries.pop(next(iter(entries)))
        _save(entries)


def file_sha256(path: str | Path, *, cancel: Callable[[], bool] | None = None) -> str:
    """The file's sha256: from the cache when this version was hashed before, else by
    streaming the file (and remembering the result). Raises ModelHashError."""
    cached = cached_sha256(path)
    if cached is not None:
        return cached

    def stop_if_cancelled(_done: int) -> None:
        if cancel is not None and cancel():
            raise HashCancelled(f"hashing {Path(path).name} was cancelled")

    try:
        result = sha256_of_file(Path(path), on_block=stop_if_cancelled).hexdigest()
    except OSError as exc:
        raise ModelHashError(f"cannot read {path}: {exc.strerror or exc}") from exc
    remember_sha256(path, result)
    return result


def _identity(path: str | Path) -> tuple[str, int, int]:
    try:
        resolved = Path(path).expanduser().resolve()
        stat = resolved.stat()
    except OSError as exc:
        raise ModelHashError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if not resolved.is_file():
        raise ModelHashError(f"{path} is not a file")
    return str(resolved), stat.st_size, stat.st_mtime_ns


def _load() -> dict[str, Any]:
    """The cache's entries; a missing or damaged cache file is simply an empty cache."""
    try:
        data = json.loads(cache_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _save(entries: dict[str, Any]) -> None:
    # A cache that cannot be written costs time only; readers never see half of one.
    with contextlib.suppress(OSError):
        write_json_atomic(cache_path(), entries)
