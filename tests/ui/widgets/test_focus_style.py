"""Keyboard focus is visible in both themes: the ring stands 3:1 off the window."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage, QPalette
from PySide6.QtWidgets import QApplication, QCheckBox, QHBoxLayout, QLineEdit, QPushButton, QWidget
from pytestqt.qtbot import QtBot

from app.ui.app import apply_theme

pytestmark = pytest.mark.gui


def luminance(colour: QColor) -> float:
    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    return (
        0.2126 * channel(colour.redF())
        + 0.7152 * channel(colour.greenF())
        + (0.0722 * channel(colour.blueF()))
    )


def contrast(first: QColor, second: QColor) -> float:
    high, low = sorted((luminance(first), luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def best_edge_contrast(image: QImage, background: QColor) -> float:
    """The strongest contrast against the background along the widget's left edge."""
    y = image.height() // 2
    return max(contrast(QColor(image.pixel(x, y)), background) for x in range(4))


@pytest.fixture(params=["dark", "light"])
def themed(request: pytest.FixtureRequest) -> Iterator[str]:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    style, palette = app.style().name(), app.palette()
    apply_theme(app, request.param)
    yield request.param
    app.setStyle(style)
    app.setPalette(palette)


@pytest.mark.parametrize("kind", [QPushButton, QCheckBox, QLineEdit])
def test_keyboard_focus_ring_stands_out(qtbot: QtBot, themed: str, kind: type[QWidget]) -> None:
    window = QWidget()
    qtbot.addWidget(window)
    row = QHBoxLayout(window)
    first, target = QPushButton("First"), kind()
    if isinstance(target, QPushButton | QCheckBox):
        target.setText("Target")
    for widget in (first, target):
        row.addWidget(widget)
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=2000)
    first.setFocus()
    plain = target.grab().toImage()
    qtbot.keyClick(first, Qt.Key.Key_Tab)  # keyboard focus: the case a ring is for
    assert target.hasFocus()
    ringed = target.grab().toImage()
    background = window.palette().color(QPalette.ColorRole.Window)
    assert best_edge_contrast(ringed, background) >= 3.0, f"{themed}: focus ring too faint"
    assert plain != ringed, "focus changes how the widget is drawn"
