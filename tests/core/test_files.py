"""The one sha256 loop and the one atomic JSON writer."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from app.core.files import HASH_BLOCK, sha256_of_file, write_json_atomic


class Stop(Exception):
    pass


def test_hashes_the_file_or_its_prefix(tmp_path: Path) -> None:
    data = bytes(range(256)) * (HASH_BLOCK // 100)
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert sha256_of_file(path).hexdigest() == hashlib.sha256(data).hexdigest()
    prefix = sha256_of_file(path, length=HASH_BLOCK + 7).hexdigest()
    assert prefix == hashlib.sha256(data[: HASH_BLOCK + 7]).hexdigest()


def test_progress_callback_sees_every_block_and_can_stop_the_hash(tmp_path: Path) -> None:
    path = tmp_path / "blob"
    path.write_bytes(b"x" * (3 * HASH_BLOCK + 1))
    seen: list[int] = []
    sha256_of_file(path, on_block=seen.append)
    assert seen == [HASH_BLOCK, 2 * HASH_BLOCK, 3 * HASH_BLOCK, 3 * HASH_BLOCK + 1]

    def cancel_after_one(done: int) -> None:
        raise Stop(done)

    with pytest.raises(Stop):
        sha256_of_file(path, on_block=cancel_after_one)


def test_atomic_json_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "settings.json"
    write_json_atomic(target, {"b": 1, "a": [1, 2]})
    assert json.loads(target.read_text()) == {"a": [1, 2], "b": 1}
    assert [p.name for p in target.parent.iterdir()] == ["settings.json"]
