"""Side docks that fold away when the window is too narrow for them and the centre.

A dock keeps its width whatever the window's, so on a narrow window two docks squeeze the
question and answer until their labels are cut ("w conversati"). DockFolder decides, on
every resize, which of the docks the user wants open fit beside the centre's comfortable
width, in order of priority, and folds the others away. A folded dock is one click (or
its View-menu shortcut) from open: opened while folded, it floats over the window's side
instead of taking the centre's width, and it docks again once the window is wide enough.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QObject, QPoint, QSize, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QMainWindow

# The narrowest centre the question row, the panes and the consensus figures read well in.
COMFORTABLE_CENTRE_PX = 640


class DockFolder(QObject):
    """Shows the docks the user asked for where they fit; folds the rest to toggles.

    `docks` is in order of priority: the first keeps its place longest. Each dock's
    toggle is the checkable action from `action(dock)`; its checked state is what the
    user wants, whether or not the window has room for it just now.
    """

    def __init__(self, window: QMainWindow, docks: Sequence[QDockWidget]) -> None:
        super().__init__(window)
        self.window = window
        self.docks = list(docks)
        self.wanted = {dock: True for dock in self.docks}
        self.actions: dict[QDockWidget, QAction] = {}
        self._fits_now = {dock: True for dock in self.docks}
        self._arranging = False
        for dock in self.docks:
            action = QAction(dock.windowTitle(), window, checkable=True, checked=True)
            action.setToolTip(f"Show or hide the {dock.windowTitle().lower()} panel")
            action.toggled.connect(lambda on, d=dock: self.set_wanted(d, on))
            self.actions[dock] = action
            dock.visibilityChanged.connect(lambda _shown, d=dock: self._on_visibility(d))

    def state(self) -> dict[str, bool]:
        """Which docks the user wants, by object name (saved with the window)."""
        return {dock.objectName(): self.wanted[dock] for dock in self.docks}

    def restore(self, state: dict[str, object]) -> None:
        for dock in self.docks:
            wanted = state.get(dock.objectName())
            if isinstance(wanted, bool):
                self.wanted[dock] = wanted
        self.arrange()

    def folded(self) -> list[QDockWidget]:
        """The docks the user wants that the window has no room for."""
        return [d for d in self.docks if self.wanted[d] and not self._fits_now[d]]

    def set_wanted(self, dock: QDockWidget, on: bool) -> None:
        if self._arranging:
            return
        self.wanted[dock] = on
        self.arrange(opened=dock if on else None)

    def arrange(self, opened: QDockWidget | None = None) -> None:
        """Dock what fits, fold what does not; `opened` was just asked for by the user,
        so it floats over the window if it has no room of its own."""
        self._arranging = True
        try:
            room = self.window.width() - COMFORTABLE_CENTRE_PX
            for dock in self.docks:
                width = self._width(dock)
                fits = self.wanted[dock] and width <= room
                if fits:
                    room -= width
                    dock.setFloating(False)
                    dock.show()
                elif self.wanted[dock] and dock is opened:
                    self._float_over_side(dock)
                elif not (dock.isFloating() and dock.isVisible() and self.wanted[dock]):
                    dock.hide()
                self.actions[dock].setChecked(self.wanted[dock])
                self._fits_now[dock] = fits
        finally:
            self._arranging = False

    def _width(self, dock: QDockWidget) -> int:
        # The least it needs: a dock at its minimum beats a dock folded away.
        return dock.minimumSizeHint().width()

    def _float_over_side(self, dock: QDockWidget) -> None:
        left = self.window.dockWidgetArea(dock) == Qt.DockWidgetArea.LeftDockWidgetArea
        dock.setFloating(True)
        size = QSize(max(dock.sizeHint().width(), 280), max(200, self.window.height() - 80))
        dock.resize(size)
        x = 0 if left else self.window.width() - size.width()
        dock.move(self.window.mapToGlobal(QPoint(x, 40)))
        dock.show()
        dock.raise_()

    def _on_visibility(self, dock: QDockWidget) -> None:
        # The dock's own close button hides it: the user no longer wants it.
        if self._arranging or dock.isVisible() or not self.window.isVisible():
            return
        if self.window.isMinimized():
            return
        self.wanted[dock] = False
        self._arranging = True
        try:
            self.actions[dock].setChecked(False)
        finally:
            self._arranging = False
