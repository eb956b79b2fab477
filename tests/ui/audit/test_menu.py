"""The Audit window is one menu entry and one key away from the main window."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QKeySequence
from pytestqt.qtbot import QtBot

from app.ui.main_window import MainWindow

pytestmark = pytest.mark.gui


def test_view_menu_opens_the_audit_window_once(qtbot: QtBot) -> None:
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    (action,) = [a for a in window.menus.actions if a.text() == "A&udit a claim…"]
    assert action.shortcut() == QKeySequence("Ctrl+Shift+A")
    assert action in window.menus.shortcut_actions(), "listed in Help → Keyboard shortcuts"
    action.trigger()
    audit = window.audit_window
    assert audit is not None and audit.isVisible() and audit.isWindow()
    assert audit.windowTitle() == "Quorum — Audit a claim"
    action.trigger()
    assert window.audit_window is audit, "the same window, raised again"
    window.close()
