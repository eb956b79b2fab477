"""The name a model goes by in the window title and the status bar.

A GGUF's general.name is whatever its conversion script wrote: the test model's reads
"Smollm2 135M 8k Lc100K Mix1 Ep2" (a training recipe, not a name), where its file is
"SmolLM2-135M-Instruct.Q4_1.gguf". The catalog's (or the hub's) label is the cleanest;
failing that, the file name as its publisher spelled it, without the quantisation tag
(the status bar shows that on its own), reads better than the recipe.
"""

from __future__ import annotations

from pathlib import Path

from app.core.inference.requests import name_from_file
from app.core.models import library
from app.core.models.entry import ModelEntry

_NAMED_SOURCES = ("catalog", "hub", "demo")


def entry_name(entry: ModelEntry) -> str:
    """A library entry's name: the catalog's or hub's label, else its file's name."""
    if entry.source in _NAMED_SOURCES and entry.display_name:
        return entry.display_name
    file = entry.path or (Path(entry.filename) if entry.filename else None)
    return (name_from_file(file) if file is not None else "") or entry.display_name


def name_cell(entry: ModelEntry, about: str = "") -> tuple[str, str]:
    """The model manager's name cell, (text, tooltip): the name the title and the picker
    use; the tooltip adds the file's own name and, where it differs, the GGUF's
    general.name, so a file imported under any name can still be told apart."""
    name = entry_name(entry)
    tips = []
    if entry.filename or entry.path:
        tips.append(f"File: {entry.filename or Path(entry.path or '').name}")
    if entry.display_name and entry.display_name != name:
        source = "GGUF general.name" if entry.source == "local" else "Listed as"
        tips.append(f"{source}: {entry.display_name}")
    if about:
        tips.append(about)
    return name, "\n".join(tips)


def clean_model_name(path: Path, gguf_name: str | None = None) -> str:
    """The name of the library's entry for `path`, else the file's name, else the GGUF's
    own name."""
    resolved = Path(path).expanduser().resolve()
    try:
        entries = library.list_models()
    except (OSError, ValueError):
        entries = []
    for entry in entries:
        if entry.path is not None and Path(entry.path).resolve() == resolved:
            return entry_name(entry)
    return name_from_file(resolved) or (gguf_name or "").strip() or resolved.name
