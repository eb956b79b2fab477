"""Streamed text handed to a view at a steady pace, and not at all while it is hidden.

A model streams text every few milliseconds, and every view update costs the GUI thread
layout and paint work. On a small machine that thread shares the cores with llama.cpp, so
each millisecond it spends is one the model does not get. `PacedText` collects the text
and applies it at most every ``min_interval_ms``, stretched so that applying it takes at
most ``share`` of the GUI thread (a view whose updates grow slow is updated less often).
A view on a hidden tab applies nothing until it is shown: the text waits, whole, and
is looked at again a few times a second (a poll, not an event filter: a Python event
filter on a widget Qt is destroying is a crash waiting to happen).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QWidget

MIN_INTERVAL_MS = 100  # ten updates a second reads as smooth streaming
GUI_SHARE = 0.1  # at most a tenth of the GUI thread goes to applying streamed text
HIDDEN_RECHECK_MS = 250  # a hidden view's text shows within this of the view being shown


class PacedText(QObject):
    """Collects streamed text for ``widget`` and hands it to ``apply`` at a pace.

    ``add`` never applies at once; ``flush`` applies what waits now (before the stream's
    final text replaces it, say), ``discard`` drops it (a new stream starts).
    """

    def __init__(
        self,
        widget: QWidget,
        apply: Callable[[str], object],
        *,
        min_interval_ms: int = MIN_INTERVAL_MS,
        share: float = GUI_SHARE,
    ) -> None:
        super().__init__(widget)
        self._widget = widget
        self._apply = apply
        self._min_interval_ms = min_interval_ms
        self._cost_factor = (1.0 - share) / share  # wait this many times an update's cost
        self._pending: list[str] = []
        self._cost_ms = 0.0
        self._timer = QTimer(self, singleShot=True)
        self._timer.timeout.connect(self._on_due)

    @property
    def pending(self) -> str:
        """The text not applied yet."""
        return "".join(self._pending)

    def add(self, text: str) -> None:
        if not text:
            return
        self._pending.append(text)
        if not self._timer.isActive():
            self._timer.start(int(max(self._min_interval_ms, self._cost_ms * self._cost_factor)))

    def flush(self) -> None:
        self._timer.stop()
        if self._pending:
            text = "".join(self._pending)
            self._pending.clear()
            self._apply(text)

    def discard(self) -> None:
        self._timer.stop()
        self._pending.clear()

    def _on_due(self) -> None:
        if not self._widget.isVisible():
            self._timer.start(HIDDEN_RECHECK_MS)
            return
        started = time.perf_counter()
        self.flush()
        self._cost_ms = (time.perf_counter() - started) * 1000
