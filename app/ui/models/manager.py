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
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.models import library
from app.core.models.download import Downloader, DownloadResult, partial_download
from app.core.models.entry import LibraryError, ModelEntry
from app.core.models.progress import Progress
from app.core.models.transfer import RetryPolicy
from app.core.settings import models_dir, set_models_dir
from app.core.units import size_pair, size_text
from app.ui.models.download_worker import (
    DownloadWorker,
    Task,
    describe_error,
    download_task,
    import_task,
    progress_text,
    verify_task,
)
from app.ui.widgets.plain_text import literal_rich_text

log = logging.getLogger(__name__)

COLUMNS = ("Name", "Size", "Quantization", "Where", "Status")
STATUS_COLUMN = COLUMNS.index("Status")
REPO_RE = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
ERROR_STYLE = "color: #d04040;"
BAR_STEPS = 1000
VERBS = {"download": "downloading", "verify": "verifying", "import": "importing"}


def partial_of(entry: ModelEntry) -> Path | None:
    if entry.available or entry.repo is None or entry.filename is None:
        return None
    return partial_download(entry.repo, entry.filename)


def status_text(entry: ModelEntry) -> str:
    """verified / demo / damaged / unverified / missing / partial (…) / not downloaded."""
    if entry.is_demo:
        return "demo"
    if entry.damaged:
        return "damaged"
    if entry.available:
        return "verified" if entry.verified else "unverified"
    if entry.location == "missing":
        return "missing"
    part = partial_of(entry)
    if part is not None:
        have = part.stat().st_size
        return f"partial ({size_pair(have, max(have, entry.size or 0))})"
    return "not downloaded"


def removal_question(entry: ModelEntry) -> str:
    """What Remove will do, in words, for the confirmation box."""
    if entry.source == "local":
        return (
            f"Forget {entry.display_name}? Quorum only forgets imported files: "
            f"{entry.path} stays on your disk."
        )
    if entry.location == "HF cache":
        return (
            f"Forget {entry.display_name}? The copy in the Hugging Face cache "
            f"({entry.path}) is left in place."
        )
    if entry.available or entry.location == "missing":
        return f"Delete {entry.display_name}? This deletes {entry.path} from your disk."
    return f"Delete the unfinished download of {entry.display_name}?"


@dataclass(frozen=True)
class _Job:
    kind: str  # "download", "verify" or "import"
    entry_id: str | None  # the row it belongs to, when it has one
    label: str


class ModelManagerDialog(QDialog):
    model_chosen = Signal(object)  # ModelEntry the user wants to use
    library_changed = Signal()  # a model was added, removed or re-checked

    def __init__(self, parent: QWidget | None = None, *, retry: RetryPolicy | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.resize(820, 480)
        self._retry = retry
        self._entries: list[ModelEntry] = []
        self._worker: DownloadWorker | None = None
        self._job: _Job | None = None
        self._build()
        self.refresh()

    # -- public -----------------------------------------------------------------------

    @property
    def entries(self) -> list[ModelEntry]:
        return list(self._entries)

    @property
    def worker(self) -> DownloadWorker | None:
        return self._worker

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
            for column, (text, tip) in enumerate(self._cells(entry)):
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
        return "" if self.message_label.isHidden() else self.message_label.text()

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Cancel a running job and wait for its thread to end."""
        worker, self._worker, self._job = self._worker, None, None
        return worker.shutdown(timeout_ms) if worker is not None else True

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

        self.repo_edit = QLineEdit()
        self.repo_edit.setPlaceholderText("owner/repository, e.g. Qwen/Qwen3-4B-GGUF")
        self.file_edit = QLineEdit()
        self.file_edit.setPlaceholderText("file name, e.g. Qwen3-4B-Q4_K_M.gguf")
        self.add_button = QPushButton("Download from hub")
        hub_box = QGroupBox("Add from the Hugging Face hub")
        hub_row = QHBoxLayout(hub_box)
        hub_row.addWidget(self.repo_edit, 2)
        hub_row.addWidget(self.file_edit, 2)
        hub_row.addWidget(self.add_button)

        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, BAR_STEPS)
        self.progress_label = QLabel("")
        self.progress_label.setTextFormat(Qt.TextFormat.PlainText)
        self.cancel_button = QPushButton("Cancel")
        footer = QHBoxLayout()
        footer.addWidget(self.progress_bar, 1)
        footer.addWidget(self.progress_label, 2)
        footer.addWidget(self.cancel_button)
        self.message_label = QLabel("")
        self.message_label.setTextFormat(Qt.TextFormat.PlainText)
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

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
        layout.addWidget(hub_box)
        layout.addLayout(footer)
        layout.addWidget(self.message_label)
        layout.addLayout(bottom)
        for widget in (self.progress_bar, self.progress_label, self.cancel_button):
            widget.hide()
        self.message_label.hide()

        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.itemDoubleClicked.connect(lambda item: self.use_selected())
        self.download_button.clicked.connect(self.download_selected)
        self.verify_button.clicked.connect(self.verify_selected)
        self.import_button.clicked.connect(self.import_file)
        self.remove_button.clicked.connect(self.remove_selected)
        self.use_button.clicked.connect(self.use_selected)
        self.add_button.clicked.connect(self.add_from_hub)
        self.repo_edit.returnPressed.connect(self.add_from_hub)
        self.file_edit.returnPressed.connect(self.add_from_hub)
        self.cancel_button.clicked.connect(self.cancel)
        self.folder_button.clicked.connect(self.choose_folder)
        close.rejected.connect(self.reject)

    def _cells(self, entry: ModelEntry) -> list[tuple[str, str]]:
        size = size_text(entry.size) if entry.size else "?"
        if not entry.available and entry.source == "catalog":
            size = f"~{size}"
        about = ""
        if entry.catalog_entry is not None:
            about = (
                f"Licence {entry.catalog_entry.license}. {entry.catalog_entry.notes.description}"
            )
        where = str(entry.path) if entry.path else (entry.repo or "")
        return [
            (entry.display_name, about.strip()),
            (size, ""),
            (entry.quantization or "?", ""),
            # "not downloaded" already shows under Status; here it would only repeat.
            (entry.location if entry.available or entry.location == "missing" else "—", where),
            (status_text(entry), ""),
        ]

    def _folder_text(self) -> str:
        text = f"New downloads go to {models_dir()}"
        if os.environ.get("QUORUM_MODELS_DIR", "").strip():
            text += " (set by QUORUM_MODELS_DIR, which overrides the choice made here)"
        return text

    def _update_buttons(self) -> None:
        entry = self.selected_entry()
        idle = self._worker is None
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
        for widget in (self.import_button, self.add_button, self.folder_button):
            widget.setEnabled(idle)

    # -- actions ------------------------------------------------------------------------

    def download_selected(self) -> None:
        entry = self.selected_entry()
        if entry is None or entry.repo is None or self._worker is not None:
            return
        glob = entry.catalog_entry.filename_glob if entry.catalog_entry else None
        self._download(entry.repo, entry.filename, glob, entry.id, entry.display_name)

    def add_from_hub(self) -> None:
        repo, filename = self.repo_edit.text().strip(), self.file_edit.text().strip()
        if not REPO_RE.match(repo):
            self._show_message("Give the repository as owner/name, e.g. Qwen/Qwen3-4B-GGUF.", True)
            return
        if not filename.lower().endswith(".gguf"):
            self._show_message("Give the name of a .gguf file in that repository.", True)
            return
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
        if entry is not None and self._worker is None:
            self._start(_Job("verify", entry.id, entry.display_name), verify_task(entry.id))

    def import_file(self) -> None:
        chosen, _ = QFileDialog.getOpenFileName(
            self, "Import a GGUF model", str(Path.home()), "GGUF models (*.gguf);;All files (*)"
        )
        if chosen and self._worker is None:
            self._start(_Job("import", None, Path(chosen).name), import_task(Path(chosen)))

    def remove_selected(self) -> None:
        entry = self.selected_entry()
        if entry is None or self._worker is not None:
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
        if self._worker is None:
            self.accept()
        else:  # closing would cancel the job the user started
            self._show_message(f"Now using {entry.display_name}; the job below continues.")

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
        if self._worker is not None:
            self._worker.cancel()
            self.cancel_button.setEnabled(False)

    # -- jobs ---------------------------------------------------------------------------

    def _start(self, job: _Job, task: Task) -> None:
        worker = DownloadWorker(task, name=f"models-{job.kind}")
        worker.connect_handlers(
            self._on_progress_changed,
            self._on_download_finished,
            self._on_download_failed,
            self._on_download_cancelled,
        )
        self._worker, self._job = worker, job
        self.message_label.hide()
        self.progress_bar.setRange(0, 0)  # busy until the first byte count arrives
        self.progress_label.setText(f"{job.kind.capitalize()}: {job.label}…")
        self.cancel_button.setEnabled(True)
        # Imports cannot stop half-way; downloads and verification can.
        self.cancel_button.setVisible(job.kind != "import")
        self.progress_bar.show()
        self.progress_label.show()
        self._update_buttons()
        worker.start()

    def _end_job(self) -> _Job | None:
        job, self._worker, self._job = self._job, None, None
        for widget in (self.progress_bar, self.progress_label, self.cancel_button):
            widget.hide()
        self.refresh()
        return job

    def _on_progress_changed(self, progress: Progress) -> None:
        if self.sender() is not self._worker or self._job is None:
            return
        if progress.total > 0:
            self.progress_bar.setRange(0, BAR_STEPS)
            self.progress_bar.setValue(int(progress.fraction * BAR_STEPS))
        text = progress_text(progress)
        if text:
            self.progress_label.setText(f"{self._job.label}: {text}")
        row = next((i for i, e in enumerate(self._entries) if e.id == self._job.entry_id), None)
        item = self.table.item(row, STATUS_COLUMN) if row is not None else None
        if item is not None and progress.total > 0:
            verb = "checking" if progress.phase == "checking" else VERBS[self._job.kind]
            item.setText(f"{verb} {progress.fraction:.0%}")

    def _on_download_finished(self, result: Any) -> None:
        if self.sender() is not self._worker:
            return
        job = self._end_job()
        if isinstance(result, DownloadResult):
            self.select(result.entry_id)
            self._show_message(f"{result.filename} downloaded and verified ({result.path}).")
        elif isinstance(result, ModelEntry) and job is not None and job.kind == "verify":
            self._show_message(f"{result.display_name} matches its recorded checksum.")
        elif isinstance(result, ModelEntry):
            self.select(result.id)
            self._show_message(f"Added {result.display_name}; the file stays where it is.")
        self.library_changed.emit()

    def _on_download_failed(self, message: str) -> None:
        if self.sender() is not self._worker:
            return
        job = self._end_job()
        self._show_message(message, error=True)
        if job is not None and job.kind == "verify":
            self.library_changed.emit()  # a failed check marks the model damaged

    def _on_download_cancelled(self) -> None:
        if self.sender() is not self._worker:
            return
        job = self._end_job()
        resumable = job is not None and job.kind == "download"
        kept = " What arrived is kept: Resume download picks it up." if resumable else ""
        self._show_message(f"Cancelled.{kept}")

    def _show_message(self, text: str, error: bool = False) -> None:
        self.message_label.setStyleSheet(ERROR_STYLE if error else "")
        self.message_label.setText(text)
        self.message_label.setAccessibleDescription(text)
        self.message_label.show()
