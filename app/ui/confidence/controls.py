"""The confidence switch, the uncertain-spot navigation and the legend, for the panes that
show one sample (its trace and its answer).

The three QActions (Colour by confidence, Next and Previous uncertain spot) are the
buttons' actions and the View menu's alike, so keys, menu and buttons never disagree.
The switch is enabled only while the sample shown has token statistics; otherwise its
tooltip says why. Navigation walks the spots of every pane in order (the trace's, then
the answer's), wrapping round at the ends.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence, QPalette
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from app.ui.confidence.book import NO_STATS_REASON
from app.ui.confidence.scale import LABELS, ConfidenceScale
from app.ui.confidence.text_view import ConfidencePane

TOGGLE_KEY = "Ctrl+Shift+C"  # Ctrl+K deletes to the end of a line in a text box on X11
NEXT_KEY = "F8"
PREVIOUS_KEY = "Shift+F8"
ON_TIP = (
    "Shade each token by the probability the model gave it (its own distribution, "
    f"before sampling); hover or click a token for its alternatives ({TOGGLE_KEY})"
)
LEGEND_TEXT = "Shading: the model's own probability for each token, before sampling"


class ConfidenceControls(QWidget):
    """The switch, the two navigation buttons and the legend, over a list of panes."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.panes: list[ConfidencePane] = []
        self._last: tuple[ConfidencePane, int] | None = None  # the spot last gone to
        self._has_stats: dict[int, bool] = {}
        self.toggle_action = QAction("Colour by &confidence", self)
        self.toggle_action.setCheckable(True)
        self.toggle_action.setShortcut(QKeySequence(TOGGLE_KEY))
        self.next_action = QAction("&Next uncertain spot", self)
        self.next_action.setShortcut(QKeySequence(NEXT_KEY))
        self.previous_action = QAction("&Previous uncertain spot", self)
        self.previous_action.setShortcut(QKeySequence(PREVIOUS_KEY))
        self.toggle_button = self._button(self.toggle_action, "Confidence")
        self.previous_button = self._button(self.previous_action, "◀ Uncertain")
        self.next_button = self._button(self.next_action, "Uncertain ▶")
        self.legend = QLabel()
        self.legend.setWordWrap(True)
        self.legend.setAccessibleName("Confidence legend")
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        for button in (self.toggle_button, self.previous_button, self.next_button):
            row.addWidget(button)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(row)
        layout.addWidget(self.legend)
        self.toggle_action.toggled.connect(self._on_toggled)
        self.next_action.triggered.connect(lambda: self.step(+1))
        self.previous_action.triggered.connect(lambda: self.step(-1))
        self._refresh()

    def actions_for_menu(self) -> list[QAction]:
        return [self.toggle_action, self.next_action, self.previous_action]

    def add_pane(self, pane: ConfidencePane) -> None:
        self.panes.append(pane)
        self._has_stats[id(pane)] = pane.text.stats is not None
        pane.set_shading(self.on)

    def pane_changed(self, pane: ConfidencePane) -> None:
        """A pane was handed new text and stats: re-shade it, re-enable the switch."""
        self._has_stats[id(pane)] = pane.text.stats is not None
        pane.set_shading(self.on)
        self._refresh()

    @property
    def available(self) -> bool:
        return any(self._has_stats.values())

    @property
    def on(self) -> bool:
        return self.toggle_action.isChecked() and self.available

    def spots(self) -> list[tuple[ConfidencePane, int]]:
        """Every uncertain spot, in reading order: pane by pane, each in text order."""
        return [(pane, index) for pane in self.panes for index in pane.text.spots]

    def step(self, direction: int) -> tuple[ConfidencePane, int] | None:
        """Go to the next (+1) or previous (-1) spot after the current cursor; wraps."""
        spots = self.spots()
        if not self.on or not spots:
            return None
        current = self._current(spots, direction)
        at = (current + direction) % len(spots) if current is not None else (
            0 if direction > 0 else len(spots) - 1)  # fmt: skip
        pane, index = spots[at]
        pane.text.setFocus()
        pane.text.select_token(index)
        self._last = (pane, index)
        return pane, index

    def changeEvent(self, event: object) -> None:
        super().changeEvent(event)  # type: ignore[arg-type]
        self._refresh_legend()

    def _current(self, spots: list[tuple[ConfidencePane, int]], direction: int) -> int | None:
        """Where the walk stands: the spot last gone to while it is still selected, else
        the reader's cursor in a pane (the next spot is the first after it)."""
        for at, (pane, index) in enumerate(spots):
            if self._last == (pane, index):
                cursor = pane.text.textCursor()
                if (cursor.selectionStart(), cursor.selectionEnd()) == pane.text.token_span(index):
                    return at
        for pane in self.panes:
            if pane.text.hasFocus():
                return _around_cursor(spots, pane, direction)
        return None

    def _button(self, action: QAction, text: str) -> QToolButton:
        action.setIconText(text)  # the button's short text; the menu shows the full one
        button = QToolButton()
        button.setDefaultAction(action)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        return button

    def _on_toggled(self, _checked: bool) -> None:
        for pane in self.panes:
            pane.set_shading(self.on)
        self._refresh()

    def _refresh(self) -> None:
        available = self.available
        self.toggle_action.setEnabled(available)
        self.toggle_action.setToolTip(ON_TIP if available else NO_STATS_REASON)
        self.toggle_button.setToolTip(self.toggle_action.toolTip())
        navigable = self.on and bool(self.spots())
        for action in (self.next_action, self.previous_action):
            action.setEnabled(navigable)
        self.next_button.setToolTip(f"Go to the next spot where the model hesitated ({NEXT_KEY})")
        self.previous_button.setToolTip(f"Go to the previous uncertain spot ({PREVIOUS_KEY})")
        for button in (self.previous_button, self.next_button):
            button.setVisible(self.on)
        self.legend.setVisible(self.on)
        self._refresh_legend()

    def _refresh_legend(self) -> None:
        if not hasattr(self, "legend"):
            return
        palette = self.palette()
        scale = ConfidenceScale.for_theme(palette.color(QPalette.ColorRole.Base),
                                          palette.color(QPalette.ColorRole.Text))  # fmt: skip
        text = scale.text.name()
        swatches = " ".join(
            f'<span style="background-color:{scale.step_colour(step).name()};'
            f'color:{text}">&nbsp;{html.escape(label)}&nbsp;</span>'
            for step, label in enumerate(LABELS)
        )  # our own labels: nothing from the model goes into this markup
        self.legend.setText(f"{swatches}<br><small>{LEGEND_TEXT}</small>")


def _around_cursor(spots: list[tuple[ConfidencePane, int]], pane: ConfidencePane,
                   direction: int) -> int | None:  # fmt: skip
    """The place in ``spots`` just before (direction +1) or after (-1) the first spot to
    visit from ``pane``'s cursor, so that one step lands on it."""
    mine = [at for at, (owner, _) in enumerate(spots) if owner is pane]
    if not mine:
        return None
    position = pane.text.textCursor().position()
    starts = {at: pane.text.token_span(spots[at][1])[0] for at in mine}
    if direction > 0:
        after = [at for at in mine if starts[at] >= position]
        return after[0] - 1 if after else mine[-1]
    before = [at for at in mine if starts[at] < position]
    return before[-1] + 1 if before else mine[0]
