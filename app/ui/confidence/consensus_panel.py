"""The consensus panel's confidence section: the confidence-weighted vote beside the plain
majority, and the fork of two answer groups (the shared prefix, then the branches with
how many samples of each group took them).

The weighted vote never replaces the majority: it is a line of its own, with its basis
(how many samples had token statistics). A run whose samples carry no statistics shows
one line saying so, and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from app.core.confidence.deepconf import BASIS
from app.core.confidence.fork import Fork, fork_between
from app.core.confidence.vote import weighted_vote
from app.core.history.records import SampleRecord
from app.core.inference.token_stats import TokenStats
from app.ui.confidence.book import BOOK, NO_STATS_REASON

Groups = Sequence[tuple[str, int, list[int]]]  # (label, count, sample indices), largest first
NO_STATS_LINE = "Confidence: none of these samples has token statistics. " + NO_STATS_REASON
FORK_ROWS = 7


def short(label: str, limit: int = 40) -> str:
    flat = " ".join(label.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def describe_fork(fork: Fork) -> str:
    """The fork as plain text: the shared prefix, then one line per branch."""
    first, second = fork.groups
    lines = [
        f"Shared by all {fork.samples[first]} + {fork.samples[second]} samples: "
        f"{fork.position} tokens",
        "“" + fork.prefix_text[-200:] + "”" if fork.position else "(nothing: they part at once)",
        "then:",
    ]
    for branch in fork.branches:
        lines.append(f"  → “{branch.text}”   {short(first, 20)}: {branch.counts[first]}, "
                     f"{short(second, 20)}: {branch.counts[second]}")  # fmt: skip
    return "\n".join(lines)


class ConsensusConfidence(QWidget):
    """The weighted vote and the fork view for the shown consensus run."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.vote = QLabel("")
        self.vote.setTextFormat(Qt.TextFormat.PlainText)  # group labels are model output
        self.vote.setWordWrap(True)
        self.vote.setToolTip(BASIS)
        self.first = QComboBox()
        self.second = QComboBox()
        for box, name in ((self.first, "First group"), (self.second, "Second group")):
            box.setAccessibleName(name)
            box.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            box.setMinimumContentsLength(12)
        self.fork_label = QLabel("Fork of")
        self.fork = QPlainTextEdit(readOnly=True)
        self.fork.setAccessibleName("Where the two groups' samples part")
        self.fork.setFixedHeight(self.fork.fontMetrics().lineSpacing() * FORK_ROWS + 12)
        self.fork.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        pick = QHBoxLayout()
        pick.setContentsMargins(0, 0, 0, 0)
        pick.addWidget(self.fork_label)
        pick.addWidget(self.first, 1)
        pick.addWidget(QLabel("and"))
        pick.addWidget(self.second, 1)
        self.fork_part = QWidget()
        fork_layout = QVBoxLayout(self.fork_part)
        fork_layout.setContentsMargins(0, 0, 0, 0)
        fork_layout.addLayout(pick)
        fork_layout.addWidget(self.fork)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.vote)
        layout.addWidget(self.fork_part)
        self._groups: Groups = []
        self._stats: dict[str, list[TokenStats]] = {}
        self.first.currentIndexChanged.connect(self._show_fork)
        self.second.currentIndexChanged.connect(self._show_fork)
        self.clear()

    def clear(self) -> None:
        self._groups, self._stats = [], {}
        self.vote.clear()
        self.hide()

    def show_run(self, groups: Groups, samples: Mapping[int, SampleRecord]) -> None:
        """The run's groups (largest first) and the samples finished so far."""
        confidences = {index: BOOK.confidence(sample) for index, sample in samples.items()}
        group_of = {i: label for label, _, members in groups for i in members if i in samples}
        labelled: dict[int, str | None] = {i: group_of.get(i) for i in samples}
        vote = weighted_vote(labelled, confidences)
        self.show()
        if not any(c is not None for c in confidences.values()):
            self.vote.setText(NO_STATS_LINE)
            self.fork_part.hide()
            return
        if vote.winner is not None and vote.share is not None:
            outcome = f"“{short(vote.winner)}” with {vote.share:.0%} of the weight"
        elif vote.weights:
            outcome = "a tie between the heaviest groups"
        else:
            outcome = "no sample with statistics has an answer"
        self.vote.setText(f"Confidence-weighted vote (DeepConf): {outcome}; {vote.basis()}. "
                          "The plain majority above counts every sample.")  # fmt: skip
        self._stats = {label: [s for i in members if i in samples
                               if (s := BOOK.get(samples[i])) is not None]
                       for label, _, members in groups}  # fmt: skip
        with_stats = [label for label, _, _ in groups if self._stats.get(label)]
        if [label for label, _, _ in self._groups] != [label for label, _, _ in groups]:
            self._fill_pickers(with_stats)
        self._groups = list(groups)
        self.fork_part.setVisible(len(with_stats) >= 2)
        self._show_fork()

    def select_pair(self, first: str, second: str) -> None:
        """Show the fork of these two groups."""
        self.first.setCurrentIndex(self.first.findData(first))
        self.second.setCurrentIndex(self.second.findData(second))

    def focus_group(self, label: str) -> None:
        """A group was picked on the chart: its fork with the largest other group."""
        if self.first.findData(label) < 0:
            return
        others = [self.first.itemData(i) for i in range(self.first.count())]
        other = next((o for o in others if o != label), None)
        if other is not None:
            self.select_pair(label, other)

    def fork_text(self) -> str:
        return self.fork.toPlainText()

    def _fill_pickers(self, labels: list[str]) -> None:
        for box, default in ((self.first, 0), (self.second, 1)):
            box.blockSignals(True)
            box.clear()
            for label in labels:
                box.addItem(short(label), label)
            box.setCurrentIndex(min(default, box.count() - 1))
            box.blockSignals(False)

    def _show_fork(self, *_index: object) -> None:
        first, second = self.first.currentData(), self.second.currentData()
        if first is None or second is None or first == second:
            self.fork.setPlainText("Pick two different answer groups.")
            return
        fork = fork_between(first, second, self._stats)
        self.fork.setPlainText(describe_fork(fork) if fork else "No statistics for these groups.")
