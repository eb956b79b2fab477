"""The main window's menus and keys: File, View, Help, and Ask / Stop anywhere.

Every key is a QAction, so Help → Keyboard shortcuts lists them from the actions
themselves and can never fall out of step with what the keys do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

if TYPE_CHECKING:
    from app.ui.main_window import MainWindow

Key = QKeySequence | QKeySequence.StandardKey | str


class WindowMenus(QObject):
    """Builds the window's menu bar; `actions` keeps them in menu order."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.actions: list[QAction] = []
        bar = window.menuBar()
        file_menu = bar.addMenu("&File")
        self.add(file_menu, "&Open model file…", QKeySequence.StandardKey.Open,
                 window.model_picker.open_file)  # fmt: skip
        self.add(file_menu, "&Manage models…", "Ctrl+M", window.models.manage_models)
        self.add(file_menu, "&Get a model…", "Ctrl+Shift+M", window.models.show_first_run)
        self.add(file_menu, "&New conversation", QKeySequence.StandardKey.New,
                 window.new_conversation)  # fmt: skip
        file_menu.addSeparator()
        self.add(file_menu, "&Quit", QKeySequence.StandardKey.Quit, window.close)
        # Ask and Stop work wherever the focus is; Enter is the keypad's key.
        self.ask = self.add(None, "Ask the question", "Ctrl+Return", window.ask)
        self.ask.setShortcuts([QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")])
        self.add(None, "Stop the answer", QKeySequence(Qt.Key.Key_Escape), window.stop)
        view_menu = bar.addMenu("&View")
        for dock, key in ((window.settings_dock, "Ctrl+,"), (window.history_dock, "Ctrl+H")):
            toggle = window.docks.actions[dock]  # opens a folded dock over the window
            toggle.setShortcut(QKeySequence(key))
            view_menu.addAction(toggle)
            self.actions.append(toggle)
        self.add(view_menu, "The &answer", "Ctrl+1", lambda: window.panes.setCurrentIndex(0))
        self.add(view_menu, "The &consensus panel", "Ctrl+2",
                 lambda: window.panes.setCurrentWidget(window.consensus_view))  # fmt: skip
        view_menu.addSeparator()
        for action in window.trace_view.confidence.actions_for_menu():  # the pane's own actions
            view_menu.addAction(action)
            self.actions.append(action)
        view_menu.addSeparator()
        self.add(view_menu, "Focus the &question", "Ctrl+L", window.question.setFocus)
        self.add(view_menu, "A&udit a claim…", "Ctrl+Shift+A", window.show_audit)
        self.add(view_menu, "&Search the history", QKeySequence.StandardKey.Find,
                 window.search_history)  # fmt: skip
        help_menu = bar.addMenu("&Help")
        self.add(help_menu, "&Keyboard shortcuts", "Ctrl+/", window.show_shortcuts)
        self.add(help_menu, "How to read the consensus &figures", QKeySequence(),
                 window.consensus_view.show_help)  # fmt: skip
        help_menu.addSeparator()
        self.add(help_menu, "&About Quorum", QKeySequence(), window.show_about)

    def add(self, menu: QMenu | None, text: str, key: Key,
            slot: Callable[[], object]) -> QAction:  # fmt: skip
        """An action in `menu`, or on the window itself (keys only) when menu is None."""
        action = QAction(text, self.window)
        action.setShortcut(QKeySequence(key))
        action.triggered.connect(slot)
        if menu is None:
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            self.window.addAction(action)
        else:
            menu.addAction(action)
        self.actions.append(action)
        return action

    def shortcut_actions(self) -> list[QAction]:
        return [a for a in self.actions if not a.shortcut().isEmpty()]
