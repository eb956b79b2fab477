"""What the library hands out: one model and its state, and the errors it raises."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.core.models.catalog import CatalogEntry, CatalogNotes
from app.core.models.download import partial_download
from app.core.units import size_pair, size_text


class LibraryError(ValueError):
    """A model reference could not be used; the message says what to do."""


class UnknownModelError(LibraryError):
    """No model by that id or path."""


class ModelNotAvailableError(LibraryError):
    """Known, but not on disk (not downloaded yet, or its file has gone)."""


class ModelFileError(LibraryError):
    """The file is not a usable GGUF model, or failed verification."""


@dataclass(frozen=True)
class ModelEntry:
    """One model as the library sees it: catalog, imported or demo, where it is and its state."""

    id: str
    display_name: str
    path: Path | None  # None: not on disk
    size: int | None
    quantization: str | None
    source: str  # "catalog" | "hub" | "local" | "demo"
    verified: bool  # bytes hashed to the recorded sha256
    damaged: bool = False  # its last re-check found different bytes: not offered
    sha256: str | None = None
    repo: str | None = None
    filename: str | None = None
    notes: CatalogNotes | None = None
    is_demo: bool = False
    location: str = ""  # "models folder", "HF cache", "imported", "demo cache", ...
    catalog_entry: CatalogEntry | None = None

    @property
    def available(self) -> bool:
        return self.path is not None


# -- one vocabulary for a model's state: the model manager and `quorum models list` --


def partial_of(entry: ModelEntry) -> Path | None:
    if entry.available or entry.repo is None or entry.filename is None:
        return None
    return partial_download(entry.repo, entry.filename)


def model_status(entry: ModelEntry) -> str:
    """verified / demo / damaged / unverified / missing / partial (…) / not downloaded."""
    if entry.is_demo:
        return "demo"
    if entry.damaged:
        return "damaged"
    if entry.available:
        return "verified" if entry.verified else "unverified"
    if entry.location == "missing":
        return "missing"
    part = partial_of(entry)
    if part is not None:
        have = part.stat().st_size
        return f"partial ({size_pair(have, max(have, entry.size or 0))})"
    return "not downloaded"


def removal_question(entry: ModelEntry) -> str:
    """What Remove will do, in words, for the confirmation box."""
    if entry.source == "local":
        return (
            f"Forget {entry.display_name}? Quorum only forgets imported files: "
            f"{entry.path} stays on your disk."
        )
    if entry.location == "HF cache":
        return (
            f"Forget {entry.display_name}? The copy in the Hugging Face cache "
            f"({entry.path}) is left in place."
        )
    if entry.available or entry.location == "missing":
        return f"Delete {entry.display_name}? This deletes {entry.path} from your disk."
    return f"Delete the unfinished download of {entry.display_name}?"


def table_cells(entry: ModelEntry) -> list[tuple[str, str]]:
    """The model manager's row for ``entry``: (text, tooltip) for each column."""
    size = size_text(entry.size) if entry.size else "?"
    if not entry.available and entry.source == "catalog":
        size = f"~{size}"
    about = ""
    if entry.catalog_entry is not None:
        about = f"Licence {entry.catalog_entry.license}. {entry.catalog_entry.notes.description}"
    where = str(entry.path) if entry.path else (entry.repo or "")
    return [
        (entry.display_name, about.strip()),
        (size, ""),
        (entry.quantization or "?", ""),
        # "not downloaded" already shows under Status; here it would only repeat.
        (entry.location if entry.available or entry.location == "missing" else "—", where),
        (model_status(entry), ""),
    ]
