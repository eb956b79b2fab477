"""The reasoning pane: the model's trace, streamed as plain text, collapsible, copyable.

A consensus run shows one sample's trace: the majority's when the run finishes or is
reopened (the pane decides that itself, from the record), or the one the consensus
controller passes to show_sample when a sample is clicked.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QTextCursor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.core.consensus.record import is_consensus_run
from app.core.conversation import majority_sample
from app.core.history.describe import sample_label
from app.core.history.records import RunRecord, SampleRecord
from app.core.inference.token_stats import TokenStats
from app.core.run_clock import RunProgress
from app.ui.confidence.book import BOOK
from app.ui.confidence.controls import ConfidenceControls
from app.ui.confidence.text_view import ConfidencePane
from app.ui.conversation.session import ChatSession
from app.ui.widgets.paced_text import PacedText


def describe_reasoning(tokens: int, seconds: float | None, thinking: bool) -> str:
    if not thinking and tokens == 0:
        return "No reasoning"
    text = f"{tokens} tokens" if tokens else "Thinking…"
    if seconds is not None:
        text += f" · thought for {seconds:.0f} s" if seconds >= 1 else " · thought for <1 s"
    return text


class TraceView(QWidget):
    """The reasoning pane over a ChatSession: follows its runs (streamed, finished,
    reopened, reset); show_sample shows one sample of a consensus run."""

    def __init__(self, session: ChatSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.toggle = QToolButton()
        self.toggle.setText("&Reasoning")
        self.toggle.setCheckable(True)
        self.toggle.setChecked(True)
        self.toggle.setAutoRaise(True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setToolTip("Show or hide the reasoning trace")
        self.summary = QLabel("")
        self.copy_button = QPushButton("&Copy reasoning")
        self.copy_button.setToolTip("Copy the reasoning trace to the clipboard")
        # The trace, with its confidence shading and hesitation strip (app.ui.confidence).
        self.pane = ConfidencePane()
        self.text: QPlainTextEdit = self.pane.text
        self.confidence = ConfidenceControls()
        self._paced = PacedText(self.text, self._append)
        self.text.setPlaceholderText("The model's reasoning appears here while it thinks.")
        self.text.setMinimumSize(160, 120)
        self.text.setAccessibleName("Reasoning trace")

        header = QHBoxLayout()
        header.addWidget(self.toggle)
        # A long summary ("Sample 11 (seed …) · majority · …") must not widen the pane
        # at the answer's expense (the answer pane's summary repeats sample and seed).
        self.summary.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        header.addWidget(self.summary, 1)
        header.addWidget(self.copy_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.confidence)
        layout.addWidget(self.pane, 1)
        self.confidence.add_pane(self.pane)

        self.toggle.toggled.connect(self._on_toggled)
        self.copy_button.clicked.connect(self._on_copy_clicked)
        self._on_toggled(True)
        session.run_started.connect(self._on_run_started)
        session.progress_made.connect(self._on_progress_made)
        session.run_finished.connect(self._on_run_shown)
        session.run_opened.connect(self._on_run_shown)
        session.conversation_reset.connect(self._on_conversation_reset)

    def plain_text(self) -> str:
        return self.text.toPlainText() + self._paced.pending

    def show_sample(self, sample: SampleRecord, *, majority: bool = False) -> None:
        """One sample's trace, labelled with its number and seed (and "majority" when it is
        the sample that answers for its run)."""
        self._show_trace(sample.trace, BOOK.get(sample))
        role = " · majority" if majority else ""
        self.set_summary(f"{sample_label(sample)}{role} · {sample.tokens} tokens")
        self.summary.setToolTip(self.summary.text())  # the label is clipped in a narrow pane

    def set_summary(self, text: str) -> None:
        """The line beside the toggle: token count and thinking time, or which sample."""
        self.summary.setText(text)

    def _on_toggled(self, expanded: bool) -> None:
        self.pane.setVisible(expanded)
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if expanded else Qt.ArrowType.RightArrow)

    def _on_copy_clicked(self) -> None:
        QGuiApplication.clipboard().setText(self.plain_text())

    def _show_trace(self, trace: str, stats: TokenStats | None) -> None:
        self._paced.discard()  # this text replaces what was streamed
        self.pane.set_tokens(trace, stats, "trace")
        self.confidence.pane_changed(self.pane)

    def _on_run_started(self, _record: RunRecord) -> None:
        self._show_trace("", None)
        self.summary.setText("Waiting for the model…")

    def _on_progress_made(self, progress: RunProgress) -> None:
        self._paced.add(progress.trace_delta)
        thinking = bool(self._paced.pending) or self.text.document().characterCount() > 1
        self.summary.setText(
            describe_reasoning(progress.trace_tokens, progress.thought_seconds, thinking)
        )

    def _on_run_shown(self, record: RunRecord) -> None:
        sample = majority_sample(record) if is_consensus_run(record) else None
        if sample is not None:
            self.show_sample(sample, majority=True)
            return
        # The final trace is authoritative: the splitter may relabel text at the end.
        self._show_trace(record.trace, BOOK.get(record.samples[0] if record.samples else None))
        reasoning = record.params.get("reasoning") or {}
        tokens = int(reasoning.get("tokens") or 0)
        seconds = reasoning.get("seconds")
        self.summary.setText(describe_reasoning(tokens, seconds, bool(record.trace)))

    def _on_conversation_reset(self) -> None:
        self._show_trace("", None)
        self.summary.clear()

    def _append(self, text: str) -> None:
        # Follow the stream only when the reader is already at the bottom.
        bar = self.text.verticalScrollBar()
        at_bottom = bar.value() >= bar.maximum() - 4
        cursor = QTextCursor(self.text.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(text)
        if at_bottom:
            bar.setValue(bar.maximum())
