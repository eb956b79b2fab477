"""Untrusted text in the places Qt may read as HTML and that have no plain-text switch.

Qt shows a tooltip (and a static QMessageBox's text) as rich text whenever
Qt.mightBeRichText finds something like a tag on its first line, anywhere on it: a
question, a model name from GGUF metadata, an answer group or a file name holding
"<img src=...>" would be rendered, not shown. A QLabel can be told PlainText; a tooltip
cannot, so the text is handed over as rich text that displays it exactly.
"""

from __future__ import annotations

from PySide6.QtGui import Qt


def literal_rich_text(text: str) -> str:
    """Rich text that shows `text` as written: "<", ">" and "&" escaped, line breaks kept.
    Normal white-space mode, so that a long line still wraps in a tooltip."""
    return Qt.convertFromPlainText(text, Qt.WhiteSpaceMode.WhiteSpaceNormal) if text else ""
