"""Help → About: what a user reads out when asking for support."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from app.core.about import about_text
from app.core.inference.requests import ModelDescription


def about_box(parent: QWidget, model: ModelDescription | None) -> QMessageBox:
    """A non-modal box (the caller shows it); plain text, since paths and names are data."""
    box = QMessageBox(parent)
    box.setWindowTitle("About Quorum")
    box.setIcon(QMessageBox.Icon.Information)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setText(about_text(model.llama_config if model else None))
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.setStandardButtons(QMessageBox.StandardButton.Close)
    return box
