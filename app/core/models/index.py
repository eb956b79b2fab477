"""The record of models on disk: what was downloaded, from where, with which sha256.

A JSON file in the data folder. Downloaded files are written here only after their
sha256 matched the hub's, so a record means "complete"; ``verified_at`` says when
the bytes last hashed to the recorded digest. ``owned`` marks files Quorum wrote
itself: only those are ever deleted (an imported file or one in the Hugging Face
cache belongs to someone else).
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path, PurePosixPath
from typing import Any

from filelock import FileLock

from app.core import paths
from app.core.files import write_json_atomic
from app.core.models import catalog

SCHEMA_VERSION = 1
INDEX_FILENAME = "models.json"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelRecord:
    """One verified model file in models.json: source, path, sha256, when it was checked."""

    id: str
    path: str
    source: str  # "catalog" | "hub" | "local"
    display_name: str
    size: int
    sha256: str | None = None
    repo: str | None = None
    filename: str | None = None
    commit: str | None = None
    quantization: str | None = None
    owned: bool = False
    verified_at: float | None = None
    added_at: float = 0.0

    @property
    def file(self) -> Path:
        return Path(self.path)

    def is_present(self) -> bool:
        """The file is still there at its recorded size (a cheap truncation check)."""
        try:
            return self.file.is_file() and self.file.stat().st_size == self.size
        except OSError:
            return False


def index_path() -> Path:
    return paths.data_dir() / INDEX_FILENAME


def load_index() -> dict[str, ModelRecord]:
    path = index_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable model index %s: %s", path, exc)
        return {}
    known = {f.name for f in fields(ModelRecord)}
    records: dict[str, ModelRecord] = {}
    for raw in data.get("models", []) if isinstance(data, dict) else []:
        try:
            record = ModelRecord(**{k: v for k, v in raw.items() if k in known})
        except TypeError as exc:
            log.warning("skipping malformed model record %r: %s", raw, exc)
            continue
        records[record.id] = record
    return records


def save_index(records: dict[str, ModelRecord]) -> None:
    document: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "models": [asdict(r) for r in records.values()],
    }
    write_json_atomic(index_path(), document)


def _index_lock() -> FileLock:
    # Recording a model reads, changes and rewrites the whole index; without this, a
    # window and a CLI (or two downloads) finishing together drop each other's records.
    path = index_path().with_name(f".{INDEX_FILENAME}.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(path)


def upsert(record: ModelRecord) -> ModelRecord:
    with _index_lock():
        records = load_index()
        records[record.id] = record
        save_index(records)
    return record


def forget(record_id: str) -> None:
    with _index_lock():
        records = load_index()
        if records.pop(record_id, None) is not None:
            save_index(records)


def find_by_file(repo: str, filename: str) -> ModelRecord | None:
    return next(
        (
            r
            for r in load_index().values()
            if r.repo and r.repo.lower() == repo.lower() and r.filename == filename
        ),
        None,
    )


def find_by_path(path: Path) -> ModelRecord | None:
    wanted = path.expanduser().resolve()
    return next((r for r in load_index().values() if r.file.resolve() == wanted), None)


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9._]+", "-", text.lower()).strip("-._")
    return slug or "model"


def unique_id(base: str, taken: set[str]) -> str:
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


def now() -> float:
    return time.time()


def register_file(
    path: Path,
    *,
    repo: str,
    filename: str,
    size: int,
    sha256: str | None,
    commit: str | None,
    owned: bool,
    record_id: str | None = None,
) -> ModelRecord:
    """Record a verified hub file: under its catalog id if the catalog lists it."""
    entry = catalog.find_by_file(repo, filename)
    previous = find_by_file(repo, filename)
    stem = PurePosixPath(filename).stem
    if entry is not None:
        new_id, source, name = entry.id, "catalog", entry.display_name
    elif previous is not None:
        new_id, source, name = previous.id, "hub", previous.display_name
    else:
        taken = set(load_index()) | {e.id for e in catalog.load_catalog()} | {"demo"}
        new_id, source, name = unique_id(slugify(stem), taken), "hub", f"{stem} ({repo})"
    return upsert(
        ModelRecord(
            id=record_id or new_id,
            path=str(path),
            source=source,
            display_name=name,
            size=size,
            sha256=sha256,
            repo=repo,
            filename=filename,
            commit=commit,
            quantization=entry.quantization if entry else None,
            owned=owned,
            verified_at=now(),
            added_at=now(),
        )
    )
