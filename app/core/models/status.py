"""One vocabulary for a model's state, used by the model manager and `quorum models list`.

verified / demo / damaged / unverified / missing / partial (1.2 of 2.5 GB) / not
downloaded; and, for Remove, what it will do to the files, in words.
"""

from __future__ import annotations

from pathlib import Path

from app.core.models.download import partial_download
from app.core.models.entry import ModelEntry
from app.core.units import size_pair, size_text


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
