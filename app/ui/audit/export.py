"""Save a finished audit as the CLI's `--report` does: HTML, JSON or Markdown, one at a time.

The writers are the core's (app.core.audit.html_report and markdown), so the window's
files say exactly what `quorum audit --report` writes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QFileDialog, QWidget

from app.core.audit.html_report import audit_html
from app.core.audit.markdown import audit_markdown

HTML, JSON, MARKDOWN = "html", "json", "markdown"
# kind -> (button text, save dialog filter, suffix)
KINDS = {
    HTML: ("Export &HTML…", "HTML report, charts inline (*.html)", ".html"),
    JSON: ("Export &JSON…", "JSON report, every sample and seed (*.json)", ".json"),
    MARKDOWN: ("Export &Markdown…", "Markdown summary (*.md)", ".md"),
}


def report_text(data: dict[str, Any], kind: str) -> str:
    if kind == HTML:
        return audit_html(data)
    if kind == JSON:
        return json.dumps(data, ensure_ascii=False, indent=1, allow_nan=False) + "\n"
    if kind == MARKDOWN:
        return audit_markdown(data)
    raise ValueError(f"unknown report kind {kind!r}")


def suggested_name(data: dict[str, Any]) -> str:
    stem = Path(str(data["question_set"]["name"])).stem
    slug = re.sub(r"[^A-Za-z0-9]+", "-", stem).strip("-").lower()
    return f"audit-{slug}" if slug else "audit"


def write_report(data: dict[str, Any], kind: str, path: Path) -> Path:
    """Write one report file (the kind's suffix added when missing). Raises OSError."""
    suffix = KINDS[kind][2]
    if path.suffix.lower() != suffix and not (kind == HTML and path.suffix.lower() == ".htm"):
        path = path.with_name(path.name + suffix)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report_text(data, kind), encoding="utf-8")
    return path


def ask_path(parent: QWidget | None, data: dict[str, Any], kind: str,
             folder: Path) -> Path | None:  # fmt: skip
    """Where to save, from a save dialog; None when the user cancelled."""
    _, dialog_filter, suffix = KINDS[kind]
    suggested = folder / f"{suggested_name(data)}{suffix}"
    chosen, _ = QFileDialog.getSaveFileName(
        parent, "Export the audit report", str(suggested), dialog_filter
    )
    return Path(chosen) if chosen else None
