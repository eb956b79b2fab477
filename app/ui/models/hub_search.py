"""Search the Hugging Face hub for GGUF models from the model manager.

Type words, press Search: the hub's GGUF repositories matching them, most downloaded
first, with likes and size (parameters, where the hub gives them). Pick one: its model
files, one per quantisation, smallest first, each with its size and whether it fits in
this machine's memory (an estimate, explained in the tooltip). Download starts the
manager's own verified download of the file picked.

The hub is asked off the GUI thread, one request at a time per list; an answer that
arrives after a newer question was asked is dropped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.machine import total_memory_bytes
from app.core.models.hub_errors import DownloadError
from app.core.models.search.hub_search import (
    RUNTIME_FLOOR_BYTES,
    RUNTIME_HEADROOM,
    HubModel,
    Quantisation,
    repo_quantisations,
    search_models,
)
from app.core.units import memory_text, size_text

log = logging.getLogger(__name__)
FIT_TIP = (
    "Estimated: the file, plus {headroom:.0%} of it and {floor} for the context and "
    "llama.cpp's buffers, against this machine's {memory} of memory."
)


class _Relay(QObject):
    """Carries a hub answer from a worker thread to the GUI thread (queued signal).

    Signals:
        answered(int, object, object): request number, result (None on error), error text.
    """

    answered = Signal(int, object, object)


class HubSearchPanel(QGroupBox):
    """Search box, results, a repository's quantisations, and Download.

    Signals:
        download_requested(str, str): the repository and the .gguf file to download.
    """

    download_requested = Signal(str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Search the hub for GGUF models", parent)
        self.query = QLineEdit()
        self.query.setPlaceholderText("e.g. qwen3 4b, deepseek r1 distill, smollm2")
        self.query.setAccessibleName("Search the hub")
        self.search_button = QPushButton("Search")
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.results = _table(["Repository", "Downloads", "Likes", "Size"])
        self.results.setAccessibleName("Search results")
        self.files = _table(["File", "Quantisation", "Size", "Fits in memory"])
        self.files.setAccessibleName("Model files")
        self.download_button = QPushButton("Download")
        self.download_button.setEnabled(False)
        self.download_button.setToolTip("Download the chosen file into the library, verified")

        row = QHBoxLayout()
        row.addWidget(self.query, 1)
        row.addWidget(self.search_button)
        lists = QHBoxLayout()
        lists.addWidget(self.results, 1)
        lists.addWidget(self.files, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.download_button)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addLayout(lists)
        layout.addLayout(bottom)

        self._models: list[HubModel] = []
        self._quantisations: list[Quantisation] = []
        self._repo: str | None = None
        self._asked = {"search": 0, "files": 0}
        self._relay = _Relay(self)
        self._relay.answered.connect(self._on_answered)
        self._handlers: dict[int, tuple[str, Callable[[Any], None]]] = {}
        self._next_request = 0

        self.search_button.clicked.connect(self.search)
        self.query.returnPressed.connect(self.search)
        self.results.itemSelectionChanged.connect(self._on_repo_chosen)
        self.files.itemSelectionChanged.connect(self._update_download)
        self.download_button.clicked.connect(self._on_download_clicked)

    def search(self) -> None:
        words = self.query.text().strip()
        if not words:
            self.status.setText("Type a few words of a model's name first.")
            return
        self.status.setText(f"Searching the hub for “{words}”…")
        self._ask("search", lambda: search_models(words), self._show_models)

    def chosen_file(self) -> Quantisation | None:
        rows = self.files.selectionModel().selectedRows()
        return self._quantisations[rows[0].row()] if rows else None

    # -- answers --------------------------------------------------------------------------
    def _show_models(self, models: list[HubModel]) -> None:
        self._models = models
        self.files.setRowCount(0)
        self._quantisations, self._repo = [], None
        self.results.setRowCount(len(models))
        for row, model in enumerate(models):
            size = f"{model.parameters / 1e9:.2g} B parameters" if model.parameters else "—"
            _fill(self.results, row, [model.repo, f"{model.downloads:,}", f"{model.likes:,}", size])
        words = self.query.text().strip()
        self.status.setText(f"{len(models)} GGUF repositories for “{words}”, most downloaded "
                            "first. Pick one to see its files." if models else
                            f"No GGUF repository on the hub matches “{words}”.")  # fmt: skip
        self._update_download()

    def _on_repo_chosen(self) -> None:
        rows = self.results.selectionModel().selectedRows()
        if not rows:
            return
        repo = self._models[rows[0].row()].repo
        self._repo = repo
        self.files.setRowCount(0)
        self.status.setText(f"Listing the files in {repo}…")
        self._ask("files", lambda: repo_quantisations(repo), self._show_files)

    def _show_files(self, files: list[Quantisation]) -> None:
        self._quantisations = files
        memory = total_memory_bytes()
        tip = FIT_TIP.format(headroom=RUNTIME_HEADROOM, floor=size_text(RUNTIME_FLOOR_BYTES),
                             memory=memory_text(memory))  # fmt: skip
        self.files.setRowCount(len(files))
        for row, file in enumerate(files):
            parts = f" ({file.parts} parts)" if file.parts > 1 else ""
            if file.fits is None:
                fits = "unknown"
            else:
                fits = "yes" if file.fits else f"no: needs about {size_text(file.needed_bytes)}"
            _fill(self.files, row, [file.filename + parts, file.quant or "—",
                                    size_text(file.size), fits])  # fmt: skip
            cell = self.files.item(row, 3)
            if cell is not None:
                cell.setToolTip(tip)
        self.status.setText(f"{len(files)} model files in {self._repo}." if files else
                            f"{self._repo} holds no GGUF model file.")  # fmt: skip
        self._update_download()

    def _update_download(self) -> None:
        self.download_button.setEnabled(self.chosen_file() is not None)

    def _on_download_clicked(self) -> None:
        file = self.chosen_file()
        if file is not None and self._repo is not None:
            self.download_requested.emit(self._repo, file.filename)

    # -- the worker thread ------------------------------------------------------------
    def _ask(self, kind: str, call: Callable[[], Any], handle: Callable[[Any], None]) -> None:
        self._next_request += 1
        number = self._next_request
        self._asked[kind] = number
        self._handlers[number] = (kind, handle)
        relay = self._relay

        def work() -> None:
            try:
                relay.answered.emit(number, call(), None)
            except DownloadError as exc:
                relay.answered.emit(number, None, str(exc))
            except Exception as exc:  # the thread must always answer, or the panel waits
                log.exception("hub request failed")
                relay.answered.emit(number, None, f"unexpected error ({type(exc).__name__})")

        threading.Thread(target=work, name=f"hub-{kind}", daemon=True).start()

    def _on_answered(self, number: int, result: Any, error: str | None) -> None:
        kind, handle = self._handlers.pop(number, ("", None))
        if handle is None or self._asked.get(kind) != number:
            return  # a newer question was asked meanwhile
        if error is not None:
            self.status.setText(f"The hub could not be asked: {error}")
            return
        handle(result)


def _table(headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().hide()
    table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    table.setMinimumHeight(120)
    return table


def _fill(table: QTableWidget, row: int, cells: list[str]) -> None:
    for column, text in enumerate(cells):
        item = QTableWidgetItem(text)
        item.setToolTip(text)
        table.setItem(row, column, item)
