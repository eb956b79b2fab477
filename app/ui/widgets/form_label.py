"""A form label with room for the ink it paints, which its size hint does not measure.

A QLabel's size hint is its text's advance width, and the label clips its text to that
box. The ink may reach a pixel past it on either side (a "T" starts left of its origin),
and where the shortcut letter is underlined (X11) the text is shaped in separate runs
around it, losing the kerning at the cuts: "&Temperature" paints 2 px wider than its
hint, and the label cut its "e". So the text starts a pixel in, and the box is wider.
"""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QWidget

INK_MARGIN = 1  # px each side of a label's text: the ink overhang seen is 1 px


def shortcut_label(text: str, buddy: QWidget | None = None) -> QLabel:
    """A label for ``text`` ("&" marks the shortcut letter) that never clips its ink."""
    label = QLabel(text)
    if buddy is not None:
        label.setBuddy(buddy)
    metrics = label.fontMetrics()
    plain = text.replace("&", "")
    at = text.find("&")
    runs = (text[:at], text[at + 1 : at + 2], text[at + 2 :]) if at >= 0 else (plain,)
    unkerned = sum(metrics.horizontalAdvance(run) for run in runs if run)
    lost = max(0, unkerned - metrics.horizontalAdvance(plain))
    label.setIndent(INK_MARGIN)
    label.setMinimumWidth(label.sizeHint().width() + lost + INK_MARGIN)
    return label
