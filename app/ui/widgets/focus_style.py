"""Fusion with a focus ring one can see: 2 px, in a colour that stands off the theme.

Fusion marks keyboard focus with a 1 px outline a shade darker than the highlight, which
on the dark theme's dark grey buttons all but disappears (about 1.5:1 against them). The
proxy draws Fusion's own widgets, then a ring around whichever has keyboard focus, in
the palette's highlight lightened on a dark theme, so the ring keeps at least the 3:1
contrast WCAG asks of focus indicators on either theme.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QPainter, QPalette, QPen
from PySide6.QtWidgets import (
    QAbstractButton,
    QProxyStyle,
    QStyle,
    QStyleFactory,
    QStyleOption,
    QStyleOptionComplex,
    QWidget,
)

RING_PX = 2
_RINGED_CONTROLS = (QStyle.ControlElement.CE_PushButton, QStyle.ControlElement.CE_CheckBox,
                    QStyle.ControlElement.CE_RadioButton)  # fmt: skip
_RINGED_COMPLEX = (QStyle.ComplexControl.CC_ToolButton, QStyle.ComplexControl.CC_ComboBox,
                   QStyle.ComplexControl.CC_SpinBox, QStyle.ComplexControl.CC_Slider)  # fmt: skip


def ring_colour(palette: QPalette) -> QColor:
    """The highlight, lightened on a dark window so that it reads against it."""
    colour = QColor(palette.color(QPalette.ColorRole.Highlight))
    if palette.color(QPalette.ColorRole.Window).lightness() < 128:
        colour = colour.lighter(165)
    return colour


class FocusRingStyle(QProxyStyle):
    """Fusion, plus a visible ring around the widget that has keyboard focus."""

    def __init__(self) -> None:
        super().__init__(QStyleFactory.create("Fusion"))
        self.setObjectName("fusion")  # QStyle.name() reads it: the rest of Qt sees Fusion

    def drawControl(self, element: QStyle.ControlElement, option: QStyleOption,
                    painter: QPainter, widget: QWidget | None = None) -> None:  # fmt: skip
        super().drawControl(element, option, painter, widget)
        if element in _RINGED_CONTROLS:
            self._ring(option, painter)

    def drawComplexControl(self, control: QStyle.ComplexControl, option: QStyleOptionComplex,
                           painter: QPainter, widget: QWidget | None = None) -> None:  # fmt: skip
        super().drawComplexControl(control, option, painter, widget)
        if control in _RINGED_COMPLEX:
            self._ring(option, painter)

    def drawPrimitive(self, element: QStyle.PrimitiveElement, option: QStyleOption,
                      painter: QPainter, widget: QWidget | None = None) -> None:  # fmt: skip
        if element == QStyle.PrimitiveElement.PE_FrameFocusRect:
            # A button's label: its control already has the ring. Elsewhere (a list's
            # current row) the style asked for a focus mark: make it the visible one.
            if not isinstance(widget, QAbstractButton):
                self._ring(option, painter, keyboard_only=False)
            return
        super().drawPrimitive(element, option, painter, widget)
        if element == QStyle.PrimitiveElement.PE_PanelLineEdit:
            self._ring(option, painter, keyboard_only=False)  # typing goes here: always shown

    def _ring(self, option: QStyleOption, painter: QPainter, keyboard_only: bool = True) -> None:
        state = option.state
        if not state & QStyle.StateFlag.State_HasFocus:
            return
        if keyboard_only and not state & QStyle.StateFlag.State_KeyboardFocusChange:
            return  # a mouse click needs no ring: the pointer is where the focus is
        rect = QRect(option.rect).adjusted(1, 1, -1, -1)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(QPen(ring_colour(option.palette), RING_PX))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(rect, 2, 2)
        painter.restore()
