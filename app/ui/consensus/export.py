"""Export a consensus run, as the user chose: <name>.md with <name>-chart.png (the
summary and the bar chart it shows), <name>.json (everything, every sample), or all three.

The save dialog offers exactly these choices, and the caller is told every file written,
so the window can say where they went.
"""

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


MARKDOWN, JSON, ALL = "markdown", "json", "all"
# kind -> (what the save dialog offers, the suffix it suggests)
CHOICES = {
    MARKDOWN: ("Markdown report with its chart PNG (*.md)", ".md"),
    JSON: ("JSON report, every sample (*.json)", ".json"),
    ALL: ("JSON, Markdown and chart PNG (*.json *.md)", ".json"),
}


@dataclass(frozen=True)
class ConsensusFiles:
    """The files one consensus export wrote (None: not part of this export)."""

    json: Path | None
    markdown: Path | None
    chart: Path | None

    @property
    def written(self) -> list[Path]:
        return [p for p in (self.json, self.markdown, self.chart) if p is not None]

    def describe(self) -> str:
        """ "/home/u/run.md and run-chart.png": the first path in full, then the names."""
        first, *rest = self.written
        names = [p.name for p in rest]
        if not names:
            return str(first)
        if len(names) == 1:
            return f"{first} and {names[0]}"
        return f"{first}, {', '.join(names[:-1])} and {names[-1]}"


def suggested_name(data: dict[str, Any]) -> str:
    """A file name from the question's first words: "consensus-what-is-7-8"."""
    words = re.findall(r"[A-Za-z0-9]+", str(data.get("question", "")))
    slug = "-".join(words).lower()[:_NAME_CHARS].strip("-")
    return f"consensus-{slug}" if slug else "consensus"


def consensus_paths(base: Path, kind: str = ALL) -> ConsensusFiles:
    """The file names for a chosen path (its .json/.md suffix is dropped) and kind."""
    stem = base.name[: -len(base.suffix)] if base.suffix.lower() in (".json", ".md") else base.name
    folder = base.parent
    markdown = kind in (MARKDOWN, ALL)
    return ConsensusFiles(
        folder / f"{stem}.json" if kind in (JSON, ALL) else None,
        folder / f"{stem}.md" if markdown else None,
        folder / f"{stem}-chart.png" if markdown else None,
    )


def write_consensus_files(
    data: dict[str, Any], base: Path, palette: GroupPalette | None = None, kind: str = ALL
) -> ConsensusFiles:
    """Write the kind's files (the chart first: the Markdown links to it). Raises OSError."""
    files = consensus_paths(base, kind)
    if files.chart is not None:
        render_chart_png(stats_from_dict(data["consensus"]), files.chart, palette=palette)
    if files.json is not None:
        text = json.dumps(data, ensure_ascii=False, indent=2, allow_nan=False) + "\n"
        files.json.write_text(text, encoding="utf-8")
    if files.markdown is not None and files.chart is not None:
        files.markdown.write_text(report_markdown(data, files.chart.name), encoding="utf-8")
    return files


def export_consensus(
    parent: QWidget | None,
    data: dict[str, Any],
    *,
    kinds: tuple[str, ...] = (MARKDOWN, JSON, ALL),
    palette: GroupPalette | None = None,
    path: Path | None = None,
) -> ConsensusFiles | None:
    """Ask where to save and as which of `kinds` (unless path is given: then the first
    kind), then write the files. Problems are shown in a message box; returns None when
    nothing was written."""
    kind = kinds[0]
    if path is None:
        offered = [CHOICES[k][0] for k in kinds]
        suggested = Path.home() / f"{suggested_name(data)}{CHOICES[kind][1]}"
        chosen, chosen_filter = QFileDialog.getSaveFileName(
            parent, "Export consensus report", str(suggested), ";;".join(offered)
        )
        if not chosen:
            return None
        path = Path(chosen)
        if chosen_filter in offered:
            kind = kinds[offered.index(chosen_filter)]
    try:
        return write_consensus_files(data, path, palette, kind)
    except (OSError, ValueError) as exc:
        message = literal_rich_text(f"Could not export the report: {exc}")  # quotes a path
        QMessageBox.warning(parent, "Export failed", message)
        return None
