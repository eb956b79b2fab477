"""The window's models, offscreen: first run with nothing on disk, the demo notice, the
model manager, and closing mid-download. The real SmolLM2 model loads where marked."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox
from pytestqt.qtbot import QtBot

from app.core.models import catalog, demo_model, library
from app.core.models.catalog import CatalogEntry, CatalogNotes
from app.core.models.download import partial_download
from app.ui.main_window import MainWindow
from app.ui.models.controller import DEMO_NOTICE, GET_REAL_MODEL, is_demo_model
from app.ui.models.download_worker import active_workers
from app.ui.models.first_run import DEMO_OFFER
from tests.hubserver import HubServer, small_gguf

pytestmark = pytest.mark.gui

LOAD_TIMEOUT_MS = 30_000
WAIT_MS = 15_000
REPO, FILE, SIZE = "acme/Tiny-GGUF", "tiny-Q4_K_M.gguf", 3_000_000
TINY = CatalogEntry(
    id="tiny", display_name="Tiny Test Model (Q4_K_M)", repo=REPO, filename=FILE,
    approx_size=SIZE, license="apache-2.0", quantization="Q4_K_M", family="llama",
    default=True, notes=CatalogNotes(description="A small file the stand-in hub serves."),
)  # fmt: skip


def python_threads(before: set[threading.Thread]) -> list[threading.Thread]:
    """Python threads started since ``before``, leaving out Qt's and the stand-in hub's."""
    return [
        t
        for t in threading.enumerate()
        if t is not threading.main_thread()
        and not isinstance(t, threading._DummyThread)
        and "process_request_thread" not in t.name  # the hub's own request handlers
        and t not in before
    ]


@pytest.fixture(autouse=True)
def no_worker_or_box_left(qtbot: QtBot, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def fail(_parent: object, title: str, text: str, *args: object) -> None:
        raise AssertionError(f"unexpected message box {title!r}: {text}")

    monkeypatch.setattr(QMessageBox, "warning", fail)
    monkeypatch.setattr(QMessageBox, "critical", fail)
    yield
    try:
        qtbot.waitUntil(lambda: not active_workers(), timeout=5000)
    finally:
        left = active_workers()
        for worker in left:
            worker.shutdown(10_000)
    assert not left


@pytest.fixture
def window(qtbot: QtBot) -> Iterator[MainWindow]:
    threads_before = set(threading.enumerate())
    window = MainWindow()
    qtbot.addWidget(window)
    # One thread: llama.cpp's threads spin-wait on each other (see test_ui_main_window).
    window.settings_panel.threads_spin.setValue(1)
    window.resize(1100, 760)
    window.show()
    yield window
    window.close()
    assert not window.session.inference.qthread.isRunning()
    assert python_threads(threads_before) == []


def install_demo(source: Path, copy: bool = False) -> Path:
    """Make the demo model "cached" where demo_model.fetch finds it: no PyPI needed."""
    target = library.demo_dir() / demo_model.FILENAME
    target.parent.mkdir(parents=True, exist_ok=True)
    if copy:  # a file of its own, so the source does not count as the demo
        shutil.copyfile(source, target)
    else:
        target.symlink_to(source)
    return target


def file_action(window: MainWindow, text: str) -> QAction:
    menu = window.menuBar().actions()[0].menu()
    for action in menu.actions():
        if action.text().replace("&", "") == text:
            return action
    raise AssertionError(f"no {text!r} in the File menu")


def showing(window: MainWindow) -> str:
    current = window.views.currentWidget()
    if current is window.questions_page:
        return "questions"
    return "first run" if current is window.models.first_run_page else "?"


@pytest.mark.model
def test_first_run_offline_offers_the_demo_and_it_loads_labelled(
    window: MainWindow, qtbot: QtBot, test_model_path: Path
) -> None:
    window.start()  # nothing on disk, and HF_HUB_OFFLINE=1
    page, panel = window.models.first_run_page, window.models.first_run_panel
    assert page is not None and panel is not None
    assert showing(window) == "first run" and page.isVisible()
    assert not window.question.isVisible()
    assert "Welcome to Quorum" in page.heading.text()
    assert "No model yet" in window.banner.text()
    assert panel.demo_hint.isVisible() and panel.demo_button.text() == DEMO_OFFER
    assert panel.demo_button.isDefault()  # offline: the demo is the way forward
    assert not window.demo_notice.isVisible()

    demo = install_demo(test_model_path)
    with qtbot.waitSignal(window.session.model_loaded, timeout=LOAD_TIMEOUT_MS) as loaded:
        panel.demo_button.click()
    assert loaded.args[0].path == demo
    assert showing(window) == "questions" and window.question.isVisible()
    assert window.demo_notice.isVisible()
    assert window.demo_notice.label.text() == DEMO_NOTICE
    assert "answers will be poor" in DEMO_NOTICE and "SmolLM2 135M" in DEMO_NOTICE
    assert window.demo_notice.get_button.text() == GET_REAL_MODEL
    assert window.banner.text() == ""
    assert window.model_picker.current_path() == demo
    assert window.window_settings.last_model() == demo
    assert window.ask_button.isEnabled()

    # The notice offers the real model: the panel again, its download button ready.
    window.demo_notice.get_button.click()
    assert showing(window) == "first run" and "Get a model" in page.heading.text()
    assert panel.download_button.isVisible()
    assert panel.download_button.text().startswith("Download (")
    assert window.demo_notice.isVisible()  # still the model in use
    page.back_button.click()
    assert showing(window) == "questions"
    file_action(window, "Get a model…").trigger()  # reachable from the menu too
    assert showing(window) == "first run"


@pytest.mark.model
def test_the_demo_notice_is_back_at_the_next_start_and_goes_with_the_demo(
    window: MainWindow, qtbot: QtBot, test_model_path: Path
) -> None:
    demo = install_demo(test_model_path, copy=True)
    assert library.default_model() is not None  # the demo is all there is: it is the default
    with qtbot.waitSignal(window.session.model_loaded, timeout=LOAD_TIMEOUT_MS) as loaded:
        window.start()
    assert loaded.args[0].path == demo
    assert showing(window) == "questions" and window.models.first_run_page is None
    assert window.demo_notice.isVisible()

    assert not is_demo_model(test_model_path)  # the same bytes elsewhere are not "the demo"
    with qtbot.waitSignal(window.session.model_loaded, timeout=LOAD_TIMEOUT_MS):
        window.open_model(test_model_path)
    assert not window.demo_notice.isVisible()


@pytest.mark.model
def test_manage_models_imports_and_opens_a_model(
    window: MainWindow, qtbot: QtBot, test_model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    window.start()
    assert showing(window) == "first run"
    action = file_action(window, "Manage models…")
    assert action.shortcut().toString() == "Ctrl+M"
    action.trigger()
    dialog = window.models.manager
    assert dialog is not None and dialog.isVisible() and dialog.isModal()

    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(test_model_path), ""))
    with qtbot.waitSignal(dialog.library_changed, timeout=WAIT_MS):
        dialog.import_button.click()
    assert window.model_picker.set_current(test_model_path)  # the picker was refreshed
    entry = dialog.selected_entry()
    assert entry is not None and entry.path == test_model_path

    with qtbot.waitSignal(window.session.model_loaded, timeout=LOAD_TIMEOUT_MS) as loaded:
        dialog.use_button.click()
    assert loaded.args[0].path == test_model_path
    assert dialog.result() == QDialog.DialogCode.Accepted and not dialog.isVisible()
    assert showing(window) == "questions"
    assert window.model_picker.current_path() == test_model_path
    assert not window.demo_notice.isVisible()

    file_action(window, "Manage models…").trigger()  # again: the same dialog, up to date
    assert window.models.manager is dialog and dialog.isVisible()
    chosen = dialog.selected_entry()
    assert chosen is not None and chosen.path == test_model_path  # the model in use
    dialog.reject()


def test_closing_the_window_mid_first_run_download_leaves_no_thread(
    hub: HubServer, window: MainWindow, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The hub comes first, so its server threads predate the window's count.
    hub.add_file(REPO, FILE, small_gguf(SIZE))
    monkeypatch.setattr(catalog, "load_catalog", lambda path=None: (TINY,))
    window.start()
    panel = window.models.first_run_panel
    assert panel is not None and showing(window) == "first run"
    assert not panel.demo_hint.isVisible()  # the hub answers: the download comes first
    hub.faults.throttle = 500_000
    panel.download_button.click()
    worker = panel.worker
    assert worker is not None
    qtbot.waitUntil(lambda: panel.job.progress_bar.value() > 0, timeout=WAIT_MS)
    started = time.monotonic()
    window.close()
    assert time.monotonic() - started < 5
    assert not worker.is_running() and worker.qthread.isFinished()
    assert not active_workers()
    assert partial_download(REPO, FILE) is not None  # kept, to resume next time
    assert window.session.inference.qthread.isFinished()
