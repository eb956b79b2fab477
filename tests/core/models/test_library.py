"""The model library: listing, importing, resolving, verifying, removing; offline only."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from app.core.models import catalog, demo_model, index, library
from app.core.models.download import Downloader
from app.core.models.entry import ModelFileError, ModelNotAvailableError, UnknownModelError
from app.core.models.partial import partial_paths, target_path
from app.core.settings import models_dir
from tests.hubserver import small_gguf

DEFAULT = "qwen3-4b"


def tiny_file(folder: Path, name: str = "tiny-Q4_K_M.gguf", seed: int = 1) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(small_gguf(200_000, seed=seed))
    return path


def fake_download(entry_id: str, seed: int = 1) -> Path:
    """A verified file registered the way Downloader registers one (no network)."""
    entry = catalog.get_entry(entry_id)
    assert entry is not None and entry.filename is not None
    path = target_path(models_dir(), entry.repo, entry.filename)
    tiny_file(path.parent, path.name, seed)
    data = path.read_bytes()
    index.register_file(
        path,
        repo=entry.repo,
        filename=entry.filename,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        commit="c" * 40,
        owned=True,
    )
    return path


def install_demo(test_model_path: Path) -> Path:
    demo = library.demo_dir()
    demo.mkdir(parents=True, exist_ok=True)
    link = demo / demo_model.FILENAME
    link.symlink_to(test_model_path)
    return link


def test_empty_library_lists_the_catalog_as_not_downloaded() -> None:
    models = library.list_models()
    assert [m.id for m in models] == [e.id for e in catalog.load_catalog()]
    assert all(not m.available and m.location == "not downloaded" for m in models)
    assert library.default_model() is None


def test_resolve_explains_unknown_and_not_downloaded() -> None:
    with pytest.raises(UnknownModelError, match=r"unknown model 'x'; try `quorum models list`"):
        library.resolve_model("x")
    with pytest.raises(
        ModelNotAvailableError,
        match=r"qwen3-4b is not downloaded yet; run `quorum models download qwen3-4b`",
    ):
        library.resolve_model(DEFAULT)
    with pytest.raises(ModelNotAvailableError, match="quorum models demo"):
        library.resolve_model("demo")
    with pytest.raises(ModelNotAvailableError, match="no such model file"):
        library.resolve_model("/nowhere/model.gguf")


def test_demo_model_is_listed_labelled_and_is_the_last_resort(test_model_path: Path) -> None:
    install_demo(test_model_path)
    demo = library.resolve_model("demo")
    assert demo.is_demo and demo.source == "demo" and "demo" in demo.display_name.lower()
    assert library.list_models()[-1] == demo
    assert library.default_model() == demo
    assert library.verify("demo").verified


def test_default_prefers_the_default_catalog_model_then_any_verified(
    tmp_path: Path, test_model_path: Path
) -> None:
    install_demo(test_model_path)
    library.import_local(tiny_file(tmp_path))
    imported = library.default_model()
    assert imported is not None and imported.source == "local"
    fake_download("qwen3-1.7b", seed=2)
    fake_download(DEFAULT, seed=3)
    chosen = library.default_model()
    assert chosen is not None and chosen.id == DEFAULT and chosen.verified
    assert chosen.notes is not None and chosen.notes.supports_thinking_toggle


def test_import_records_without_copying_and_remove_only_forgets(tmp_path: Path) -> None:
    path = tiny_file(tmp_path / "mine")
    entry = library.import_local(path)
    assert entry.source == "local" and entry.verified and entry.path == path.resolve()
    assert entry.quantization == "Q4_K_M" and entry.display_name == "Tiny Test Model"
    assert not list(models_dir().rglob("*.gguf"))  # not copied
    assert library.import_local(path).id == entry.id  # importing twice is harmless
    assert library.resolve_model(entry.id).path == path.resolve()
    assert library.resolve_model(str(path)).id == entry.id
    assert "left in place" in library.remove(entry.id)
    assert path.exists()
    assert all(m.id != entry.id for m in library.list_models())


def test_import_rejects_bad_files_with_a_readable_message(tmp_path: Path) -> None:
    bad = tmp_path / "notes.gguf"
    bad.write_text("hello, not a model")
    with pytest.raises(ModelFileError, match="not a GGUF model file"):
        library.import_local(bad)
    part = tiny_file(tmp_path, "half.gguf.part")
    with pytest.raises(ModelFileError, match="unfinished download"):
        library.import_local(part)
    with pytest.raises(ModelFileError, match="unfinished download"):
        library.resolve_model(str(part))
    with pytest.raises(ModelFileError, match="not a GGUF"):
        library.resolve_model(str(bad))


def test_resolve_accepts_an_unrecorded_gguf_path(tmp_path: Path) -> None:
    entry = library.resolve_model(str(tiny_file(tmp_path)))
    assert entry.source == "local" and not entry.verified and entry.quantization == "Q4_K_M"


def test_verify_detects_changed_bytes_and_marks_the_model_unverified() -> None:
    path = fake_download(DEFAULT)
    assert library.verify(DEFAULT).verified
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="does not match its recorded sha256"):
        library.verify(DEFAULT)
    [listed] = [m for m in library.list_models() if m.id == DEFAULT]
    assert listed.damaged and not listed.verified and listed.path == path
    with pytest.raises(ModelFileError, match="quorum models download qwen3-4b"):
        library.resolve_model(DEFAULT)
    assert library.default_model() is None  # a damaged file is never offered


def test_remove_deletes_downloads_and_partials_but_never_an_unknown_id() -> None:
    path = fake_download(DEFAULT)
    assert "deleted" in library.remove(DEFAULT)
    assert not path.exists()
    part, sidecar = partial_paths(path)
    part.write_bytes(b"half")
    sidecar.write_text("{}")
    assert "unfinished download" in library.remove(DEFAULT)
    assert not part.exists() and not sidecar.exists()
    with pytest.raises(ModelNotAvailableError):
        library.remove(DEFAULT)
    with pytest.raises(UnknownModelError):
        library.remove("nope")


def test_partial_download_is_never_a_model() -> None:
    entry = catalog.get_entry(DEFAULT)
    assert entry is not None and entry.filename is not None
    part, _ = partial_paths(target_path(models_dir(), entry.repo, entry.filename))
    tiny_file(part.parent, part.name)
    assert all(m.path != part for m in library.list_models())
    with pytest.raises(ModelNotAvailableError, match="not downloaded yet"):
        library.resolve_model(DEFAULT)


def test_missing_file_is_reported_not_offered(tmp_path: Path) -> None:
    entry = library.import_local(tiny_file(tmp_path))
    assert entry.path is not None
    entry.path.unlink()
    [listed] = [m for m in library.list_models() if m.id == entry.id]
    assert listed.location == "missing" and not listed.available
    with pytest.raises(ModelNotAvailableError, match="quorum models remove"):
        library.resolve_model(entry.id)


def hf_cache_copy(entry: catalog.CatalogEntry, data: bytes) -> Path:
    """Lay out a file the way hf_hub_download stores it (blobs named by sha256)."""
    assert entry.filename is not None
    repo_dir = Path(os.environ["HF_HOME"]) / "hub" / f"models--{entry.repo.replace('/', '--')}"
    sha = hashlib.sha256(data).hexdigest()
    commit = "a" * 40
    (repo_dir / "blobs").mkdir(parents=True)
    (repo_dir / "blobs" / sha).write_bytes(data)
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text(commit)
    snapshot = repo_dir / "snapshots" / commit / entry.filename
    snapshot.parent.mkdir(parents=True)
    snapshot.symlink_to(Path("../..") / "blobs" / sha)
    return snapshot


def test_copy_in_the_hf_cache_is_offered_and_registered_offline() -> None:
    entry = catalog.get_entry("qwen3-1.7b")
    assert entry is not None
    snapshot = hf_cache_copy(entry, small_gguf(100_000, seed=9))
    listed = library.resolve_model("qwen3-1.7b")
    assert listed.location == "HF cache" and listed.path == snapshot and not listed.verified
    # Offline, "download" hashes it against its blob name and records it in place.
    result = Downloader(entry.repo, entry.filename).run()
    assert result.how == "hf-cache" and result.path == snapshot
    assert library.resolve_model("qwen3-1.7b").verified


def test_listing_and_choosing_models_never_opens_a_socket(
    tmp_path: Path, test_model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_demo(test_model_path)
    fake_download(DEFAULT)
    library.import_local(tiny_file(tmp_path))
    hf_cache_copy(catalog.get_entry("qwen3-1.7b"), small_gguf(10_000))  # type: ignore[arg-type]

    def refuse(self: socket.socket, address: object) -> None:
        raise AssertionError(f"network access attempted: {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    assert len(library.list_models()) == len(catalog.load_catalog()) + 2
    assert library.resolve_model(DEFAULT).verified
    assert library.resolve_model("qwen3-1.7b").location == "HF cache"
    assert library.resolve_model("demo").is_demo
    default = library.default_model()
    assert default is not None and default.id == DEFAULT
    assert Downloader(*_catalog_file(DEFAULT)).run().how == "already-present"


def _catalog_file(entry_id: str) -> tuple[str, str]:
    entry = catalog.get_entry(entry_id)
    assert entry is not None and entry.filename is not None
    return entry.repo, entry.filename


def test_demo_fetch_cancel_stops_pip_and_keeps_nothing(tmp_path: Path) -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(demo_model.DemoFetchCancelled):
        demo_model.fetch(tmp_path / "demo", cancel)
    assert demo_model.cached_path(tmp_path / "demo") is None
    assert list((tmp_path / "demo").iterdir()) == []


def test_processes_recording_models_at_once_lose_none_of_them() -> None:
    # Each process records 40 models of its own, all at the same time: every record
    # is a read-modify-write of models.json, and none may overwrite another's.
    script = (
        "import sys\n"
        "from app.core.models import index\n"
        "for i in range(40):\n"
        "    index.upsert(index.ModelRecord(\n"
        "        f'{sys.argv[1]}-{i}', f'/m/{sys.argv[1]}-{i}.gguf', 'local', 'm', 1))\n"
    )
    root = Path(__file__).resolve().parents[3]
    children = [
        subprocess.Popen([sys.executable, "-c", script, name], cwd=root, env=os.environ.copy())
        for name in ("first", "second", "third")
    ]
    assert [child.wait(timeout=60) for child in children] == [0, 0, 0]
    ids = set(index.load_index())
    assert len(ids) == 120, sorted(
        {f"{n}-{i}" for n in ("first", "second", "third") for i in range(40)} - ids
    )
