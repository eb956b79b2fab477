"""The history sidebar: past runs, newest first, with search, reopen, delete and export.

A consensus run exports as its report in the form the button names: Markdown with the
chart PNG it shows, or the JSON of every sample; the banner names every file written.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QGridLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.consensus.record import has_consensus_report, record_to_report_data
from app.core.conversation import ConversationError
from app.core.history.database import HistoryError
from app.core.history.describe import consensus_summary, describe_summary
from app.core.history.export import export_filename, export_json, export_markdown
from app.core.history.records import RunRecord, RunSummary
from app.ui.consensus.export import JSON, MARKDOWN, export_consensus
from app.ui.conversation.session import ChatSession
from app.ui.widgets.plain_text import literal_rich_text

log = logging.getLogger(__name__)
_SEARCH_DELAY_MS = 200  # wait for a pause in typing before querying


class HistoryPanel(QWidget):
    """The list of past runs over the session's history store, with its search box and
    the open, delete and export buttons. Opening goes through the session, which
    announces the run to the panes.

    Signals:
        failed(str): something went wrong (the store could not be read, a file could not
            be written); the message is for the user.
        exported(str): a run was written to disk; the message names the files.
    """

    failed = Signal(str)
    exported = Signal(str)

    def __init__(self, session: ChatSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._summaries: dict[int, RunSummary] = {}
        self.search = QLineEdit(placeholderText="Search questions and answers")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Search history")
        self.search.setToolTip("Search the history (Ctrl+F)")
        self.runs = QListWidget()
        self.runs.setAccessibleName("Past runs")
        self.runs.setMinimumWidth(180)
        self.runs.setWordWrap(True)
        self.runs.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # rows wrap
        # A line under each run: two-line rows otherwise run into each other.
        self.runs.setStyleSheet(
            "QListWidget::item { border-bottom: 1px solid palette(mid); padding: 4px 2px; }"
        )
        self.empty_label = QLabel("")
        self.empty_label.setWordWrap(True)
        self.empty_label.setTextFormat(Qt.TextFormat.PlainText)  # quotes the user's search
        self.empty_label.setEnabled(False)  # greyed: a remark, not content
        self.open_button = QPushButton("&Open")
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Delete the selected run (Del)")
        self.export_md_button = QPushButton("Export Markdown…")
        self.export_json_button = QPushButton("Export &JSON…")
        buttons = QGridLayout()
        buttons.addWidget(self.open_button, 0, 0)
        buttons.addWidget(self.delete_button, 0, 1)
        buttons.addWidget(self.export_md_button, 1, 0)
        buttons.addWidget(self.export_json_button, 1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.search)
        layout.addWidget(self.runs, 1)
        layout.addWidget(self.empty_label)
        layout.addLayout(buttons)

        self._search_timer = QTimer(self, singleShot=True, interval=_SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self.refresh)
        self.search.textChanged.connect(self._on_search_edited)
        self.runs.itemActivated.connect(self._on_item_activated)
        self.runs.currentItemChanged.connect(self._on_selection_changed)
        self.open_button.clicked.connect(self._on_open_clicked)
        self.delete_button.clicked.connect(self._on_delete_clicked)
        self.export_md_button.clicked.connect(self._on_export_markdown_clicked)
        self.export_json_button.clicked.connect(self._on_export_json_clicked)
        delete_key = QShortcut(QKeySequence.StandardKey.Delete, self.runs)
        delete_key.setContext(Qt.ShortcutContext.WidgetShortcut)
        delete_key.activated.connect(self._on_delete_clicked)
        session.history_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        selected = self.selected_run_id()
        try:
            summaries = self.session.store.list_runs(self.search.text())
        except HistoryError as exc:
            self.failed.emit(str(exc))
            return
        self.runs.clear()
        self._summaries = {summary.id: summary for summary in summaries}
        for summary in summaries:
            text = describe_summary(summary)
            size = consensus_summary(summary)  # how many answers stand behind it, and agree
            if size:
                text += f" · {size}"
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, summary.id)
            item.setToolTip(literal_rich_text(summary.question))  # the user's own words
            self.runs.addItem(item)
            if summary.id == selected:
                self.runs.setCurrentItem(item)
        search = self.search.text().strip()
        if summaries:
            self.empty_label.hide()
        else:
            self.empty_label.setText(f"No runs match “{search}”." if search else "No runs yet.")
            self.empty_label.show()
        self._on_selection_changed()

    def selected_run_id(self) -> int | None:
        item = self.runs.currentItem()
        return None if item is None else int(item.data(Qt.ItemDataRole.UserRole))

    def select_run(self, run_id: int) -> bool:
        for row in range(self.runs.count()):
            if self.runs.item(row).data(Qt.ItemDataRole.UserRole) == run_id:
                self.runs.setCurrentRow(row)
                return True
        return False

    def _on_search_edited(self, _text: str) -> None:
        self._search_timer.start()

    def _on_selection_changed(self, *_args: object) -> None:
        chosen = self.selected_run_id() is not None
        for button in (self.open_button, self.delete_button, self.export_md_button,
                       self.export_json_button):  # fmt: skip
            button.setEnabled(chosen)

    def _on_item_activated(self, _item: QListWidgetItem) -> None:
        self._on_open_clicked()

    def _on_open_clicked(self) -> None:
        run_id = self.selected_run_id()
        if run_id is None:
            return
        try:
            self.session.open_run(run_id)
        except (ConversationError, HistoryError) as exc:
            self.failed.emit(str(exc))

    def _on_delete_clicked(self) -> None:
        run_id = self.selected_run_id()
        if run_id is None:
            return
        summary = self._summaries.get(run_id)
        named = f"the run “{summary.question}”" if summary is not None else f"run {run_id}"
        question = literal_rich_text(f"Delete {named} from the history?")  # the user's text
        answer = QMessageBox.question(self, "Delete run", question)
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            self.session.store.delete_run(run_id)
        except HistoryError as exc:
            self.failed.emit(str(exc))
        self.refresh()

    def _on_export_markdown_clicked(self) -> None:
        self._export("Markdown (*.md)", ".md", markdown=True)

    def _on_export_json_clicked(self) -> None:
        self._export("JSON (*.json)", ".json", markdown=False)

    def _export(self, file_filter: str, suffix: str, markdown: bool) -> None:
        run_id = self.selected_run_id()
        if run_id is None:
            return
        try:
            run = self.session.store.get_run(run_id)
        except HistoryError as exc:
            self.failed.emit(str(exc))
            return
        if has_consensus_report(run):  # the report in the chosen form, not always JSON
            self._export_consensus(run_id, run, MARKDOWN if markdown else JSON)
            return
        suggested = str(Path.home() / export_filename(run.question, run_id, suffix))
        chosen, _ = QFileDialog.getSaveFileName(self, "Export run", suggested, file_filter)
        if not chosen:
            return
        path = Path(chosen)
        if not path.suffix:
            path = path.with_suffix(suffix)
        try:
            path.write_text(export_markdown(run) if markdown else export_json(run), "utf-8")
        except OSError as exc:
            self.failed.emit(f"Could not write {path}: {exc.strerror or exc}")
            return
        self.exported.emit(f"Exported run {run_id} to {path}")

    def _export_consensus(self, run_id: int, run: RunRecord, kind: str) -> None:
        try:
            data = record_to_report_data(run)
        except ValueError as exc:
            self.failed.emit(f"Could not export run {run_id}: {exc}")
            return
        files = export_consensus(self, data, kinds=(kind,))  # shows its own write errors
        if files is not None:
            self.exported.emit(f"Exported run {run_id} to {files.describe()}")
