"""One model job at a time (download, demo fetch, verify, import), and how it is going.

The first-run page and the model manager both run their jobs through this panel: it
owns the `DownloadWorker`, ignores late reports from a worker it has let go, and shows
a progress bar with Cancel, one progress line and one message line. The pages decide
what an outcome means for them; the panel only says which job ended how.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from app.core.models.progress import Progress, progress_text
from app.ui.models.download_worker import DownloadWorker, Task

ERROR_STYLE = "color: #d04040;"
BAR_STEPS = 1000  # QProgressBar holds an int; byte counts of big models overflow it


class JobPanel(QWidget):
    """Runs one job on a worker thread and shows its progress and outcome.

    Signals:
        progress_changed(str, Progress): the job's kind and its latest progress.
        job_finished(str, object): kind and result (a DownloadResult or a ModelEntry).
        job_failed(str, str, object): kind, one readable line, and the exception.
        job_cancelled(str): kind; a download keeps its partial file for resuming.
    """

    progress_changed = Signal(str, object)
    job_finished = Signal(str, object)
    job_failed = Signal(str, str, object)
    job_cancelled = Signal(str)

    def __init__(self, cancel_tip: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._worker: DownloadWorker | None = None
        self._kind = ""
        self._label = ""
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, BAR_STEPS)
        self.progress_bar.setTextVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip(cancel_tip)
        self.progress_label = QLabel("")
        self.progress_label.setTextFormat(Qt.TextFormat.PlainText)
        self.message_label = QLabel("")
        self.message_label.setTextFormat(Qt.TextFormat.PlainText)  # errors quote file names
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        bar_row = QHBoxLayout()
        bar_row.addWidget(self.progress_bar, 1)
        bar_row.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar_row)
        layout.addWidget(self.progress_label)
        layout.addWidget(self.message_label)
        for widget in (self.progress_bar, self.cancel_button, self.progress_label):
            widget.hide()
        self.message_label.hide()
        self.cancel_button.clicked.connect(self.cancel)

    @property
    def busy(self) -> bool:
        return self._worker is not None

    @property
    def worker(self) -> DownloadWorker | None:
        return self._worker

    def start(self, kind: str, task: Task, *, name: str, starting: str = "Starting…",
              label: str = "", cancellable: bool = True,
              byte_count: bool = True) -> None:  # fmt: skip
        """Run ``task``. ``label`` prefixes each progress line (which model); with
        ``byte_count`` the bar shows a fraction from the start, else it stays busy
        until the first report with a total arrives."""
        worker = DownloadWorker(task, name=name)
        worker.connect_handlers(
            self._on_progress_changed,
            self._on_download_finished,
            self._on_download_failed,
            self._on_download_cancelled,
        )
        self._worker, self._kind, self._label = worker, kind, label
        self.message_label.hide()
        self.progress_bar.setRange(0, BAR_STEPS if byte_count else 0)
        self.progress_bar.setValue(0)
        self.progress_label.setText(starting)
        self.progress_bar.show()
        self.progress_label.show()
        self.cancel_button.setVisible(cancellable)
        self.cancel_button.setEnabled(True)
        worker.start()

    def cancel(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            self.cancel_button.setEnabled(False)

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Cancel a running job and wait for its thread (True when none is left)."""
        worker = self._worker
        if worker is None:
            return True
        self._release()
        return worker.shutdown(timeout_ms)

    def show_message(self, text: str, error: bool = False) -> None:
        self.message_label.setStyleSheet(ERROR_STYLE if error else "")
        self.message_label.setText(text)
        self.message_label.setAccessibleDescription(text)
        self.message_label.show()

    def show_complete(self, text: str) -> None:
        """A full bar and a closing line, after a job that produced something."""
        self.progress_bar.setRange(0, BAR_STEPS)
        self.progress_bar.setValue(BAR_STEPS)
        self.progress_label.setText(text)

    def hide_progress(self) -> None:
        for widget in (self.progress_bar, self.progress_label, self.cancel_button):
            widget.hide()

    def _release(self) -> str:
        kind, self._worker, self._kind = self._kind, None, ""
        self.cancel_button.hide()
        return kind

    def _is_current(self) -> bool:
        # A worker let go (cancelled, shut down) may still report once; ignore it.
        return self._worker is not None and self.sender() is self._worker

    def _on_progress_changed(self, progress: Progress) -> None:
        if not self._is_current():
            return
        if progress.total > 0:
            self.progress_bar.setRange(0, BAR_STEPS)
            self.progress_bar.setValue(int(progress.fraction * BAR_STEPS))
        text = progress_text(progress)
        if text:
            self.progress_label.setText(f"{self._label}: {text}" if self._label else text)
        self.progress_changed.emit(self._kind, progress)

    def _on_download_finished(self, result: Any) -> None:
        if self._is_current():
            self.job_finished.emit(self._release(), result)

    def _on_download_failed(self, message: str) -> None:
        worker = self._worker
        if self._is_current() and worker is not None:
            self.job_failed.emit(self._release(), message, worker.error)

    def _on_download_cancelled(self) -> None:
        if self._is_current():
            self.job_cancelled.emit(self._release())
