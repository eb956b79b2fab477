"""Start-up pieces: command-line options, theme, and the last-resort error dialog."""

from __future__ import annotations

import logging
import sys
import threading

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from app.ui.app import ExceptionReporter, GuiUsageError, apply_theme, parse_gui_args, run_gui

pytestmark = pytest.mark.gui


def test_parse_gui_args() -> None:
    assert parse_gui_args([]) == (None, [])
    assert parse_gui_args(["--gui-theme=Dark", "-style", "fusion"]) == (
        "dark",
        ["-style", "fusion"],
    )
    with pytest.raises(GuiUsageError, match="dark or light"):
        parse_gui_args(["--gui-theme=purple"])
    with pytest.raises(GuiUsageError, match="unknown option"):
        parse_gui_args(["--gui-colour=red"])


def test_bad_option_is_a_message_not_a_crash(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_gui(["--gui-theme=purple"]) == 2
    assert "dark or light" in capsys.readouterr().err


def test_forced_themes_change_the_palette(qapp: QApplication) -> None:
    original_palette, original_style = qapp.palette(), qapp.style().name()
    try:
        apply_theme(qapp, "dark")
        assert qapp.palette().color(QPalette.ColorRole.Base).lightness() < 128
        apply_theme(qapp, "light")
        assert qapp.palette().color(QPalette.ColorRole.Base).lightness() > 128
    finally:
        qapp.setStyle(original_style)
        qapp.setPalette(original_palette)


def test_unhandled_exception_is_logged_and_shown_not_fatal(
    qtbot: QtBot, caplog: pytest.LogCaptureFixture
) -> None:
    window = QWidget()
    qtbot.addWidget(window)
    reporter = ExceptionReporter(window, None)
    saved_hooks = sys.excepthook, threading.excepthook
    reporter.install()
    try:
        try:
            raise RuntimeError("disk on fire")
        except RuntimeError:
            sys.excepthook(*sys.exc_info())  # type: ignore[arg-type]
        qtbot.waitUntil(lambda: len(reporter.dialogs) == 1, timeout=2000)
        box = reporter.dialogs[0]
        assert "RuntimeError: disk on fire" in box.text()
        assert "Traceback" not in box.text()
        logged = [r.exc_info[1] for r in caplog.records if r.exc_info and r.exc_info[1]]
        assert [str(e) for e in logged] == ["disk on fire"]  # with its traceback, in the log
        # From another thread the dialog still appears, on the GUI thread.
        worker = threading.Thread(target=lambda: 1 / 0)
        worker.start()
        worker.join(timeout=5)
        qtbot.waitUntil(lambda: len(reporter.dialogs) == 2, timeout=2000)
        assert "ZeroDivisionError" in reporter.dialogs[1].text()
        for dialog in list(reporter.dialogs):
            dialog.done(QMessageBox.StandardButton.Ok)
        assert reporter.dialogs == []
    finally:
        sys.excepthook, threading.excepthook = saved_hooks


def test_run_gui_opens_the_window_and_returns_when_it_closes(
    qapp: QApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.ui.main_window import MainWindow

    seen: list[MainWindow] = []

    def close_window() -> None:
        windows = [w for w in qapp.topLevelWidgets() if isinstance(w, MainWindow)]
        seen.extend(windows)
        for window in windows:
            window.close()

    root = logging.getLogger()
    handlers, palette, style = list(root.handlers), qapp.palette(), qapp.style().name()
    QTimer.singleShot(300, close_window)
    try:
        assert run_gui(["--gui-theme=dark"]) == 0
    finally:
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
                handler.close()
        qapp.setStyle(style)
        qapp.setPalette(palette)
    assert len(seen) == 1
    assert "No model yet" in seen[0].banner.text()  # first start, nothing downloaded
    assert seen[0].session.inference.qthread.isFinished()
    assert sys.excepthook is sys.__excepthook__
