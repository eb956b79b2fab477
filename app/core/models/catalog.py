"""The curated list of models Quorum offers to download.

The data lives in ``resources/catalog.json`` at the repository root (outside the
``app`` package) so the GUI, the CLI and the installers read the same file.
sha256 digests are deliberately absent: they come from the hub's metadata at
download time, never from a hand-copied value that could go stale.
"""

from __future__ import annotations

import fnmatch
import json
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

CATALOG_FILENAME = "catalog.json"


class CatalogError(ValueError):
    """The catalog file is missing or malformed, or an id is not in it."""


def resources_dir() -> Path:
    """Folder holding Quorum's data files, wherever Quorum runs from.

    Checked in order: a PyInstaller bundle (``sys._MEIPASS/resources``), the source
    tree (``<repo>/resources``), and a pip install that shipped the folder as data
    files (``<prefix>/share/quorum/resources``).
    """
    candidates: list[Path] = []
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        candidates.append(Path(bundle) / "resources")
    candidates.append(Path(__file__).resolve().parents[3] / "resources")
    candidates.append(Path(sys.prefix) / "share" / "quorum" / "resources")
    for folder in candidates:
        if (folder / CATALOG_FILENAME).is_file():
            return folder
    return candidates[0]


@dataclass(frozen=True)
class SamplingPreset:
    """A model author's recommended sampling; None means "no recommendation"."""

    temperature: float
    top_p: float
    top_k: int | None = None
    min_p: float | None = None

    def as_dict(self) -> dict[str, float | int]:
        values: dict[str, float | int] = {"temperature": self.temperature, "top_p": self.top_p}
        if self.top_k is not None:
            values["top_k"] = self.top_k
        if self.min_p is not None:
            values["min_p"] = self.min_p
        return values


@dataclass(frozen=True)
class CatalogNotes:
    """Facts the reasoning parser and the UI need about a model."""

    # The chat template itself ends with "<think>": the output holds only "</think>".
    template_opens_think: bool = False
    # Hybrid models (Qwen3) that honour enable_thinking in their template.
    supports_thinking_toggle: bool = False
    description: str = ""


@dataclass(frozen=True)
class CatalogEntry:
    """One curated model in resources/catalog.json: where on the hub, its size and licence."""

    id: str
    display_name: str
    repo: str
    # The file in the repo. None when only ``filename_glob`` is known (community
    # repos whose naming is not pinned); the hub's file list resolves it at download.
    filename: str | None
    approx_size: int
    license: str
    quantization: str
    family: str
    default: bool = False
    community: bool = False
    filename_glob: str | None = None
    notes: CatalogNotes = field(default_factory=CatalogNotes)
    # Keyed by mode: "thinking" and, for hybrid models, "non_thinking".
    sampling: dict[str, SamplingPreset] = field(default_factory=dict)

    def matches_file(self, repo: str, filename: str) -> bool:
        """Whether ``repo``/``filename`` is this entry's file."""
        if repo.lower() != self.repo.lower():
            return False
        if self.filename is not None:
            return filename == self.filename
        pattern = (self.filename_glob or "").lower()
        return bool(pattern) and fnmatch.fnmatchcase(filename.lower(), pattern)


def _require(raw: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in raw:
        raise CatalogError(f"catalog entry {where} lacks '{key}'")
    value = raw[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise CatalogError(f"catalog entry {where}: '{key}' has the wrong type")
    return value


def _parse_entry(raw: Any, index: int) -> CatalogEntry:
    if not isinstance(raw, dict):
        raise CatalogError(f"catalog entry #{index} is not an object")
    where = f"#{index} ({raw.get('id', '?')})"
    filename = raw.get("filename")
    glob = raw.get("filename_glob")
    if not isinstance(filename, str) and not isinstance(glob, str):
        raise CatalogError(f"catalog entry {where} needs 'filename' or 'filename_glob'")
    notes_raw = raw.get("notes") or {}
    sampling_raw = raw.get("sampling") or {}
    try:
        notes = CatalogNotes(
            template_opens_think=bool(notes_raw.get("template_opens_think", False)),
            supports_thinking_toggle=bool(notes_raw.get("supports_thinking_toggle", False)),
            description=str(notes_raw.get("description", "")),
        )
        sampling = {mode: SamplingPreset(**preset) for mode, preset in sampling_raw.items()}
    except (AttributeError, TypeError) as exc:
        raise CatalogError(f"catalog entry {where}: bad notes or sampling: {exc}") from exc
    return CatalogEntry(
        id=_require(raw, "id", str, where),
        display_name=_require(raw, "display_name", str, where),
        repo=_require(raw, "repo", str, where),
        filename=filename if isinstance(filename, str) else None,
        filename_glob=glob if isinstance(glob, str) else None,
        approx_size=_require(raw, "approx_size", int, where),
        license=_require(raw, "license", str, where),
        quantization=_require(raw, "quantization", str, where),
        family=_require(raw, "family", str, where),
        default=bool(raw.get("default", False)),
        community=bool(raw.get("community", False)),
        notes=notes,
        sampling=sampling,
    )


def parse_catalog(data: Any) -> tuple[CatalogEntry, ...]:
    """Validate a decoded catalog document."""
    if not isinstance(data, dict) or not isinstance(data.get("models"), list):
        raise CatalogError("catalog must be an object with a 'models' list")
    entries = tuple(_parse_entry(raw, i) for i, raw in enumerate(data["models"]))
    ids = [entry.id for entry in entries]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise CatalogError(f"catalog has duplicate ids: {', '.join(duplicates)}")
    if sum(entry.default for entry in entries) > 1:
        raise CatalogError("catalog marks more than one model as default")
    return entries


@lru_cache(maxsize=4)
def _load_cached(path: Path) -> tuple[CatalogEntry, ...]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CatalogError(f"model catalog not found at {path}") from exc
    except (OSError, ValueError) as exc:
        raise CatalogError(f"model catalog {path} is unreadable: {exc}") from exc
    return parse_catalog(data)


def load_catalog(path: Path | None = None) -> tuple[CatalogEntry, ...]:
    """All catalog entries, in the file's order (the order the UI shows them)."""
    return _load_cached((path or resources_dir() / CATALOG_FILENAME).resolve())


def get_entry(entry_id: str) -> CatalogEntry | None:
    return next((e for e in load_catalog() if e.id == entry_id), None)


def default_entry() -> CatalogEntry | None:
    return next((e for e in load_catalog() if e.default), None)


def find_by_file(repo: str, filename: str) -> CatalogEntry | None:
    """The catalog entry for a hub file, if the catalog has one."""
    return next((e for e in load_catalog() if e.matches_file(repo, filename)), None)
