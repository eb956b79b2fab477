"""One turn of the conversation as the transcript shows it: the question, the reasoning
(folded once the answer is in, unless the reader keeps it open), the answer, and what
can be done with the turn (edit and resend, regenerate, copy).

The reasoning sits beside the answer when the turn is wide enough for both to be read
(`SIDE_BY_SIDE_WIDTH`), above it otherwise. The answer view grows with its text (the
transcript scrolls, not each answer), the reasoning scrolls inside a box of its own:
a trace runs to thousands of tokens and would push the answer out of sight.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QBoxLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.core.history.records import RunRecord, RunStatus
from app.ui.conversation.trace_view import describe_reasoning
from app.ui.widgets.markdown_view import MarkdownView
from app.ui.widgets.paced_text import PacedText

SIDE_BY_SIDE_WIDTH = 900  # below this, the reasoning goes above the answer
TRACE_HEIGHT = 220
NOT_SENT_NOTE = (
    "This turn wrote reasoning but no answer. Follow-up questions are sent the earlier "
    "answers only, never the reasoning, so the next question sees nothing of this turn "
    "but its question."
)
REASONING_TIP = "The model's reasoning. It is never sent with follow-up questions."


class GrowingMarkdownView(MarkdownView):
    """A MarkdownView as tall as its text: the transcript around it scrolls instead."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        layout = self.document().documentLayout()
        layout.documentSizeChanged.connect(self._fit)
        self._fit()

    def _fit(self, *_size: object) -> None:
        height = int(self.document().size().height()) + 2 * self.frameWidth() + 2
        if height != self.height():
            self.setFixedHeight(max(height, 28))

    def sizeHint(self) -> QSize:
        return QSize(super().sizeHint().width(), self.height())


class TurnView(QFrame):
    """One turn: question, reasoning, answer and its actions.

    Signals:
        regenerate_requested(): ask this turn's question again, with a fresh seed.
        resend_requested(str): ask this edited question in place of this turn's.
        copied(str): the turn was copied (question and answer, as Markdown).
    """

    regenerate_requested = Signal()
    resend_requested = Signal(str)
    copied = Signal(str)

    def __init__(self, record: RunRecord, always_open: bool,
                 parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.record = record
        self.always_open = always_open
        self.streaming = True
        self._trace_chars = 0

        self.question = QLabel(record.question)
        self.question.setTextFormat(Qt.TextFormat.PlainText)  # the user's text, never markup
        self.question.setWordWrap(True)
        self.question.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.question.setAccessibleName("Question")
        self.editor = QPlainTextEdit()
        self.editor.setAccessibleName("Edit the question")
        self.editor.setMaximumHeight(120)
        self.resend_button = QPushButton("Resend")
        self.resend_button.setToolTip("Ask this question in place of the turn (and those after)")
        self.cancel_button = QPushButton("Cancel")
        self.edit_button = QPushButton("Edit")
        self.edit_button.setToolTip("Change the question and ask it again from this turn")
        self.regenerate_button = QPushButton("Regenerate")
        self.regenerate_button.setToolTip("Ask this question again with a new seed")
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the question and answer (as Markdown)")

        self.fold = QToolButton()
        self.fold.setCheckable(True)
        self.fold.setChecked(True)  # open while the run streams
        self.fold.setAutoRaise(True)
        self.fold.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.fold.setToolTip(REASONING_TIP)
        self.fold.setText("Reasoning · waiting for the model…")
        self.trace = QPlainTextEdit(readOnly=True)
        self.trace.setAccessibleName("Reasoning trace")
        self.trace.setFixedHeight(TRACE_HEIGHT)
        self._paced_trace = PacedText(self.trace, self._append_trace)
        self.answer = GrowingMarkdownView()
        self.answer.setAccessibleName("Answer")
        self.note = QLabel("")
        self.note.setWordWrap(True)
        self.note.hide()

        self._layout_parts()
        self.fold.toggled.connect(self._on_fold_toggled)
        self.edit_button.clicked.connect(self._on_edit_clicked)
        self.cancel_button.clicked.connect(lambda: self._set_editing(False))
        self.resend_button.clicked.connect(self._on_resend_clicked)
        self.regenerate_button.clicked.connect(self.regenerate_requested)
        self.copy_button.clicked.connect(self._on_copy_clicked)
        self._set_editing(False)
        self._set_actions_enabled(False)
        self._on_fold_toggled(True)

    def _layout_parts(self) -> None:
        header = QHBoxLayout()
        header.addWidget(QLabel("<b>You</b>"))
        header.addWidget(self.question, 1)
        for button in (self.edit_button, self.regenerate_button, self.copy_button):
            header.addWidget(button, 0, Qt.AlignmentFlag.AlignTop)
        editing = QHBoxLayout()
        editing.addWidget(self.editor, 1)
        editing.addWidget(self.resend_button, 0, Qt.AlignmentFlag.AlignTop)
        editing.addWidget(self.cancel_button, 0, Qt.AlignmentFlag.AlignTop)
        self.reasoning = QWidget()
        reasoning = QVBoxLayout(self.reasoning)
        reasoning.setContentsMargins(0, 0, 0, 0)
        reasoning.addWidget(self.fold)
        reasoning.addWidget(self.trace)
        reasoning.addStretch(1)
        self.body = QBoxLayout(QBoxLayout.Direction.TopToBottom)
        self.body.addWidget(self.reasoning, 2)
        self.body.addWidget(self.answer, 3)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addLayout(editing)
        layout.addLayout(self.body)
        layout.addWidget(self.note)
        self._editing_parts = (self.editor, self.resend_button, self.cancel_button)

    # -- what the transcript tells it ------------------------------------------------------
    def append(self, trace: str, answer: str, trace_tokens: int,
               thought_seconds: float | None) -> None:  # fmt: skip
        """More streamed text."""
        if trace:
            first = self._trace_chars == 0
            self._trace_chars += len(trace)
            if first:
                self._arrange()
            self._paced_trace.add(trace)
        if answer:
            self.answer.stream_markdown(answer)
        thinking = self._trace_chars > 0
        self.fold.setText("Reasoning · " + describe_reasoning(trace_tokens, thought_seconds,
                                                              thinking))  # fmt: skip

    def _append_trace(self, text: str) -> None:
        bar = self.trace.verticalScrollBar()
        at_bottom = bar.value() >= bar.maximum() - 4
        self.trace.moveCursor(self.trace.textCursor().MoveOperation.End)
        self.trace.insertPlainText(text)
        if at_bottom:
            bar.setValue(bar.maximum())

    def finish(self, record: RunRecord, trace: str, answer: str,
               highlight: tuple[int, int] | None, summary: str = "") -> None:  # fmt: skip
        """The run ended: its final texts (authoritative), folded unless kept open."""
        self.record, self.streaming = record, False
        self._paced_trace.flush()
        if self.trace.toPlainText() != trace:
            self.trace.setPlainText(trace)
        self._trace_chars = len(trace)
        self.answer.finish_markdown(answer, highlight)
        reasoning = record.params.get("reasoning") or {}
        described = describe_reasoning(int(reasoning.get("tokens") or 0),
                                       reasoning.get("seconds"), bool(trace))  # fmt: skip
        self.fold.setText(f"Reasoning · {described}")
        self.reasoning.setVisible(bool(trace) or not answer)
        self.fold.setChecked(self.always_open)
        notes = [summary] if summary else []
        if record.status != RunStatus.DONE:
            notes.append(record.error or f"This run was {record.status}; it is not a turn "
                                            "that follow-up questions see.")  # fmt: skip
        elif trace.strip() and not answer.strip():
            notes.append(NOT_SENT_NOTE)
        self.note.setText("\n".join(notes))
        self.note.setVisible(bool(notes))
        self._set_actions_enabled(True)

    def set_always_open(self, always_open: bool) -> None:
        self.always_open = always_open
        if not self.streaming:
            self.fold.setChecked(always_open)

    def set_busy(self, busy: bool) -> None:
        """While any run streams, no turn can be asked again."""
        self._set_actions_enabled(not busy and not self.streaming)

    def markdown(self) -> str:
        """The turn as Markdown: the question, then the answer."""
        question = "\n".join(f"> {line}" for line in self.record.question.splitlines())
        return f"{question}\n\n{self.answer.markdown()}".rstrip() + "\n"

    # -- its own controls ---------------------------------------------------------------
    def side_by_side(self) -> bool:
        """Whether the reasoning is shown beside the answer (else above it)."""
        return self.body.direction() == QBoxLayout.Direction.LeftToRight

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._arrange(event.size().width())
        super().resizeEvent(event)

    def _on_fold_toggled(self, expanded: bool) -> None:
        self.fold.setArrowType(Qt.ArrowType.DownArrow if expanded else Qt.ArrowType.RightArrow)
        self._arrange()

    def _arrange(self, width: int | None = None) -> None:
        # The trace box shows once there is reasoning to show, and only unfolded; the
        # two columns only when both have something in them and the turn is wide.
        shown = self.fold.isChecked() and self._trace_chars > 0
        self.trace.setVisible(shown)
        wide = shown and (self.width() if width is None else width) >= SIDE_BY_SIDE_WIDTH
        direction = QBoxLayout.Direction.LeftToRight if wide else QBoxLayout.Direction.TopToBottom
        if self.body.direction() != direction:
            self.body.setDirection(direction)

    def _on_edit_clicked(self) -> None:
        self.editor.setPlainText(self.record.question)
        self._set_editing(True)
        self.editor.setFocus()

    def _on_resend_clicked(self) -> None:
        question = self.editor.toPlainText().strip()
        if question:
            self._set_editing(False)
            self.resend_requested.emit(question)

    def _on_copy_clicked(self) -> None:
        self.copied.emit(self.markdown())

    def _set_editing(self, editing: bool) -> None:
        for part in self._editing_parts:
            part.setVisible(editing)
        self.question.setVisible(not editing)

    def _set_actions_enabled(self, enabled: bool) -> None:
        for button in (self.edit_button, self.regenerate_button, self.resend_button):
            button.setEnabled(enabled)
        self.copy_button.setEnabled(not self.streaming)
