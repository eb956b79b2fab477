"""A row of widget groups that stacks them when the window is too narrow for one line."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QBoxLayout, QWidget


class WrappingRow(QWidget):
    """Groups side by side while they fit at their preferred widths, else one per line.

    Used for the Ask buttons and the consensus switch: on one line they save a row of
    height on a short window, stacked they never squeeze a button's text on a narrow one.
    """

    def __init__(self, *groups: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.groups = groups
        self.row = QBoxLayout(QBoxLayout.Direction.LeftToRight, self)
        self.row.setContentsMargins(0, 0, 0, 0)
        for group in groups:  # at their own width, stacked or not
            self.row.addWidget(group, 0, Qt.AlignmentFlag.AlignLeft)
        self.row.addStretch(1)

    def one_line_width(self) -> int:
        spacing = self.row.spacing() * max(0, len(self.groups) - 1)
        return sum(group.sizeHint().width() for group in self.groups) + spacing

    def stacked(self) -> bool:
        return self.row.direction() == QBoxLayout.Direction.TopToBottom

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        fits = event.size().width() >= self.one_line_width()
        direction = QBoxLayout.Direction.LeftToRight if fits else QBoxLayout.Direction.TopToBottom
        if self.row.direction() != direction:
            self.row.setDirection(direction)
