"""The "?" help for the consensus figures: STATS_HELP rendered in a small dialog.

The text is ours, but it still goes through markdown-it with raw HTML off, like everything
else shown as rich text, so an edit to the help can never inject markup.
"""

from __future__ import annotations

from markdown_it import MarkdownIt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from app.core.consensus.stats_help import STATS_HELP

_MARKDOWN = MarkdownIt("commonmark", {"html": False})


def stats_help_html() -> str:
    return _MARKDOWN.render(STATS_HELP)


class StatsHelpDialog(QDialog):
    """How to read the consensus figures, in a dialog of its own."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("How to read the consensus figures")
        self.browser = QTextBrowser(self)
        self.browser.setOpenLinks(False)  # the help has no links; load nothing if one appears
        self.browser.setHtml(stats_help_html())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)
        self.resize(640, 560)

    def text(self) -> str:
        return self.browser.toPlainText()
