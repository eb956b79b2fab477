"""Export a consensus run: <name>.json (everything), <name>.md (summary) and
<name>-chart.png (the bar chart the summary shows)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from app.core.consensus.markdown import report_markdown
from app.core.consensus.report import stats_from_dict
from app.ui.consensus.chart import render_chart_png
from app.ui.consensus.group_palette import GroupPalette
from app.ui.widgets.plain_text import literal_rich_text

_NAME_CHARS = 40


@dataclass(frozen=True)
class ConsensusFiles:
    """The three files one consensus export writes side by side."""

    json: Path
    markdown: Path
    chart: Path


def suggested_name(data: dict[str, Any]) -> str:
    """A file name from the question's first words: "consensus-what-is-7-8"."""
    words = re.findall(r"[A-Za-z0-9]+", str(data.get("question", "")))
    slug = "-".join(words).lower()[:_NAME_CHARS].strip("-")
    return f"consensus-{slug}" if slug else "consensus"


def consensus_paths(base: Path) -> ConsensusFiles:
    """The three file names for a chosen path (its .json/.md suffix is dropped)."""
    stem = base.name[: -len(base.suffix)] if base.suffix.lower() in (".json", ".md") else base.name
    folder = base.parent
    return ConsensusFiles(
        folder / f"{stem}.json", folder / f"{stem}.md", folder / f"{stem}-chart.png"
    )


def write_consensus_files(
    data: dict[str, Any], base: Path, palette: GroupPalette | None = None
) -> ConsensusFiles:
    """Write the three files (the chart first: the Markdown links to it). Raises OSError."""
    files = consensus_paths(base)
    render_chart_png(stats_from_dict(data["consensus"]), files.chart, palette=palette)
    text = json.dumps(data, ensure_ascii=False, indent=2, allow_nan=False) + "\n"
    files.json.write_text(text, encoding="utf-8")
    files.markdown.write_text(report_markdown(data, files.chart.name), encoding="utf-8")
    return files


def export_consensus(
    parent: QWidget | None,
    data: dict[str, Any],
    *,
    palette: GroupPalette | None = None,
    path: Path | None = None,
) -> ConsensusFiles | None:
    """Ask where to save (unless path is given), then write the files. Problems are shown
    in a message box; returns None when nothing was written."""
    if path is None:
        chosen, _filter = QFileDialog.getSaveFileName(
            parent, "Export consensus report", str(Path.home() / f"{suggested_name(data)}.json"),
            "Consensus report (*.json)",
        )  # fmt: skip
        if not chosen:
            return None
        path = Path(chosen)
    try:
        return write_consensus_files(data, path, palette)
    except (OSError, ValueError) as exc:
        message = literal_rich_text(f"Could not export the report: {exc}")  # quotes a path
        QMessageBox.warning(parent, "Export failed", message)
        return None
