"""The model manager: every model Quorum knows, and what can be done with each.

The table is rebuilt from `library.list_models()` after every change, so it always
shows the disk as it is. Downloads, verification and imports run one at a time on a
`DownloadWorker`; its progress appears in the model's row and in the footer, where
it can be cancelled. Closing the dialog cancels a running job and waits for its
thread (a download keeps its partial file for resuming). Removing is quick and runs
on the GUI thread. Errors land in the footer as one readable line.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.models import library
from app.core.models.download import Downloader, DownloadResult
from app.core.models.entry import (
    LibraryError,
    ModelEntry,
    partial_of,
    removal_question,
    table_cells,
)
from app.core.models.progress import Progress, describe_error
from app.core.models.transfer import RetryPolicy
from app.core.settings import models_dir, set_models_dir
from app.ui.models.download_worker import (
    DownloadWorker,
    Task,
    download_task,
    import_task,
    verify_task,
)
from app.ui.models.hub_form import HubFileForm
from app.ui.models.hub_search import HubSearchPanel
from app.ui.models.job_panel import JobPanel
from app.ui.models.model_name import entry_name, name_cell
from app.ui.widgets.plain_text import literal_rich_text

log = logging.getLogger(__name__)

COLUMNS = ("Name", "Size", "Quantization", "Where", "Status")
STATUS_COLUMN = COLUMNS.index("Status")
VERBS = {"download": "downloading", "verify": "verifying", "import": "importing"}


@dataclass(frozen=True)
class _Job:
    """What the running job is for: its kind, the model row it belongs to, its label."""

    kind: str  # "download", "verify" or "import"
    entry_id: str | None  # the row it belongs to, when it has one
    label: str


class ModelManagerDialog(QDialog):
    """Every model Quorum knows, with download, verify, import and remove.

    Signals:
        model_chosen(ModelEntry): the user wants to use this model.
        library_changed(): a model was added, removed or re-checked.
    """

    model_chosen = Signal(object)  # ModelEntry the user wants to use
    library_changed = Signal()  # a model was added, removed or re-checked

    def __init__(self, parent: QWidget | None = None, *, retry: RetryPolicy | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.resize(820, 480)
        self._retry = retry
        self._entries: list[ModelEntry] = []
        self.job = JobPanel("Stop the job; a download keeps what arrived for resuming")
        self._job: _Job | None = None  # what the running job is for: its row and label
        self._build()
        self.refresh()

    # -- public -----------------------------------------------------------------------

    @property
    def entries(self) -> list[ModelEntry]:
        return list(self._entries)

    @property
    def worker(self) -> DownloadWorker | None:
        return self.job.worker

    def refresh(self) -> None:
        """List the library again, keeping the selected model selected."""
        keep = self.selected_entry()
        try:
            self._entries = library.list_models()
        except Exception as exc:  # a damaged model index must not close the dialog
            log.exception("could not list models")
            self._entries = []
            self._show_message(f"Could not list your models: {exc}", error=True)
        self.table.setRowCount(len(self._entries))
        for row, entry in enumerate(self._entries):
            cells = table_cells(entry)  # the name as the window title gives it
            for column, (text, tip) in enumerate([name_cell(entry, cells[0][1]), *cells[1:]]):
                item = QTableWidgetItem(text)
                item.setToolTip(literal_rich_text(tip))  # paths are the user's file names
                self.table.setItem(row, column, item)
        if keep is not None:
            self.select(keep.id)
        self.folder_label.setText(self._folder_text())
        self._update_buttons()

    def select(self, model_id: str) -> bool:
        for row, entry in enumerate(self._entries):
            if entry.id == model_id:
                self.table.selectRow(row)
                return True
        return False

    def selected_entry(self) -> ModelEntry | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows or rows[0].row() >= len(self._entries):
            return None
        return self._entries[rows[0].row()]

    def message(self) -> str:
        label = self.job.message_label
        return "" if label.isHidden() else label.text()

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Cancel a running job and wait for its thread to end."""
        self._job = None
        return self.job.shutdown(timeout_ms)

    def done(self, result: int) -> None:
        # Every way out (Close, Esc, the window's X, Use this model) ends here.
        self.shutdown()
        super().done(result)

    # -- construction -------------------------------------------------------------------

    def _build(self) -> None:
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.setAccessibleName("Models")

        self.download_button = QPushButton("Download")
        self.verify_button = QPushButton("Verify")
        self.verify_button.setToolTip("Re-check the file's bytes against its recorded sha256")
        self.import_button = QPushButton("Import .gguf…")
        self.import_button.setToolTip("Add a GGUF file you already have (it is not copied)")
        self.remove_button = QPushButton("Remove")
        self.use_button = QPushButton("Use this model")
        self.use_button.setDefault(True)
        actions = QHBoxLayout()
        for button in (self.download_button, self.verify_button, self.import_button,
                       self.remove_button):  # fmt: skip
            actions.addWidget(button)
        actions.addStretch(1)
        actions.addWidget(self.use_button)

        self.hub_form = HubFileForm()
        self.hub_search = HubSearchPanel()

        self.folder_label = QLabel("")
        self.folder_label.setTextFormat(Qt.TextFormat.PlainText)
        self.folder_label.setWordWrap(True)
        self.folder_button = QPushButton("Models folder…")
        self.folder_button.setToolTip("Choose where new downloads go")
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        bottom = QHBoxLayout()
        bottom.addWidget(self.folder_label, 1)
        bottom.addWidget(self.folder_button)
        bottom.addWidget(close)

        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(actions)
        layout.addWidget(self.hub_search)
        layout.addWidget(self.hub_form)
        layout.addWidget(self.job)
        layout.addLayout(bottom)

        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.itemDoubleClicked.connect(lambda item: self.use_selected())
        self.download_button.clicked.connect(self.download_selected)
        self.verify_button.clicked.connect(self.verify_selected)
        self.import_button.clicked.connect(self.import_file)
        self.remove_button.clicked.connect(self.remove_selected)
        self.use_button.clicked.connect(self.use_selected)
        self.hub_form.requested.connect(self.add_from_hub)
        self.hub_search.download_requested.connect(self.add_from_hub)
        self.hub_form.refused.connect(lambda problem: self._show_message(problem, True))
        self.job.progress_changed.connect(self._on_progress_changed)
        self.job.job_finished.connect(self._on_job_finished)
        self.job.job_failed.connect(self._on_job_failed)
        self.job.job_cancelled.connect(self._on_job_cancelled)
        self.folder_button.clicked.connect(self.choose_folder)
        close.rejected.connect(self.reject)

    def _folder_text(self) -> str:
        text = f"New downloads go to {models_dir()}"
        if os.environ.get("QUORUM_MODELS_DIR", "").strip():
            text += " (set by QUORUM_MODELS_DIR, which overrides the choice made here)"
        return text

    def _update_buttons(self) -> None:
        entry = self.selected_entry()
        idle = not self.job.busy
        has_partial = entry is not None and partial_of(entry) is not None
        fetchable = (
            entry is not None
            and entry.repo is not None
            and not entry.is_demo
            and (not entry.available or entry.damaged or entry.sha256 is None)
        )
        self.download_button.setEnabled(idle and fetchable)
        if entry is not None and entry.available and entry.sha256 is None:
            self.download_button.setText("Check and add")  # a copy in the HF cache
        else:
            self.download_button.setText("Resume download" if has_partial else "Download")
        can_verify = entry is not None and entry.available and (entry.sha256 or entry.is_demo)
        self.verify_button.setEnabled(idle and bool(can_verify))
        removable = entry is not None and (
            (entry.is_demo and entry.available)
            or entry.sha256 is not None
            or entry.location == "missing"
            or has_partial
        )
        self.remove_button.setEnabled(idle and removable)
        self.use_button.setEnabled(entry is not None and entry.available and not entry.damaged)
        for widget in (self.import_button, self.hub_form.add_button, self.folder_button):
            widget.setEnabled(idle)

    # -- actions ------------------------------------------------------------------------

    def download_selected(self) -> None:
        entry = self.selected_entry()
        if entry is None or entry.repo is None or self.job.busy:
            return
        glob = entry.catalog_entry.filename_glob if entry.catalog_entry else None
        self._download(entry.repo, entry.filename, glob, entry.id, entry.display_name)

    def add_from_hub(self, repo: str, filename: str) -> None:
        self._download(repo, filename, None, None, f"{repo}/{filename}")

    def _download(
        self, repo: str, filename: str | None, glob: str | None, entry_id: str | None, label: str
    ) -> None:
        try:
            downloader = Downloader(
                repo, filename, filename_glob=glob, entry_id=entry_id, retry=self._retry
            )
        except ValueError as exc:
            self._show_message(describe_error(exc), error=True)
            return
        self._start(_Job("download", entry_id, label), download_task(downloader))

    def verify_selected(self) -> None:
        entry = self.selected_entry()
        if entry is not None and not self.job.busy:
            self._start(_Job("verify", entry.id, entry.display_name), verify_task(entry.id))

    def import_file(self) -> None:
        chosen, _ = QFileDialog.getOpenFileName(
            self, "Import a GGUF model", str(Path.home()), "GGUF models (*.gguf);;All files (*)"
        )
        if chosen and not self.job.busy:
            self._start(_Job("import", None, Path(chosen).name), import_task(Path(chosen)))

    def remove_selected(self) -> None:
        entry = self.selected_entry()
        if entry is None or self.job.busy:
            return
        text = literal_rich_text(removal_question(entry))  # a GGUF name: never HTML
        answer = QMessageBox.question(self, "Remove model", text)
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            done = library.remove(entry.id)
        except (LibraryError, OSError) as exc:
            self._show_message(describe_error(exc), error=True)
        else:
            self._show_message(done[0].upper() + done[1:] + ".")
            self.library_changed.emit()
        self.refresh()

    def use_selected(self) -> None:
        entry = self.selected_entry()
        if entry is None or not entry.available or entry.damaged:
            return
        self.model_chosen.emit(entry)
        if not self.job.busy:
            self.accept()
        else:  # closing would cancel the job the user started
            self._show_message(f"Now using {entry_name(entry)}; the job below continues.")

    def choose_folder(self) -> None:
        chosen = QFileDialog.getExistingDirectory(
            self, "Folder for new downloads", str(models_dir())
        )
        if not chosen:
            return
        try:
            set_models_dir(Path(chosen))
        except OSError as exc:
            self._show_message(describe_error(exc), error=True)
            return
        self.refresh()
        self._show_message(self._folder_text() + ". Models already downloaded stay where they are.")

    def cancel(self) -> None:
        self.job.cancel()

    # -- jobs ---------------------------------------------------------------------------

    def _start(self, job: _Job, task: Task) -> None:
        self._job = job
        # Imports cannot stop half-way; downloads and verification can. The bar stays
        # busy until the first byte count arrives.
        self.job.start(job.kind, task, name=f"models-{job.kind}", label=job.label,
                       starting=f"{job.kind.capitalize()}: {job.label}…",
                       cancellable=job.kind != "import", byte_count=False)  # fmt: skip
        self._update_buttons()

    def _end_job(self) -> _Job | None:
        job, self._job = self._job, None
        self.job.hide_progress()
        self.refresh()
        return job

    def _on_progress_changed(self, _kind: str, progress: Progress) -> None:
        job = self._job
        if job is None or progress.total <= 0:
            return
        row = next((i for i, e in enumerate(self._entries) if e.id == job.entry_id), None)
        item = self.table.item(row, STATUS_COLUMN) if row is not None else None
        if item is not None:
            verb = "checking" if progress.phase == "checking" else VERBS[job.kind]
            item.setText(f"{verb} {progress.fraction:.0%}")

    def _on_job_finished(self, kind: str, result: Any) -> None:
        self._end_job()
        if isinstance(result, DownloadResult):
            self.select(result.entry_id)
            self._show_message(f"{result.filename} downloaded and verified ({result.path}).")
        elif isinstance(result, ModelEntry) and kind == "verify":
            self._show_message(f"{entry_name(result)} matches its recorded checksum.")
        elif isinstance(result, ModelEntry):
            self.select(result.id)
            self._show_message(f"Added {entry_name(result)}; the file stays where it is.")
        self.library_changed.emit()

    def _on_job_failed(self, kind: str, message: str, _error: object) -> None:
        self._end_job()
        self._show_message(message, error=True)
        if kind == "verify":
            self.library_changed.emit()  # a failed check marks the model damaged

    def _on_job_cancelled(self, kind: str) -> None:
        self._end_job()
        kept = " What arrived is kept: Resume download picks it up." if kind == "download" else ""
        self._show_message(f"Cancelled.{kept}")

    def _show_message(self, text: str, error: bool = False) -> None:
        self.job.show_message(text, error)
