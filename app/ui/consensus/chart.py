"""The answer-group bar chart: one horizontal bar per group, largest first.

Painted by hand with QPainter rather than QtCharts: the same paint function draws the live
widget and the PNG for the Markdown export, it behaves identically offscreen, and a click
maps to a row by simple arithmetic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QEvent, QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QGuiApplication,
    QHelpEvent,
    QImage,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
)
from PySide6.QtWidgets import QToolTip, QWidget

from app.core.consensus.figure_lines import format_share
from app.core.consensus.stats import ConsensusStats
from app.ui.consensus.group_palette import GroupPalette
from app.ui.widgets.plain_text import literal_rich_text

Group = tuple[str, int, list[int]]  # label, count, member sample indices (ConsensusStats.groups)

ROW_HEIGHT = 26
PAD = 6
LABEL_FRACTION = 0.32  # of the width, for the answer text left of the bars
PNG_WIDTH = 720
PNG_MAX_ROWS = 20  # more groups than this are summed up in one "… more" line


@dataclass(frozen=True)
class ChartColours:
    """The colours of the chart that are not a group's (from the palette in use)."""

    text: QColor
    track: QColor  # the unfilled part of each bar
    selected: QColor  # background of the selected row


def paint_group_bars(
    painter: QPainter,
    area: QRectF,
    groups: Sequence[Group],
    total: int,
    palette: GroupPalette,
    colours: ChartColours,
    selected: str | None = None,
) -> None:
    """One row of ROW_HEIGHT per group from the top of area: answer, bar, count and share."""
    metrics = painter.fontMetrics()
    label_width = area.width() * LABEL_FRACTION
    value_width = metrics.horizontalAdvance("0000 (100%)") + PAD
    bar_left = area.left() + label_width + PAD
    bar_room = max(1.0, area.width() - label_width - value_width - 2 * PAD)
    for row, (label, count, _members) in enumerate(groups):
        top = area.top() + row * ROW_HEIGHT
        if label == selected:
            painter.fillRect(QRectF(area.left(), top, area.width(), ROW_HEIGHT), colours.selected)
        painter.setPen(colours.text)
        shown = metrics.elidedText(_first_line(label), Qt.TextElideMode.ElideRight,
                                   int(label_width))  # fmt: skip
        align_right = Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight
        painter.drawText(QRectF(area.left(), top, label_width, ROW_HEIGHT), align_right, shown)
        share = count / total if total else 0.0
        bar_top, bar_height = top + 5, ROW_HEIGHT - 10
        painter.fillRect(QRectF(bar_left, bar_top, bar_room, bar_height), colours.track)
        width = max(2.0, bar_room * share) if count else 0.0
        painter.fillRect(QRectF(bar_left, bar_top, width, bar_height), palette.colour(label))
        align_left = Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft
        value = QRectF(bar_left + bar_room + PAD, top, value_width, ROW_HEIGHT)
        painter.drawText(value, align_left, f"{count} ({format_share(share)})")


class GroupBarChart(QWidget):
    """The live chart: one bar per answer group, largest first, coloured by group.

    Signals:
        group_clicked(str): a bar's row was clicked; the payload is the group's label.
    """

    group_clicked = Signal(str)

    def __init__(self, palette: GroupPalette, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._palette = palette
        self._groups: list[Group] = []
        self._total = 0
        self._selected: str | None = None
        self.setMouseTracking(True)
        self.setAccessibleName("Answer groups")

    @property
    def groups(self) -> list[Group]:
        return list(self._groups)

    @property
    def selected(self) -> str | None:
        return self._selected

    def set_groups(self, groups: Sequence[Group], total: int) -> None:
        self._groups = [(label, count, list(members)) for label, count, members in groups]
        self._total = total
        self.setMinimumHeight(self._height_for(len(self._groups)))
        self.updateGeometry()
        self.update()

    def set_selected(self, label: str | None) -> None:
        self._selected = label
        self.update()

    def clear(self) -> None:
        self._selected = None
        self.set_groups([], 0)

    def row_rect(self, label: str) -> QRect | None:
        """Where the group's row is drawn (None if no such group)."""
        for row, (name, _count, _members) in enumerate(self._groups):
            if name == label:
                return QRect(0, PAD + row * ROW_HEIGHT, self.width(), ROW_HEIGHT)
        return None

    def label_at(self, point: QPointF) -> str | None:
        row = int((point.y() - PAD) // ROW_HEIGHT)
        if point.y() < PAD or not 0 <= row < len(self._groups):
            return None
        return self._groups[row][0]

    def sizeHint(self) -> QSize:
        return QSize(420, self._height_for(len(self._groups)))

    def minimumSizeHint(self) -> QSize:
        return QSize(200, self._height_for(1))

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        try:
            pal = self.palette()
            # A translucent highlight keeps the row's text readable in either theme
            # (a lightened one put white text on light blue in the dark theme).
            selected = QColor(pal.color(QPalette.ColorRole.Highlight))
            selected.setAlpha(90)
            colours = ChartColours(
                text=pal.color(QPalette.ColorRole.WindowText),
                track=pal.color(QPalette.ColorRole.AlternateBase),
                selected=selected,
            )
            area = QRectF(PAD, PAD, self.width() - 2 * PAD, self.height() - 2 * PAD)
            if not self._groups:
                painter.setPen(colours.text)
                painter.drawText(area, Qt.AlignmentFlag.AlignCenter, "No answers yet")
                return
            paint_group_bars(painter, area, self._groups, self._total, self._palette, colours,
                             self._selected)  # fmt: skip
        finally:
            painter.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        label = self.label_at(event.position())
        if label is not None and event.button() == Qt.MouseButton.LeftButton:
            self.set_selected(label)
            self.group_clicked.emit(label)
        super().mousePressEvent(event)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            label = self.label_at(QPointF(event.pos()))
            if label is None:
                QToolTip.hideText()
            else:
                count = next(c for name, c, _ in self._groups if name == label)
                tip = f"{label}\n{count} of {self._total} samples — click to list them"
                QToolTip.showText(event.globalPos(), literal_rich_text(tip), self)  # model text
            return True
        return super().event(event)

    def _height_for(self, rows: int) -> int:
        return 2 * PAD + max(1, rows) * ROW_HEIGHT


def render_chart_png(
    stats: ConsensusStats,
    path: str | Path,
    size: tuple[int, int] | None = None,
    palette: GroupPalette | None = None,
) -> Path:
    """Draw the chart of stats into a PNG (white background, for documents).

    size None: PNG_WIDTH wide and as tall as the groups need (at most PNG_MAX_ROWS rows).
    With a fixed size, groups that do not fit are summed up in a last line. Needs a
    QGuiApplication; works on the offscreen platform.
    """
    if QGuiApplication.instance() is None:
        raise RuntimeError("render_chart_png needs a running QApplication")
    if Path(path).suffix.lower() != ".png":
        raise ValueError(f"the chart file must end in .png: {path}")
    if palette is None:
        palette = GroupPalette()
        palette.assign(label for label, _, _ in stats.groups)  # largest group gets colour 1
    title_height = ROW_HEIGHT + PAD
    if size is None:
        rows = min(len(stats.groups), PNG_MAX_ROWS)
        more = len(stats.groups) > rows
        size = (PNG_WIDTH, 2 * PAD + title_height + (max(1, rows) + more) * ROW_HEIGHT)
    width, height = size
    if width < 100 or height < 2 * PAD + title_height + ROW_HEIGHT:
        raise ValueError(f"a chart of {width}x{height} pixels is too small to read")
    fit = (height - 2 * PAD - title_height) // ROW_HEIGHT
    rows = len(stats.groups) if len(stats.groups) <= fit else fit - 1
    image = QImage(width, height, QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = QFont(painter.font())
        font.setPixelSize(13)
        painter.setFont(font)
        colours = ChartColours(QColor("#202020"), QColor("#ececec"), QColor("white"))
        painter.setPen(colours.text)
        low, high = stats.agreement_ci95
        title = (
            f"Answer groups of {stats.n} samples — agreement {format_share(stats.agreement)} "
            f"(95% CI {format_share(low)}–{format_share(high)}), "
            f"entropy {stats.entropy_bits:.2f} bits"
        )
        align = Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft
        painter.drawText(QRectF(PAD, PAD, width - 2 * PAD, ROW_HEIGHT), align, title)
        area = QRectF(PAD, PAD + title_height, width - 2 * PAD, rows * ROW_HEIGHT)
        paint_group_bars(painter, area, stats.groups[:rows], stats.n, palette, colours)
        rest = stats.groups[rows:]
        if rest:
            line = QRectF(PAD, area.bottom(), width - 2 * PAD, ROW_HEIGHT)
            counted = sum(count for _, count, _ in rest)
            painter.drawText(line, Qt.AlignmentFlag.AlignCenter,
                             f"… and {len(rest)} more groups ({counted} samples)")  # fmt: skip
    finally:
        painter.end()
    target = Path(path)
    if not image.save(str(target)):  # the format follows the .png suffix checked above
        raise OSError(f"could not write the chart to {target}")
    return target


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0] if lines else text
