"""What the library hands out: one model and its state, and the errors it raises."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.core.models.catalog import CatalogEntry, CatalogNotes


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
