"""The consensus figures in words: majority, agreement and its interval, entropy, distinct
answers, no-answer count, notes, the memory plan and the run's progress.

Every label is plain text: answers are model output and must never be read as markup.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from app.core.consensus.memory_plan import ConsensusPlan
from app.core.consensus.stats import ConsensusStats

_MAJORITY_CHARS = 120


def _label(parent: QWidget, wrap: bool = False) -> QLabel:
    label = QLabel(parent)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setWordWrap(wrap)
    return label


def describe_majority(stats: ConsensusStats) -> str:
    if stats.n == 0:
        return "—"
    if stats.majority is None:
        return f"none: no answer leads ({stats.majority_count} of {stats.n})"
    text = " ".join(stats.majority.split())
    if len(text) > _MAJORITY_CHARS:
        text = text[: _MAJORITY_CHARS - 1] + "…"
    return f"{text}  ({stats.majority_count} of {stats.n})"


def describe_agreement(stats: ConsensusStats) -> str:
    if stats.n == 0:
        return "—"
    low, high = stats.agreement_ci95
    return f"{stats.agreement:.0%}  (95% Wilson interval {low:.0%}–{high:.0%})"


def describe_entropy(stats: ConsensusStats) -> str:
    if stats.n == 0:
        return "—"
    return f"{stats.entropy_bits:.2f} bits  (Miller–Madow {stats.entropy_bits_mm:.2f} bits)"


class ConsensusFigures(QWidget):
    """The figures of a consensus run: plan, progress, majority, agreement, entropy, outcome.

    Signals:
        help_requested(): the "?" button was pressed (the view opens the help).
    """

    help_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plan_label = _label(self, wrap=True)
        self.help_button = QToolButton(self)
        self.help_button.setText("?")
        self.help_button.setToolTip("How to read these figures")
        self.help_button.setAccessibleName("Help on the consensus figures")
        self.help_button.clicked.connect(self.help_requested)
        self.majority_label = _label(self, wrap=True)
        self.agreement_label = _label(self)
        self.entropy_label = _label(self)
        self.distinct_label = _label(self)
        self.no_answer_label = _label(self)
        self.note_label = _label(self, wrap=True)
        self.progress_label = _label(self)
        self.outcome_label = _label(self, wrap=True)
        top = QHBoxLayout()
        top.addWidget(self.plan_label, 1)
        top.addWidget(self.help_button, 0, Qt.AlignmentFlag.AlignTop)
        grid = QGridLayout()
        rows = (("Majority", self.majority_label), ("Agreement", self.agreement_label),
                ("Entropy", self.entropy_label), ("Distinct answers", self.distinct_label),
                ("No answer", self.no_answer_label))  # fmt: skip
        for row, (name, value) in enumerate(rows):
            grid.addWidget(QLabel(name + ":", self), row, 0, Qt.AlignmentFlag.AlignTop)
            grid.addWidget(value, row, 1)
        grid.setColumnStretch(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addLayout(grid)
        for label in (self.note_label, self.progress_label, self.outcome_label):
            layout.addWidget(label)
        self.clear()

    def show_stats(self, stats: ConsensusStats) -> None:
        self.majority_label.setText(describe_majority(stats))
        self.agreement_label.setText(describe_agreement(stats))
        self.entropy_label.setText(describe_entropy(stats))
        self.distinct_label.setText(str(stats.distinct) if stats.n else "—")
        self.no_answer_label.setText(str(stats.no_answer) if stats.n else "—")
        self.note_label.setText(stats.note or "")
        self.note_label.setVisible(bool(stats.note))

    def set_plan(self, plan: ConsensusPlan | None) -> None:
        self.plan_label.setText(f"Plan: {plan.describe()}" if plan is not None else "")

    def set_progress(
        self, finished: int, total: int, tokens: int, active: int | None = None
    ) -> None:
        parts = [f"{finished} of {total} samples finished"]
        if active:
            parts.append(f"{active} running")
        parts.append(f"{tokens:,} tokens")
        self.progress_label.setText(" · ".join(parts))

    def set_outcome(self, text: str | None) -> None:
        self.outcome_label.setText(text or "")
        self.outcome_label.setVisible(bool(text))

    def clear(self) -> None:
        self.show_stats(ConsensusStats(0, None, 0, False, 0.0, (0.0, 1.0), 0.0, 0.0, 0, 0))
        self.set_plan(None)
        self.progress_label.setText("")
        self.set_outcome(None)
