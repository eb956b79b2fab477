"""The audit's charts in the window: the HTML report's own SVGs (app.core.audit.charts),
drawn by QtSvg: the sweeps, then per condition agreement per question and the
reliability diagram.

The SVGs are the core's plain drawings (no script, labels escaped), and QSvgRenderer runs
no script in any case. They are drawn on white whatever the theme: their text is black.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QByteArray, QSize, Qt
from PySide6.QtGui import QPalette
from PySide6.QtSvgWidgets import QSvgWidget
from PySide6.QtWidgets import QLabel, QScrollArea, QVBoxLayout, QWidget

from app.core.audit.charts import agreement_chart, reliability_chart
from app.core.audit.html_report import sweep_charts

PLACEHOLDER = "The charts appear here when the audit is done."


def chart_svgs(data: dict[str, Any]) -> list[tuple[str, str]]:
    """(heading, SVG) in the order shown: sweeps first, then each condition's two."""
    names = {m["key"]: m["name"] for m in data["models"]}
    charts = sweep_charts(data, names)
    for c in data["conditions"]:
        label = c["label"]
        charts.append(
            (
                f"Agreement per question: {label}",
                agreement_chart(c["questions"], f"Agreement per question: {label}"),
            )
        )
        charts.append((f"Reliability diagram: {label}",
                       reliability_chart(c["figures"]["calibration"],
                                         f"Reliability diagram: {label}")))  # fmt: skip
    return charts


class SvgChart(QSvgWidget):
    """One chart at its own size, on white.

    Signals: none of its own.
    """

    def __init__(self, svg: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.load(QByteArray(svg.encode("utf-8")))
        size = self.renderer().defaultSize()
        self.setFixedSize(size if size.isValid() else QSize(640, 240))
        self.setAutoFillBackground(True)
        palette = self.palette()
        palette.setColor(QPalette.ColorRole.Window, Qt.GlobalColor.white)
        self.setPalette(palette)


class AuditCharts(QScrollArea):
    """The finished audit's charts, one under another, scrolling.

    Signals: none of its own.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setAccessibleName("Audit charts")
        self.charts: list[SvgChart] = []
        self.clear()

    def clear(self) -> None:
        self.charts = []
        page = QWidget()
        layout = QVBoxLayout(page)
        note = QLabel(PLACEHOLDER)
        note.setWordWrap(True)
        layout.addWidget(note)
        layout.addStretch(1)
        self.setWidget(page)  # the old page and its charts are deleted with it

    def show_report(self, data: dict[str, Any]) -> None:
        page = QWidget()
        layout = QVBoxLayout(page)
        self.charts = []
        for heading, svg in chart_svgs(data):
            title = QLabel(heading)
            title.setTextFormat(Qt.TextFormat.PlainText)  # a model's name is not markup
            title.setWordWrap(True)
            chart = SvgChart(svg)
            layout.addWidget(title)
            layout.addWidget(chart)
            self.charts.append(chart)
        layout.addStretch(1)
        self.setWidget(page)
