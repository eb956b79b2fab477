"""The consensus figures in words (app.core.consensus.figure_lines, which the CLI prints
too): majority, agreement and its interval, entropy, answered count, distinct answers,
notes, the memory plan and the run's progress.

Every label is plain text: answers are model output and must never be read as markup.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.core.consensus.figure_lines import figure_lines, same_samples_warning
from app.core.consensus.memory_plan import ConsensusPlan
from app.core.consensus.stats import ConsensusStats


def _label(parent: QWidget, wrap: bool = False) -> QLabel:
    label = QLabel(parent)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setWordWrap(wrap)
    return label


_EMPTY = ConsensusStats(0, None, 0, False, 0.0, (0.0, 1.0), 0.0, 0.0, 0, 0)


class ConsensusFigures(QWidget):
    """The figures of a consensus run: plan, progress, majority, agreement, entropy, outcome.

    Signals:
        help_requested(): the "?" button was pressed (the view opens the help).
        one_sample_requested(): "Use one sample" was pressed under the warning that a
            deterministic run's samples are all the same.
    """

    help_requested = Signal()
    one_sample_requested = Signal()

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
        self.answered_label = _label(self)
        self.distinct_label = _label(self)
        self.note_label = _label(self, wrap=True)
        self.same_samples_label = _label(self, wrap=True)
        self.one_sample_button = QPushButton("Use one sample (untick Consensus)", self)
        self.one_sample_button.clicked.connect(self.one_sample_requested)
        self.progress_label = _label(self)
        self.outcome_label = _label(self, wrap=True)
        top = QHBoxLayout()
        top.addWidget(self.plan_label, 1)
        top.addWidget(self.help_button, 0, Qt.AlignmentFlag.AlignTop)
        grid = QGridLayout()
        self._values = (self.majority_label, self.agreement_label, self.entropy_label,
                        self.answered_label, self.distinct_label)  # fmt: skip
        self.agreement_label.setWordWrap(True)
        names = [name for name, _ in figure_lines(_EMPTY).rows()]
        for row, (name, value) in enumerate(zip(names, self._values, strict=True)):
            grid.addWidget(QLabel(name + ":", self), row, 0, Qt.AlignmentFlag.AlignTop)
            grid.addWidget(value, row, 1)
        grid.setColumnStretch(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        same = QHBoxLayout()
        same.addWidget(self.same_samples_label, 1)
        same.addWidget(self.one_sample_button, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(same)
        layout.addLayout(grid)
        for label in (self.note_label, self.progress_label, self.outcome_label):
            layout.addWidget(label)
        self.clear()

    def show_stats(self, stats: ConsensusStats, basis: str = "") -> None:
        """The figures; basis says which samples they count when not all (figure_lines)."""
        rows = figure_lines(stats, basis).rows()
        for label, (_, text) in zip(self._values, rows, strict=True):
            label.setText(text)
        self.note_label.setText(stats.note or "")
        self.note_label.setVisible(bool(stats.note))

    def show_same_samples(self, samples: int | None) -> None:
        """Warn, before a deterministic run of `samples` > 1, that all will be the same,
        with the offer to use one sample; None hides the warning."""
        shown = samples is not None and samples > 1
        self.same_samples_label.setText(same_samples_warning(samples) if shown and samples else "")
        self.same_samples_label.setVisible(shown)
        self.one_sample_button.setVisible(shown)

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
        self.show_stats(_EMPTY)
        self.set_plan(None)
        self.show_same_samples(None)
        self.progress_label.setText("")
        self.set_outcome(None)
