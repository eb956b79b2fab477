"""A strip of small squares, one per sample, coloured by the sample's answer group.

Up to 512 samples must fit in a glance, so the chips are painted (not 512 buttons) and wrap
onto as many lines as the width needs. A chip stays hollow until its sample finishes.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QHelpEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QResizeEvent,
)
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from app.ui.consensus.group_palette import GroupPalette
from app.ui.widgets.plain_text import literal_rich_text

CHIP = 14
GAP = 3
MARGIN = 2


class SampleChipStrip(QWidget):
    """One chip per sample asked for, coloured by its group once it has finished.

    Signals:
        sample_clicked(int): a sample's chip was clicked, finished or not (the panel
            follows a sample still running); the payload is the sample's index.
    """

    sample_clicked = Signal(int)

    def __init__(self, palette: GroupPalette, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._palette = palette
        self._total = 0
        self._groups: dict[int, str] = {}  # finished sample index -> group label
        self._selected: int | None = None
        policy = QSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)
        self.setAccessibleName("Samples by answer group")

    @property
    def total(self) -> int:
        return self._total

    @property
    def selected(self) -> int | None:
        return self._selected

    def set_total(self, total: int) -> None:
        self._total = max(0, total)
        self._relayout()

    def set_sample(self, index: int, group: str) -> None:
        """Colour a finished sample's chip (the strip grows if the index is beyond it)."""
        self._groups[index] = group
        self._palette.colour(group)  # first seen here: the group's colour is fixed now
        if index >= self._total:
            self._total = index + 1
            self._relayout()
        self.update()

    def set_selected(self, index: int | None) -> None:
        self._selected = index
        self.update()

    def clear(self) -> None:
        self._groups.clear()
        self._selected = None
        self.set_total(0)

    def group_of(self, index: int) -> str | None:
        return self._groups.get(index)

    def chip_colour(self, index: int) -> QColor | None:
        """The chip's fill colour; None while its sample has not finished."""
        group = self._groups.get(index)
        return None if group is None else self._palette.colour(group)

    def chip_rect(self, index: int) -> QRect:
        columns = self._columns(self.width())
        row, column = divmod(index, columns)
        return QRect(MARGIN + column * (CHIP + GAP), MARGIN + row * (CHIP + GAP), CHIP, CHIP)

    def index_at(self, point: QPoint) -> int | None:
        columns = self._columns(self.width())
        column = (point.x() - MARGIN) // (CHIP + GAP)
        row = (point.y() - MARGIN) // (CHIP + GAP)
        if point.x() < MARGIN or point.y() < MARGIN or column >= columns:
            return None
        index = row * columns + column
        if index >= self._total or not self.chip_rect(index).contains(point):
            return None  # past the last chip, or in the gap between two
        return index

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        rows = max(1, -(-self._total // self._columns(width)))
        return 2 * MARGIN + rows * (CHIP + GAP) - GAP

    def sizeHint(self) -> QSize:
        width = max(self.width(), 200)
        return QSize(width, self.heightForWidth(width))

    def resizeEvent(self, event: QResizeEvent) -> None:
        self.setFixedHeight(self.heightForWidth(self.width()))

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        try:
            outline = self.palette().color(QPalette.ColorRole.Mid)
            marker = self.palette().color(QPalette.ColorRole.WindowText)
            for index in range(self._total):
                rect = self.chip_rect(index)
                colour = self.chip_colour(index)
                if colour is None:
                    painter.setPen(QPen(outline, 1))
                    painter.setBrush(Qt.BrushStyle.NoBrush)
                    painter.drawRect(rect.adjusted(0, 0, -1, -1))
                else:
                    painter.fillRect(rect, colour)
                if index == self._selected:
                    painter.setPen(QPen(marker, 2))
                    painter.setBrush(Qt.BrushStyle.NoBrush)
                    painter.drawRect(rect.adjusted(1, 1, -1, -1))
        finally:
            painter.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        index = self.index_at(event.position().toPoint())
        if index is not None:
            self.sample_clicked.emit(index)  # the panel marks it, if it can show it
        super().mousePressEvent(event)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            index = self.index_at(event.pos())
            if index is None:
                QToolTip.hideText()
            else:
                group = self._groups.get(index)
                state = f"answer {group}" if group is not None else "not finished"
                # Counted from 1; the group label is model text.
                tip = literal_rich_text(f"Sample {index + 1}: {state}")
                QToolTip.showText(event.globalPos(), tip, self)
            return True
        return super().event(event)

    def _columns(self, width: int) -> int:
        return max(1, (width - 2 * MARGIN + GAP) // (CHIP + GAP))

    def _relayout(self) -> None:
        self.setFixedHeight(self.heightForWidth(self.width()))
        self.updateGeometry()
        self.update()
