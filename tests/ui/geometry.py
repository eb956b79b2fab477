"""Checks on a laid-out window: no text cut short, no widgets drawn over each other.

Used by tests/ui/test_geometry.py. Each check walks the visible widgets of a window and
returns readable problems ("QLabel 'Agreement:' needs 88 px, has 41"), so a failing
test says what broke where, and an empty list means the window reads whole.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from PySide6.QtCore import QRect
from PySide6.QtGui import Qt  # QtGui's Qt also has mightBeRichText
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QComboBox,
    QLabel,
    QLayout,
    QLineEdit,
    QSplitter,
    QStyle,
    QStyleOptionComboBox,
    QWidget,
)

# Rounding in layouts and style metrics: a pixel is not a clipped letter. It is when it
# is the ink of a glyph: a label's text is laid out by advance widths, but a final "e"
# or "y" may reach a pixel past its advance, and the painter clips at the widget's edge
# (and QLabel clips its text to its contents rectangle), and a 1 px slack on the
# advance width let such labels through. So ink is checked against the contents
# rectangle with no slack.
# Under X11 the shortcut letter is underlined, and the underline splits the text into
# runs shaped apart: "&Temperature" loses its "Te" kerning and paints 2 px wider than
# the advance its size hint measured (offscreen draws no underline, so it never showed).
SLACK_PX = 1


def describe(widget: QWidget) -> str:
    name = widget.objectName() or widget.accessibleName()
    text = ""
    if isinstance(widget, QLabel | QAbstractButton):
        text = widget.text()
    elif isinstance(widget, QLineEdit):
        text = widget.text() or widget.placeholderText()
    elif isinstance(widget, QComboBox):
        text = widget.currentText()
    parent = widget.parentWidget()
    where = f" in {type(parent).__name__}" if parent is not None else ""
    label = " ".join(part for part in (name, repr(text[:40]) if text else "") if part)
    return f"{type(widget).__name__} {label}{where}".strip()


def visible_widgets(root: QWidget) -> Iterator[QWidget]:
    """Every widget under root that is shown on screen (root's own window only)."""
    for widget in root.findChildren(QWidget):
        if widget.isVisible() and widget.window() is root.window() and widget.width() > 0:
            yield widget


def clipped_text(root: QWidget) -> list[str]:
    """Labels, buttons, line edits, spin boxes and combo boxes whose text does not fit."""
    problems: list[str] = []
    for widget in visible_widgets(root):
        problem = _text_problem(widget)
        if problem:
            problems.append(f"{describe(widget)}: {problem}")
    return problems


def _text_problem(widget: QWidget) -> str | None:
    if isinstance(widget, QLabel):
        return _label_problem(widget)
    if isinstance(widget, QAbstractButton):
        if not widget.text():
            return None
        need = widget.minimumSizeHint().width()
        if widget.width() + SLACK_PX < need:
            return f"needs {need} px, has {widget.width()}"
        return None
    if isinstance(widget, QAbstractSpinBox):
        edit = widget.findChild(QLineEdit)
        if edit is None:
            return None
        need = widget.fontMetrics().horizontalAdvance(edit.text())
        have = edit.contentsRect().width() - 4  # QLineEdit's own horizontal margins
        if have + SLACK_PX < need:
            return f"value {edit.text()!r} needs {need} px, shows {have}"
        return None
    if isinstance(widget, QLineEdit):
        if isinstance(widget.parentWidget(), QAbstractSpinBox | QComboBox):
            return None  # checked with its spin box or combo box
        text = widget.text() or widget.placeholderText()
        need = widget.fontMetrics().horizontalAdvance(text)
        have = widget.contentsRect().width() - 4
        # A typed text longer than the box scrolls, as every text box does; only the empty
        # box's placeholder and short values must show whole.
        if text and len(text) < 40 and have + SLACK_PX < need:
            return f"needs {need} px, has {have}"
        return None
    if isinstance(widget, QComboBox):
        option = QStyleOptionComboBox()
        widget.initStyleOption(option)
        control, part = QStyle.ComplexControl.CC_ComboBox, QStyle.SubControl.SC_ComboBoxEditField
        field = widget.style().subControlRect(control, option, part, widget)
        need = widget.fontMetrics().horizontalAdvance(widget.currentText())
        if widget.currentText() and field.width() + SLACK_PX < need:
            return f"needs {need} px, has {field.width()}"
    return None


def _label_problem(label: QLabel) -> str | None:
    if not label.text() or not label.pixmap().isNull():
        return None
    rect = label.contentsRect()
    if label.wordWrap():
        need_height = label.heightForWidth(label.width())
        if need_height > label.height() + SLACK_PX:
            return f"wrapped text needs {need_height} px of height, has {label.height()}"
        return None
    need = label.minimumSizeHint().width() - (label.width() - rect.width())
    if rect.width() + SLACK_PX < need:
        return f"needs {need} px, has {rect.width()}"
    ink = _ink_problem(label)
    if ink:
        return ink
    if rect.height() + SLACK_PX < label.fontMetrics().height():
        return f"needs {label.fontMetrics().height()} px of height, has {rect.height()}"
    return None


def _ink_problem(label: QLabel) -> str | None:
    """A plain, unwrapped label whose glyphs reach past its contents rectangle, where
    QLabel clips them, though their advance widths fit."""
    text = label.text()
    if label.textFormat() == Qt.TextFormat.RichText or (
        label.textFormat() == Qt.TextFormat.AutoText and Qt.mightBeRichText(text)
    ):
        return None
    metrics = label.fontMetrics()
    unkerned = 0  # what the underlined shortcut letter adds, the first line only
    if label.buddy() is not None:  # "&Temperature" shows as "Temperature"
        unkerned = _underline_cost(text.split("\n")[0], label)
        text = text.replace("&&", "\0").replace("&", "").replace("\0", "&")
    rect = label.contentsRect()
    text_rect = rect.adjusted(label.margin(), 0, -label.margin(), 0)
    indent = max(0, label.indent())  # a label without a frame indents nothing by default
    align = label.alignment()
    for line in text.split("\n"):
        if not line:
            continue
        extra, unkerned = unkerned, 0
        advance = metrics.horizontalAdvance(line) + extra
        if align & Qt.AlignmentFlag.AlignRight:
            origin = text_rect.right() + 1 - indent - advance
        elif align & Qt.AlignmentFlag.AlignHCenter:
            origin = text_rect.left() + (text_rect.width() - advance) // 2
        else:
            origin = text_rect.left() + indent
        ink = metrics.boundingRect(line)
        left, right = origin + ink.left(), origin + ink.left() + ink.width() + extra
        if left < rect.left() or right > rect.right() + 1:
            return (f"the ink of {line[:40]!r} spans x {left}..{right}, the label shows "
                    f"{rect.left()}..{rect.right() + 1}: cut at the edge")  # fmt: skip
    return None


def _underline_cost(text: str, label: QLabel) -> int:
    """How much wider a line paints with its shortcut letter underlined (runs split)."""
    at = text.replace("&&", "\0\0").find("&")
    if at < 0 or at + 1 >= len(text):
        return 0
    metrics = label.fontMetrics()
    plain = text.replace("&&", "\0").replace("&", "").replace("\0", "&")
    pieces = (text[:at], text[at + 1], text[at + 2 :])
    split = sum(metrics.horizontalAdvance(p.replace("&&", "&")) for p in pieces if p)
    return max(0, split - metrics.horizontalAdvance(plain))


def overlaps(root: QWidget) -> list[str]:
    """Visible widgets side by side in one layout (or splitter) that cover each other,
    and layout-managed widgets that stick out of their parent."""
    problems: list[str] = []
    for parent in [root, *visible_widgets(root)]:
        siblings = _arranged_children(parent)
        for first, second in itertools.combinations(siblings, 2):
            common = first.geometry().intersected(second.geometry())
            if common.width() > SLACK_PX and common.height() > SLACK_PX:
                problems.append(f"{describe(first)} overlaps {describe(second)} by "
                                f"{common.width()}×{common.height()} px")  # fmt: skip
        inside = parent.rect().adjusted(-SLACK_PX, -SLACK_PX, SLACK_PX, SLACK_PX)
        for child in siblings:
            if not inside.contains(child.geometry()):
                problems.append(f"{describe(child)} at {_rect(child.geometry())} sticks out "
                                f"of {describe(parent)} {_rect(parent.rect())}")  # fmt: skip
    return problems


def _arranged_children(parent: QWidget) -> list[QWidget]:
    found: list[QWidget | None]
    layout = parent.layout()
    if isinstance(parent, QSplitter):
        found = [parent.widget(i) for i in range(parent.count())]
    elif layout is not None:
        found = list(_layout_widgets(layout))
    else:
        return []
    # A floating dock is a window of its own, over the main one by design.
    return [
        w
        for w in found
        if w is not None
        and w.isVisible()
        and not w.isWindow()
        and w.parentWidget() is parent
        and w.width() > 0
    ]


def _layout_widgets(layout: QLayout) -> Iterator[QWidget]:
    for i in range(layout.count()):
        item = layout.itemAt(i)
        if item is None:
            continue
        widget, inner = item.widget(), item.layout()
        if widget is not None:
            yield widget
        elif inner is not None:
            yield from _layout_widgets(inner)


def _rect(rect: QRect) -> str:
    return f"{rect.width()}×{rect.height()}+{rect.x()}+{rect.y()}"
