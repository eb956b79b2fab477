"""The audit's live table: a row per question and condition, added as each one finishes.

Every figure names its n: agreement is "k/n = share [Wilson 95%]", and a unanimous row
adds the bound on any other answer. A question's text is elided in its cell, so its full
text is always the cell's tooltip. Nothing from model output is rich text: every cell is a
plain QTableWidgetItem.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from app.core.audit.results import QuestionResult
from app.core.consensus.figure_lines import format_bound, format_share

DASH = "—"
# The figures come right after the question, so a narrow window shows them first and
# scrolls sideways for the rest; Model, T and Budget show only when the audit varies them.
COLUMNS = (
    ("Id", "The question's id in the set"),
    ("Model", "The model that answered"),
    ("T", "Sampling temperature"),
    ("Budget", "Thinking budget in tokens (unlimited: no cap)"),
    ("Question", "The question (hover a cell for its whole text)"),
    ("Majority", "The largest answer group ('no answer' when most samples gave none)"),
    ("Match", "✓ the majority is the reference answer, ✗ it is not, — no reference"),
    ("Agreement [95%]", "The majority's share of all n samples, with its Wilson 95% interval"),
    ("Entropy", "Answer entropy in bits: plug-in (Miller–Madow)"),
    ("Reference", "The set's reference answer"),
    ("Greedy", "The temperature-0 baseline's answer"),
)
ID_COLUMN, MODEL_COLUMN, T_COLUMN, BUDGET_COLUMN, QUESTION_COLUMN = range(5)
MATCH_COLUMN, AGREEMENT_COLUMN, GREEDY_COLUMN = 6, 7, 10
QUESTION_WIDTH = 200
MAX_COLUMN_WIDTH = 280  # the agreement with its bound needs about that
NARROW_COLUMNS = {ID_COLUMN: 130, MODEL_COLUMN: 160}  # long ids and names: see the tooltip
CELL_PADDING = 18  # the cell's margins and the header's sort arrow room


def agreement_text(result: QuestionResult) -> str:
    stats = result.figures.stats
    if not stats.n:
        return DASH
    low, high = stats.agreement_ci95
    text = (
        f"{stats.majority_count}/{stats.n} = {format_share(stats.agreement)} "
        f"[{format_share(low)}–{format_share(high)}]"
    )
    bound = result.figures.other_answer_bound
    if bound is not None:
        text += f"; others ≤ {format_bound(bound)}"
    return text


def majority_text(result: QuestionResult) -> str:
    stats = result.figures.stats
    if not stats.n:
        return DASH
    return "no answer" if stats.majority_is_no_answer else (stats.majority or DASH)


def match_text(correct: bool | None) -> str:
    return {True: "✓", False: "✗", None: DASH}[correct]


def row_cells(result: QuestionResult, model_name: str) -> list[str]:
    """The texts of one row, in COLUMNS order."""
    f, key = result.figures, result.key
    greedy = result.greedy
    return [
        result.question.id,
        model_name,
        f"{key.temperature:g}",
        "unlimited" if key.think_budget is None else str(key.think_budget),
        result.question.question,
        majority_text(result),
        match_text(f.majority_correct),
        agreement_text(result),
        f"{f.stats.entropy_bits:.2f} ({f.stats.entropy_bits_mm:.2f})" if f.n else DASH,
        result.question.answer if result.question.answer is not None else DASH,
        (greedy.extracted or "no answer") if greedy is not None else DASH,
    ]


class AuditTable(QTableWidget):
    """One row per finished question and condition, in the order they finish.

    Signals: none of its own (QTableWidget's).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels([name for name, _ in COLUMNS])
        for column, (_, tip) in enumerate(COLUMNS):
            header_item = self.horizontalHeaderItem(column)
            if header_item is not None:
                header_item.setToolTip(tip)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.verticalHeader().setVisible(False)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.setMinimumSectionSize(36)
        # Each column is as wide as its header and the widest text so far, up to a cap;
        # the question keeps a fixed share (its whole text is the tooltip), and a narrow
        # window scrolls sideways rather than squeezing it to "W…".
        for column, (name, _) in enumerate(COLUMNS):
            self.setColumnWidth(column, self._fit(name, column))
        self.setColumnWidth(QUESTION_COLUMN, QUESTION_WIDTH)
        self.setAccessibleName("Audit results per question")
        self._keys: dict[tuple[object, ...], int] = {}

    def show_conditions(self, models: int, temperatures: int, budgets: int) -> None:
        """Model, T and Budget columns only where the audit has more than one of them."""
        self.setColumnHidden(MODEL_COLUMN, models < 2)
        self.setColumnHidden(T_COLUMN, temperatures < 2)
        self.setColumnHidden(BUDGET_COLUMN, budgets < 2)

    def add_result(self, result: QuestionResult, model_name: str) -> int:
        """Add (or, for a condition shown before, replace) the row; returns its index."""
        key = result.key.as_tuple()
        row = self._keys.get(key)
        if row is None:
            row = self.rowCount()
            self.insertRow(row)
            self._keys[key] = row
        for column, text in enumerate(row_cells(result, model_name)):
            item = QTableWidgetItem(text)
            # A cell can be narrower than its text: its tooltip always holds all of it.
            item.setToolTip(text)
            if column == MATCH_COLUMN:
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                spoken = {"✓": "matches", "✗": "does not match"}.get(text, "no reference")
                item.setData(Qt.ItemDataRole.AccessibleTextRole, spoken)
            self.setItem(row, column, item)
            wanted = self._fit(text, column)
            if column != QUESTION_COLUMN and self.columnWidth(column) < wanted:
                self.setColumnWidth(column, wanted)
        return row

    def _fit(self, text: str, column: int = -1) -> int:
        room = self.fontMetrics().horizontalAdvance(text) + CELL_PADDING
        return min(NARROW_COLUMNS.get(column, MAX_COLUMN_WIDTH), room)

    def clear_rows(self) -> None:
        self.setRowCount(0)
        self._keys.clear()

    def cell_text(self, row: int, column: int) -> str:
        item = self.item(row, column)
        return item.text() if item is not None else ""
