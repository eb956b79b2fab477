"""Writing files so readers never see half of one, and hashing them with progress.

Every JSON file Quorum keeps (settings, the model index, caches) goes through
`write_json_atomic`; every sha256 of a file on disk goes through `sha256_of_file`,
whose progress callback is also where a caller stops it: the callback raises the
caller's own "cancelled" error, so there is one way to cancel, not one per caller.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

HASH_BLOCK = 1 << 20


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON next to ``path`` and rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sha256_of_file(
    path: Path,
    *,
    length: int | None = None,
    on_block: Callable[[int], None] | None = None,
    block_size: int = HASH_BLOCK,
) -> Any:
    """The sha256 object over ``path`` (or its first ``length`` bytes).

    ``on_block(bytes_hashed_so_far)`` runs after every block; raising from it stops
    the hash (that is how callers cancel). OSError from reading propagates.
    """
    digest = hashlib.sha256()
    done = 0
    with Path(path).open("rb") as handle:
        while length is None or done < length:
            want = block_size if length is None else min(block_size, length - done)
            block = handle.read(want)
            if not block:
                break
            digest.update(block)
            done += len(block)
            if on_block is not None:
                on_block(done)
    return digest
