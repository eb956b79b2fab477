"""The samples file: saved as samples finish, read back, a torn last line dropped."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.audit.samples import RunKey
from app.core.audit.store import SampleStore, SampleStoreError
from tests.core.audit.simulated import simulated_samples

KEY = RunKey("q1", "model.gguf:123", 0.7, None, 99)


def test_samples_survive_a_reopen_and_keep_the_first_seed(tmp_path: Path) -> None:
    path = tmp_path / "a.samples.jsonl"
    samples = simulated_samples(["1", "2", None])
    with SampleStore(path, seed=5, set_sha256="abc") as store:
        for s in samples:
            store.add(KEY, s)
        store.add(KEY, simulated_samples(["changed"])[0])  # index 0 again: kept as it was
    with SampleStore(path, seed=6, set_sha256="abc") as again:
        assert again.seed == 5, "a resumed audit keeps its seeds"
        assert again.samples(KEY) == {s.index: s for s in samples}
        assert again.samples(RunKey("q1", "model.gguf:123", 1.0, None, 99)) == {}


def test_a_torn_last_line_is_dropped_and_appends_continue(tmp_path: Path) -> None:
    path = tmp_path / "a.samples.jsonl"
    with SampleStore(path, seed=5, set_sha256="abc") as store:
        store.add(KEY, simulated_samples(["1"])[0])
    with path.open("ab") as f:
        f.write(b'{"kind": "sample", "key": {"question": "q1", "mo\xc3')  # killed mid-write
    with SampleStore(path, seed=5, set_sha256="abc") as store:
        assert list(store.samples(KEY)) == [0]
        store.add(KEY, simulated_samples(["1", "2"])[1])
    with SampleStore(path, seed=5, set_sha256="abc") as store:
        assert sorted(store.samples(KEY)) == [0, 1]


def test_wrong_set_and_broken_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.samples.jsonl"
    SampleStore(path, seed=5, set_sha256="abc").close()
    with pytest.raises(SampleStoreError, match="different question set"):
        SampleStore(path, seed=5, set_sha256="other")
    other = tmp_path / "notes.txt"
    other.write_text("hello\n")
    with pytest.raises(SampleStoreError, match="not a Quorum audit samples file"):
        SampleStore(other, seed=5, set_sha256="abc")
    with path.open("a") as f:
        f.write("garbage\n")
    with pytest.raises(SampleStoreError, match="line 2 cannot be read"):
        SampleStore(path, seed=5, set_sha256="abc")
