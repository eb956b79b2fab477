"""The samples behind one answer group, and one sample's reasoning beside its answer.

While a run goes, the sample shown may be one still decoding (``SampleDetail.follow``):
its text then grows with each progress event, appended to the panes, so an update costs
what it adds, not what is already on screen.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.confidence.deepconf import BASIS
from app.core.consensus.sampler import WatchedSample
from app.core.history.records import SampleRecord
from app.ui.confidence.book import BOOK, NO_STATS_REASON

COLUMNS = ("Sample", "Seed", "Tokens", "Seconds", "Confidence", "Finish")
CONFIDENCE_COLUMN = COLUMNS.index("Confidence")


def confidence_cell(sample: SampleRecord) -> tuple[str, str]:
    """The sample's DeepConf confidence as shown, and its tooltip."""
    confidence = BOOK.confidence(sample)
    if confidence is None:
        return "—", NO_STATS_REASON
    return f"{confidence:.2f}", f"{BASIS}. Higher: more sure of itself."


def _plain_label(parent: QWidget) -> QLabel:
    label = QLabel(parent)
    label.setTextFormat(Qt.TextFormat.PlainText)  # group labels are model output
    label.setWordWrap(True)
    return label


class GroupSamplesList(QWidget):
    """A table of one group's samples.

    Signals:
        sample_chosen(int): a row was selected; the payload is the sample's index.
    """

    sample_chosen = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.heading = _plain_label(self)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        # Stretch mode (not stretchLastSection, which keeps a width it once had and
        # scrolls the table sideways when it narrows) fills the row and shrinks with it.
        header.setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._on_selection_changed)
        # A table that shows a row and a half reads as broken: room for four, always.
        rows = 4 * self.table.verticalHeader().defaultSectionSize()
        frame = 2 * self.table.frameWidth()
        self.table.setMinimumHeight(header.sizeHint().height() + rows + frame)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.heading)
        layout.addWidget(self.table)
        self._group: str | None = None
        self.clear()

    @property
    def group(self) -> str | None:
        return self._group

    def indices(self) -> list[int]:
        return [self._index_of_row(row) for row in range(self.table.rowCount())]

    def show_group(self, label: str, samples: Sequence[SampleRecord]) -> None:
        """List the group's samples in index order (selection is kept where possible)."""
        keep = self.selected_index() if label == self._group else None
        self._group = label
        ordered = sorted(samples, key=lambda s: s.index)
        noun = "sample" if len(ordered) == 1 else "samples"
        self.heading.setText(f"Answer “{' '.join(label.split())}”: {len(ordered)} {noun}")
        self.table.blockSignals(True)  # refilling is not the user choosing a sample
        try:
            self.table.setRowCount(len(ordered))
            for row, sample in enumerate(ordered):
                confidence, confidence_tip = confidence_cell(sample)
                cells = (str(sample.index + 1), str(sample.seed), str(sample.tokens),
                         f"{sample.seconds:.2f}", confidence, sample.finish_reason)  # fmt: skip
                for column, text in enumerate(cells):
                    item = QTableWidgetItem(text)
                    if column == CONFIDENCE_COLUMN:
                        item.setToolTip(confidence_tip)
                    item.setData(Qt.ItemDataRole.UserRole, sample.index)
                    self.table.setItem(row, column, item)
            self._fit_columns()
            if keep is not None and keep in self.indices():
                self.table.selectRow(self.indices().index(keep))
            else:
                self.table.clearSelection()
        finally:
            self.table.blockSignals(False)

    def select_index(self, index: int) -> bool:
        """Select the sample's row (emits sample_chosen); False if it is not listed."""
        if index not in self.indices():
            return False
        self.table.selectRow(self.indices().index(index))
        return True

    def selected_index(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return self._index_of_row(rows[0].row()) if rows else None

    def row_of(self, index: int) -> int | None:
        found = self.indices()
        return found.index(index) if index in found else None

    def clear(self) -> None:
        self._group = None
        self.heading.setText("Click a bar to list the samples that gave that answer.")
        self.table.setRowCount(0)

    def _fit_columns(self) -> None:
        # Wide enough for every column, so no heading is cut ("Second") or scrolled away.
        header = self.table.horizontalHeader()
        columns = sum(max(header.sectionSizeHint(c), self.table.sizeHintForColumn(c))
                      for c in range(self.table.columnCount()))  # fmt: skip
        bar = self.table.verticalScrollBar().sizeHint().width()
        self.table.setMinimumWidth(columns + bar + 2 * self.table.frameWidth() + 4)

    def _index_of_row(self, row: int) -> int:
        item = self.table.item(row, 0)
        if item is None:
            raise IndexError(f"no sample in row {row}")
        return int(item.data(Qt.ItemDataRole.UserRole))

    def _on_selection_changed(self) -> None:
        index = self.selected_index()
        if index is not None:
            self.sample_chosen.emit(index)


class SampleDetail(QWidget):
    """One sample: a header line, then its reasoning and its answer side by side."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.header = _plain_label(self)
        self.trace_pane = self._pane("Reasoning")
        self.answer_pane = self._pane("Answer")
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        for title, pane in (("Reasoning", self.trace_pane), ("Answer", self.answer_pane)):
            box = QWidget(splitter)
            box_layout = QVBoxLayout(box)
            box_layout.setContentsMargins(0, 0, 0, 0)
            box_layout.addWidget(QLabel(title, box))
            box_layout.addWidget(pane)
            splitter.addWidget(box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.header)
        layout.addWidget(splitter, 1)
        self._index: int | None = None
        self._live = False  # following a sample still decoding
        self._seed: int | None = None
        self._shown: dict[str, str] = {}  # pane name -> the text it holds, while live
        self.clear()

    @property
    def index(self) -> int | None:
        return self._index

    @property
    def live(self) -> bool:
        """True while the sample shown has not finished (its text grows)."""
        return self._live

    def follow(self, index: int, seed: int | None) -> None:
        """Show a sample that has not finished: nothing yet, then its text as it grows."""
        self._index, self._live, self._seed = index, True, seed
        self._shown = {"trace": "", "answer": ""}
        self.trace_pane.clear()
        self.answer_pane.clear()
        self.header.setText(f"{self._name()}: not started yet; its reasoning and answer "
                            "appear here once it starts.")  # fmt: skip

    def show_live(self, watched: WatchedSample) -> None:
        """The followed sample's text so far (anything else is ignored)."""
        if not self._live or watched.index != self._index:
            return
        self.header.setText(f"{self._name()}: running, {watched.tokens} tokens so far")
        self._grow("trace", self.trace_pane, watched.trace)
        self._grow("answer", self.answer_pane, watched.answer)

    def stop_following(self, why: str) -> None:
        """The run ended before the followed sample did: keep its text, say so."""
        if self._live:
            self._live = False
            self.header.setText(f"{self._name()}: {why}")

    def show_sample(self, sample: SampleRecord) -> None:
        self._index, self._live = sample.index, False
        parts = [f"Sample {sample.index + 1}", f"seed {sample.seed}", f"{sample.tokens} tokens",
                 f"{sample.seconds:.2f} s", f"finished by {sample.finish_reason}"]  # fmt: skip
        if sample.extracted is not None:
            rule = f" ({sample.extracted_rule})" if sample.extracted_rule else ""
            parts.append(f"extracted “{' '.join(sample.extracted.split())}”{rule}")
        if sample.group is not None:
            parts.append(f"group “{' '.join(sample.group.split())}”")
        self.header.setText(" · ".join(parts))
        self.trace_pane.setPlainText(sample.trace or "(no reasoning trace)")
        self.answer_pane.setPlainText(sample.answer or "(empty answer)")

    def clear(self) -> None:
        self._index, self._live = None, False
        self.header.setText("Select a sample to see its reasoning and answer.")
        self.trace_pane.clear()
        self.answer_pane.clear()

    def _name(self) -> str:
        seed = f" (seed {self._seed})" if self._seed is not None else ""
        return f"Sample {(self._index or 0) + 1}{seed}"

    def _grow(self, name: str, pane: QPlainTextEdit, text: str) -> None:
        shown = self._shown.get(name, "")
        if text == shown:
            return
        if not text.startswith(shown):  # answer text moved to the trace: once, at most
            pane.setPlainText(text)
        else:
            # Follow the text only when the reader is already at the bottom.
            bar = pane.verticalScrollBar()
            at_bottom = bar.value() >= bar.maximum() - 4
            cursor = QTextCursor(pane.document())
            cursor.movePosition(QTextCursor.MoveOperation.End)
            cursor.insertText(text[len(shown) :])
            if at_bottom:
                bar.setValue(bar.maximum())
        self._shown[name] = text

    def _pane(self, name: str) -> QPlainTextEdit:
        pane = QPlainTextEdit(self)
        pane.setReadOnly(True)
        pane.setAccessibleName(name)
        return pane
