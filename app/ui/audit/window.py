"""The Audit window: check a self-consistency claim on a question set, as `quorum audit` does.

A window of its own (View → Audit a claim…, Ctrl+Shift+A), not a tab of the main window:
an audit is a long job with its own dozen inputs and a table that wants the full height,
and it loads its own models on its own thread (app.ui.audit.worker), so the conversation
stays as it was, and the main window's layout is left alone.

Samples are saved as they finish in the samples folder, in a file named after the set and
the settings (app.ui.audit.inputs.samples_file). When that file holds some of an audit's
samples, Start reads "Resume": the runner keeps what was saved and draws the rest with the
same seeds, and the table shows the saved conditions at once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.core import paths
from app.core.audit.job import AuditProgress
from app.core.audit.questions import QuestionSetError, load_question_set
from app.core.audit.results import QuestionResult
from app.core.inference.sampling import RuntimeParams
from app.core.models import library
from app.core.units import eta_text
from app.ui.audit.charts import AuditCharts
from app.ui.audit.export import HTML, JSON, KINDS, MARKDOWN, ask_path, write_report
from app.ui.audit.form import AuditForm
from app.ui.audit.inputs import AuditInputError, AuditPlan, check_inputs
from app.ui.audit.summary import summary_text
from app.ui.audit.table import AuditTable
from app.ui.audit.worker import AuditThread, AuditWorker, saved_count

OFFER_DELAY_MS = 250
SUMMARY_PLACEHOLDER = "The set's figures appear here when the audit is done."


def default_folder() -> Path:
    return paths.data_dir() / "audits"


def library_models() -> list[tuple[Path, str]]:
    """The models on disk, as the model manager lists them (path, name)."""
    try:
        entries = library.list_models()
    except Exception:  # a damaged index: the window still opens, with no model listed
        return []
    return [(Path(e.path), e.display_name) for e in entries if e.available and e.path]


class AuditWindow(QWidget):
    """Inputs, Start/Resume and Cancel, progress with an ETA, the live table, the summary
    and the report exports.

    Signals:
        audit_started(): a run began on the audit thread.
        audit_ended(str): the run is over: "finished", "cancelled" or "failed".
        exported(str): a report was written; the payload is its path.
    """

    audit_started = Signal()
    audit_ended = Signal(str)
    exported = Signal(str)

    def __init__(self, runtime: Callable[[], RuntimeParams] = RuntimeParams,
                 current_model: Callable[[], Path | None] = lambda: None,
                 folder: Path | None = None, parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle("Quorum — Audit a claim")
        self.setMinimumSize(720, 480)
        self.runtime = runtime
        self.current_model = current_model
        self.folder = folder or default_folder()
        self.form = AuditForm()
        self.start_button = QPushButton("&Start")
        self.cancel_button = QPushButton("Ca&ncel")
        self.cancel_button.setToolTip("Stop after the sample in flight; the saved ones stay")
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m samples")
        self.progress.setAccessibleName("Audit progress")
        self.status_label = QLabel("")
        self.status_label.setTextFormat(Qt.TextFormat.PlainText)
        self.status_label.setWordWrap(True)
        self.folder_label = QLabel("")
        self.folder_label.setTextFormat(Qt.TextFormat.PlainText)
        self.folder_label.setWordWrap(True)
        self.folder_button = QPushButton("Samples &folder…")
        self.table = AuditTable()
        self.summary = QPlainTextEdit()
        self.summary.setReadOnly(True)
        self.summary.setAccessibleName("Audit summary")
        self.summary.setPlaceholderText(SUMMARY_PLACEHOLDER)
        self.charts = AuditCharts()
        self.export_buttons = {kind: QPushButton(KINDS[kind][0]) for kind in (HTML, JSON, MARKDOWN)}
        self._build_layout()
        self._thread: AuditThread | None = None
        self._plan: AuditPlan | None = None
        self._names: dict[str, str] = {}
        self._data: dict[str, Any] | None = None
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.folder_button.clicked.connect(self._on_folder_clicked)
        # The offer reads the samples file, which can be megabytes: once typing pauses,
        # not on every key.
        self._offer_timer = QTimer(self)
        self._offer_timer.setSingleShot(True)
        self._offer_timer.setInterval(OFFER_DELAY_MS)
        self._offer_timer.timeout.connect(self.refresh_offer)
        self.form.changed.connect(self._offer_timer.start)
        self.form.set_combo.currentIndexChanged.connect(self._on_set_chosen)
        for kind, button in self.export_buttons.items():
            button.clicked.connect(lambda _=False, k=kind: self.export(k))
        self.refresh_models()
        self._set_running(False)

    # -- state others may read --------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._thread is not None

    @property
    def report_data(self) -> dict[str, Any] | None:
        return self._data

    @property
    def worker(self) -> AuditWorker | None:
        """The running audit's worker (its signals), None between audits."""
        return self._thread.worker if self._thread is not None else None

    # -- commands -----------------------------------------------------------------------------
    def refresh_models(self) -> None:
        self.form.set_models(library_models(), self.current_model())

    def refresh_offer(self) -> int:
        """Start, or Resume when the samples file of these settings holds some samples
        (Show results when it holds them all); returns how many it holds."""
        self.folder_label.setText(f"Samples are saved as they finish in {self.folder}")
        if self.running:
            return 0
        try:
            plan = check_inputs(self.form.inputs(), self.folder)
        except AuditInputError:
            self.start_button.setText("&Start")
            return 0  # said when Start is pressed, not while the user is still typing
        saved, total = saved_count(plan), plan.config.total_samples
        if not saved:
            self.start_button.setText("&Start")
            self.start_button.setToolTip(f"Draw {total} samples")
        elif saved < total:
            self.start_button.setText(f"&Resume ({saved} of {total} saved)")
            self.start_button.setToolTip("Continue the unfinished audit with the same seeds")
        else:
            self.start_button.setText("&Show saved results")
            self.start_button.setToolTip("Every sample of these settings is saved")
        return saved

    def start(self) -> bool:
        """Check the entries and run the audit on its thread; False when refused (the
        reason is under the form) or already running."""
        if self.running:
            return False
        try:
            plan = check_inputs(self.form.inputs(), self.folder)
        except AuditInputError as exc:
            self.form.show_error(str(exc))
            return False
        self.form.show_error(None)
        self._plan, self._data, self._names = plan, None, {}
        self.table.clear_rows()
        config = plan.config
        self.table.show_conditions(len(config.models), len(config.temperatures),
                                   len(config.think_budgets))  # fmt: skip
        self.summary.clear()
        self.charts.clear()
        self.progress.setRange(0, plan.config.total_samples)
        self.progress.setValue(0)
        self.status_label.setText("Loading the model…")
        thread = AuditThread(plan, self.runtime(), parent=self)
        worker = thread.worker
        worker.model_started.connect(self._on_model_started)
        worker.progressed.connect(self._on_progressed)
        worker.question_done.connect(self._on_question_done)
        worker.finished.connect(self._on_finished)
        worker.cancelled.connect(self._on_cancelled)
        worker.failed.connect(self._on_failed)
        worker.ended.connect(self._on_ended)
        self._thread = thread
        self._set_running(True)
        thread.start()
        self.audit_started.emit()
        return True

    def cancel(self) -> None:
        if self._thread is not None:
            self.status_label.setText("Stopping after the sample in flight…")
            self._thread.stop()

    def export(self, kind: str, path: Path | None = None) -> Path | None:
        """Write the finished audit's report of one kind (asks where unless path is given)."""
        if self._data is None:
            return None
        if path is None:
            path = ask_path(self, self._data, kind, Path.home())
            if path is None:
                return None
        try:
            written = write_report(self._data, kind, path)
        except (OSError, ValueError) as exc:
            self.status_label.setText(f"Could not write the report: {exc}")
            return None
        self.status_label.setText(f"Wrote {written}")
        self.exported.emit(str(written))
        return written

    def shutdown(self) -> None:
        """Cancel a running audit and wait for its thread (the window or app closes)."""
        thread = self._thread
        if thread is not None:
            thread.shutdown()
            self._on_ended()

    # -- construction -------------------------------------------------------------------------
    def _build_layout(self) -> None:
        controls = QHBoxLayout()
        controls.addWidget(self.start_button)
        controls.addWidget(self.cancel_button)
        controls.addWidget(self.progress, 1)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_label, 1)
        folder_row.addWidget(self.folder_button)
        exports = QHBoxLayout()
        exports.addStretch(1)
        for button in self.export_buttons.values():
            exports.addWidget(button)
        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        self.results_tabs = QTabWidget()
        self.results_tabs.setDocumentMode(True)
        self.results_tabs.addTab(self.summary, "S&ummary")
        self.results_tabs.addTab(self.charts, "C&harts")
        lower_layout.addWidget(self.results_tabs, 1)
        lower_layout.addLayout(exports)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(lower)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(self.form)
        layout.addLayout(folder_row)
        layout.addLayout(controls)
        layout.addWidget(self.status_label)
        layout.addWidget(self.splitter, 1)

    def _set_running(self, running: bool) -> None:
        self.form.setEnabled(not running)
        self.folder_button.setEnabled(not running)
        self.start_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        for button in self.export_buttons.values():
            button.setEnabled(not running and self._data is not None)

    # -- slots ----------------------------------------------------------------------------------
    def _on_model_started(self, key: str, name: str) -> None:
        self._names[key] = name
        self.status_label.setText(f"Auditing {name}…")

    def _on_progressed(self, event: AuditProgress) -> None:
        self.progress.setRange(0, event.total)
        self.progress.setValue(event.done)
        name = self._names.get(event.model, event.model)
        eta = eta_text(event.eta_seconds)
        self.status_label.setText(
            f"{name}: question {event.question}; {event.done} of {event.total} samples saved"
            + (f", {eta}" if eta else "")
        )

    def _on_question_done(self, result: QuestionResult) -> None:
        name = self._names.get(result.key.model, result.key.model)
        row = self.table.add_result(result, name)
        item = self.table.item(row, 0)
        if item is not None:
            self.table.scrollToItem(item)

    def show_results(self, data: dict[str, Any]) -> None:
        """Show a finished audit's summary (report data) and allow its exports."""
        self._data = data
        self.summary.setPlainText(summary_text(data))
        self.charts.show_report(data)
        self._set_running(self.running)

    def _on_finished(self, data: dict[str, Any]) -> None:
        self.show_results(data)
        seconds = (data.get("timings") or {}).get("this_run_seconds") or 0.0
        self.status_label.setText(f"Done in {seconds:.1f} s. Export the report below.")
        self.audit_ended.emit("finished")

    def _on_cancelled(self, saved: int, total: int) -> None:
        self.status_label.setText(
            f"Cancelled: {saved} of {total} samples are saved. Resume continues with the "
            "same seeds."
        )
        self.audit_ended.emit("cancelled")

    def _on_failed(self, message: str) -> None:
        self.form.show_error(message)
        self.status_label.setText("The audit stopped.")
        self.audit_ended.emit("failed")

    def _on_ended(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        thread.wait()
        thread.deleteLater()
        self._set_running(False)
        self.refresh_offer()

    def _on_set_chosen(self, _index: int) -> None:
        # A file's problem is said as soon as it is chosen, in the loader's own sentence.
        chosen = self.form.set_combo.currentData()
        try:
            questions = load_question_set(chosen)
        except QuestionSetError as exc:
            self.form.show_error(f"Question set: {exc}.")
            return
        self.form.show_error(None)
        graded = sum(1 for q in questions.questions if q.answer is not None)
        self.status_label.setText(f"{questions.name}: {len(questions.questions)} questions, "
                                  f"{graded} with a reference answer.")  # fmt: skip

    def _on_folder_clicked(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Samples folder", str(self.folder))
        if chosen:
            self.folder = Path(chosen)
            self.refresh_offer()

    def closeEvent(self, event: QCloseEvent) -> None:
        # A hidden window must not keep decoding: closing it stops the audit (saved
        # samples stay, and Resume continues them).
        self.shutdown()
        event.accept()


def show_audit_window(existing: AuditWindow | None, runtime: Callable[[], RuntimeParams],
                      loaded: Callable[[], Any], parent: QWidget) -> AuditWindow:  # fmt: skip
    """The main window's Audit window, made on first use, its model list fresh, shown and
    raised. `loaded` gives the conversation's ModelDescription (or None): its file is
    preselected, and the audit uses the Settings panel's runtime."""

    def current() -> Path | None:
        model = loaded()
        return Path(model.path) if model is not None else None

    window = existing or AuditWindow(runtime, current, parent=parent)
    if not window.running:
        window.refresh_models()
    window.show()
    window.raise_()
    window.activateWindow()
    return window
