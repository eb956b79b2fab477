"""Help menu: the keyboard shortcuts (read from the actions), the figures' help, About."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtGui import QAction
from pytestqt.qtbot import QtBot

from app import __version__
from app.core import paths
from app.ui.main_window import MainWindow
from app.ui.widgets.shortcuts import ShortcutsDialog

pytestmark = pytest.mark.gui


@pytest.fixture
def window(qtbot: QtBot) -> Iterator[MainWindow]:
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    yield window
    window.close()


def help_actions(window: MainWindow) -> dict[str, QAction]:
    menus = [a.menu() for a in window.menuBar().actions()]
    help_menu = next(m for m in menus if m is not None and m.title() == "&Help")
    return {a.text().replace("&", ""): a for a in help_menu.actions() if a.text()}


def test_help_menu_offers_shortcuts_figures_and_about(window: MainWindow) -> None:
    assert list(help_actions(window)) == [
        "Keyboard shortcuts", "How to read the consensus figures", "About Quorum"
    ]  # fmt: skip


def test_shortcuts_list_every_key_the_window_answers_to(window: MainWindow) -> None:
    help_actions(window)["Keyboard shortcuts"].trigger()
    dialogs = window.findChildren(ShortcutsDialog)
    assert len(dialogs) == 1 and dialogs[0].isVisible()
    dialog = dialogs[0]
    rows = {what: keys for keys, what in dialog.rows()}
    assert rows["Ask the question"] == "Ctrl+Return or Ctrl+Enter"
    assert rows["Stop the answer"] == "Esc"
    assert rows["Open model file"] == "Ctrl+O"
    assert rows["History"] == "Ctrl+H" and rows["Settings"] == "Ctrl+,"
    assert rows["The consensus panel"] == "Ctrl+2"
    # Read from the actions: a key added to a menu is listed without touching the dialog.
    listed = {keys for keys, _ in dialog.rows()}
    for action in window.menus.shortcut_actions():
        assert any(action.shortcut().toString() in keys for keys in listed), action.text()


def test_figures_help_and_about(window: MainWindow) -> None:
    actions = help_actions(window)
    actions["How to read the consensus figures"].trigger()
    help_dialog = window.consensus_view.help_dialog
    assert help_dialog is not None and help_dialog.isVisible()
    box = window.show_about()
    text = box.text()
    assert f"Quorum {__version__}" in text
    assert "llama-cpp-python 0.3" in text and "llama.cpp on this CPU" in text
    for folder in (paths.models_dir(), paths.data_dir(), paths.config_dir()):
        assert str(folder) in text
    assert "Licences" in text and "LGPL" in text
    box.close()
