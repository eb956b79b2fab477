"""The models Quorum can use: catalog entries, downloads, imported files, the demo.

Everything here reads only the local disk (the model index, the Hugging Face cache
layout, the demo cache), so listing and choosing a model never touches the
network and works with HF_HUB_OFFLINE=1. A ``.part`` file is never a model: only
files recorded after verification, complete Hugging Face cache copies, imported
files and the checked demo model are offered.
"""

from __future__ import annotations

import threading
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path

from app.core import paths
from app.core.models import catalog, demo_model, hub, index
from app.core.models.catalog import CatalogEntry
from app.core.models.download_lock import no_writer
from app.core.models.entry import (
    ModelEntry,
    ModelFileError,
    ModelNotAvailableError,
    UnknownModelError,
)
from app.core.models.gguf import GGUFError, read_gguf_info
from app.core.models.hub_errors import DownloadInProgressError
from app.core.models.index import ModelRecord
from app.core.models.partial import remove_partial, target_path
from app.core.models.progress import ProgressCallback, ProgressReporter, hash_prefix
from app.core.settings import models_dir

DEMO_ID = "demo"


def demo_dir() -> Path:
    return paths.cache_dir() / "demo"


def _demo_entry() -> ModelEntry | None:
    path = demo_model.cached_path(demo_dir())
    if path is None:
        return None
    return ModelEntry(
        id=DEMO_ID,
        display_name=demo_model.DISPLAY_NAME,
        path=path,
        size=demo_model.SIZE,
        quantization="Q4_1",
        source="demo",
        verified=True,  # demo_model.fetch checks the pinned sha256 before keeping it
        sha256=demo_model.SHA256,
        filename=demo_model.FILENAME,
        is_demo=True,
        location="demo cache",
    )


def _record_entry(record: ModelRecord, entry: CatalogEntry | None) -> ModelEntry:
    present = record.is_present()
    if not present:
        location = "missing"
    elif record.source == "local":
        location = "imported"
    else:
        location = "models folder" if record.owned else "HF cache"
    return ModelEntry(
        id=record.id,
        display_name=entry.display_name if entry else record.display_name,
        path=record.file if present else None,
        size=record.size,
        quantization=record.quantization or (entry.quantization if entry else None),
        source=record.source,
        verified=present and record.verified_at is not None,
        damaged=present and record.verified_at is None,
        sha256=record.sha256,
        repo=record.repo,
        filename=record.filename,
        notes=entry.notes if entry else None,
        location=location,
        catalog_entry=entry,
    )


def _catalog_entry_state(entry: CatalogEntry, records: dict[str, ModelRecord]) -> ModelEntry:
    record = records.get(entry.id)
    if record is not None and record.is_present():
        return _record_entry(record, entry)
    base = ModelEntry(
        id=entry.id,
        display_name=entry.display_name,
        path=None,
        size=entry.approx_size,
        quantization=entry.quantization,
        source="catalog",
        verified=False,
        repo=entry.repo,
        filename=entry.filename,
        notes=entry.notes,
        location="not downloaded",
        catalog_entry=entry,
    )
    # A complete copy fetched earlier by other Hugging Face tools is usable as is;
    # `quorum models download` hashes and records it without downloading again.
    cached = hub.find_in_hf_cache(entry.repo, entry.filename) if entry.filename else None
    if cached is not None:
        return replace(base, path=cached, size=cached.stat().st_size, location="HF cache")
    return base


def list_models() -> list[ModelEntry]:
    """Catalog entries (downloaded or not), then other downloads and imports, then the demo."""
    records = index.load_index()
    entries = [_catalog_entry_state(e, records) for e in catalog.load_catalog()]
    catalog_ids = {e.id for e in entries}
    for record in records.values():
        if record.id not in catalog_ids:
            entries.append(_record_entry(record, catalog.get_entry(record.id)))
    demo = _demo_entry()
    if demo is not None:
        entries.append(demo)
    return entries


def import_local(path: Path) -> ModelEntry:
    """Add the user's own GGUF file (validated, hashed, not copied)."""
    path = Path(path).expanduser().resolve()
    if path.name.endswith(".part"):
        raise ModelFileError(f"{path} is an unfinished download, not a model")
    try:
        info = read_gguf_info(path)
    except GGUFError as exc:
        raise ModelFileError(str(exc)) from exc
    existing = index.find_by_path(path)
    if existing is not None:
        return _record_entry(existing, catalog.get_entry(existing.id))
    size = path.stat().st_size
    digest = hash_prefix(path, size, ProgressReporter(None, size), None).hexdigest()
    taken = set(index.load_index()) | {e.id for e in catalog.load_catalog()} | {DEMO_ID}
    record = index.upsert(
        ModelRecord(
            id=index.unique_id(index.slugify(path.stem), taken),
            path=str(path),
            source="local",
            display_name=info.name or path.stem,
            size=size,
            sha256=digest,
            filename=path.name,
            quantization=info.file_type,
            owned=False,
            verified_at=index.now(),
            added_at=index.now(),
        )
    )
    return _record_entry(record, None)


def remove(model_id: str) -> str:
    """Delete a downloaded model (or forget an imported one); returns what was done."""
    if model_id == DEMO_ID:
        demo = _demo_entry()
        if demo is None or demo.path is None:
            raise ModelNotAvailableError("the demo model is not downloaded")
        demo.path.unlink()
        return f"deleted {demo.path}"
    record = index.load_index().get(model_id)
    entry = catalog.get_entry(model_id)
    if record is None and entry is None:
        raise UnknownModelError(f"unknown model '{model_id}'; try `quorum models list`")
    partial_of = (
        target_path(models_dir(), entry.repo, entry.filename)
        if entry is not None and entry.filename is not None
        else None
    )
    owned_file = record.file if record is not None and record.owned else None
    guarded = partial_of or owned_file
    try:
        # A download still writing this file would fail (or rebuild it) under our feet.
        with no_writer(guarded) if guarded is not None else nullcontext():
            done = _delete(record, partial_of)
    except DownloadInProgressError as exc:
        raise ModelNotAvailableError(str(exc)) from exc
    if not done:
        raise ModelNotAvailableError(f"{model_id} is not downloaded; nothing to remove")
    return "; ".join(done)


def _delete(record: ModelRecord | None, partial_of: Path | None) -> list[str]:
    done: list[str] = []
    if record is not None:
        if record.owned and record.file.exists():
            record.file.unlink()
            done.append(f"deleted {record.file}")
        else:
            done.append(f"forgot {record.file} (the file itself was left in place)")
        index.forget(record.id)
    if partial_of is not None and remove_partial(partial_of):
        done.append(f"deleted the unfinished download of {partial_of.name}")
    return done


def verify(
    model_id: str,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> ModelEntry:
    """Re-hash a model's file against its recorded sha256; a mismatch marks it unverified."""
    record = index.load_index().get(model_id)
    if record is None:
        entry = resolve_model(model_id)  # raises the "unknown" / "not downloaded" errors
        if not entry.is_demo:
            raise ModelNotAvailableError(
                f"{model_id} has no recorded checksum; run `quorum models download {model_id}`"
            )
        expected = demo_model.SHA256
    elif not record.is_present():
        raise ModelNotAvailableError(
            f"the file of {model_id} is missing or truncated: {record.path}"
        )
    else:
        entry = _record_entry(record, catalog.get_entry(model_id))
        expected = record.sha256 or ""
    assert entry.path is not None
    size = entry.path.stat().st_size
    reporter = ProgressReporter(progress, size)
    actual = hash_prefix(entry.path, size, reporter, cancel).hexdigest()
    reporter.report(size, "done", force=True)
    if record is not None:
        stamp = index.now() if actual == expected else None
        index.upsert(replace(record, verified_at=stamp))
    if actual != expected:
        raise ModelFileError(
            f"{entry.path} does not match its recorded sha256 (expected {expected[:12]}…, "
            f"got {actual[:12]}…); remove it with `quorum models remove {model_id}` and "
            "download it again"
        )
    return replace(entry, verified=True)


def resolve_model(ref: str) -> ModelEntry:
    """A usable model from a catalog id, a library id, ``demo`` or a path to a .gguf file."""
    ref = ref.strip()
    for entry in list_models():
        if entry.id != ref:
            continue
        if entry.damaged:
            fix = (
                f"run `quorum models remove {ref}` and import it again"
                if entry.source == "local"
                else f"run `quorum models download {ref}` to fetch it again"
            )
            raise ModelFileError(f"{ref} failed its last checksum check; {fix}")
        if entry.path is not None:
            return entry
        if entry.is_demo or ref == DEMO_ID:
            break
        if entry.location == "missing":
            raise ModelNotAvailableError(
                f"the file of {ref} is gone ({index.load_index()[ref].path}); "
                f"run `quorum models remove {ref}` to forget it"
            )
        raise ModelNotAvailableError(
            f"{ref} is not downloaded yet; run `quorum models download {ref}`"
        )
    if ref == DEMO_ID:
        raise ModelNotAvailableError(
            "the demo model is not downloaded yet; run `quorum models demo`"
        )
    candidate = Path(ref).expanduser()
    if ref.lower().endswith(".gguf") or candidate.is_file():
        return _resolve_path(candidate)
    raise UnknownModelError(f"unknown model '{ref}'; try `quorum models list`")


def _resolve_path(path: Path) -> ModelEntry:
    if not path.is_file():
        raise ModelNotAvailableError(f"no such model file: {path}")
    if path.name.endswith(".part"):
        raise ModelFileError(f"{path} is an unfinished download, not a model")
    record = index.find_by_path(path)
    if record is not None:
        return _record_entry(record, catalog.get_entry(record.id))
    try:
        info = read_gguf_info(path)
    except GGUFError as exc:
        raise ModelFileError(str(exc)) from exc
    return ModelEntry(
        id=path.stem,
        display_name=info.name or path.stem,
        path=path.resolve(),
        size=info.file_size,
        quantization=info.file_type,
        source="local",
        verified=False,
        filename=path.name,
        location="file",
    )


def default_model() -> ModelEntry | None:
    """The default catalog model if on disk, else any verified model, else the demo."""
    models = list_models()
    preferred = catalog.default_entry()
    for entry in models:
        if preferred and entry.id == preferred.id and entry.available and not entry.damaged:
            return entry
    for entry in models:
        if entry.available and entry.verified and not entry.is_demo:
            return entry
    return next((e for e in models if e.is_demo and e.available), None)
