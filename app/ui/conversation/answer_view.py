"""The answer pane: Markdown rendered safely, maths readable, the final answer highlighted.

While the answer streams, only the Markdown block being written is re-rendered (see
app.ui.widgets.markdown_view), so an update costs the same however long the answer is
already; updates are still spaced by a timer (at least 60 ms, more if a render was
slow) so that a fast model does not spend the GUI thread on repaints. When the run
ends, the extracted final answer is marked.

A consensus run shows one sample: the majority's, with the majority and agreement above
it, when the run finishes or is reopened (the pane decides that itself, from the record,
so nothing depends on which slot runs first), or the one the consensus controller passes
to show_sample when a sample is clicked.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QGuiApplication, QPalette
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.core.answers.extract import final_answer_span
from app.core.consensus.record import is_consensus_run, majority_text
from app.core.conversation import majority_sample
from app.core.history.describe import sample_label
from app.core.history.records import RunRecord, RunStatus, SampleRecord
from app.core.inference.token_stats import TokenStats
from app.core.run_clock import RunProgress
from app.ui.confidence.book import BOOK
from app.ui.confidence.controls import ConfidenceControls
from app.ui.confidence.text_view import ConfidencePane
from app.ui.conversation.session import ChatSession
from app.ui.widgets.markdown_view import MarkdownView
from app.ui.widgets.render import document_css


def no_answer_note(record: RunRecord) -> str | None:
    """What the empty answer pane says after a run that gave no answer (None: it did)."""
    if record.answer.strip() or is_consensus_run(record):
        return None
    if record.status == RunStatus.CANCELLED:
        return "Stopped before the model answered."
    if record.error or record.status == RunStatus.ERROR:
        return "No answer: the run failed (the message is above)."
    sample = record.samples[0] if record.samples else None
    if sample is not None and sample.finish_reason == "length":
        where = "reasoning" if record.trace.strip() else "before answering"
        return (f"No answer: the model used all {sample.tokens} tokens {where}. "
                "Raise Max tokens in Settings and ask again.")  # fmt: skip
    if record.trace.strip():
        return "No answer: the model stopped while still reasoning (see the reasoning pane)."
    return "The model finished without giving an answer."


class AnswerView(QWidget):
    """The answer pane over a ChatSession: follows its runs (streamed, finished, reopened,
    reset); show_sample shows one sample of a consensus run."""

    def __init__(self, session: ChatSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("<b>Answer</b>")
        self.final = QLabel("")
        self.final.setTextFormat(Qt.TextFormat.PlainText)  # model text: never markup
        self.final.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.copy_button = QPushButton("Copy ans&wer")
        self.copy_button.setToolTip("Copy the answer (as Markdown) to the clipboard")
        self.browser = MarkdownView()
        self.browser.setPlaceholderText("The answer appears here.")
        self.browser.setMinimumSize(200, 120)
        self.browser.setAccessibleName("Answer")
        # In confidence mode the answer shows as its Markdown source, shaded token by
        # token: a rendered document has no stable map from the model's characters to
        # what is drawn (markup dropped, maths replaced), the source has one exactly.
        self.source = ConfidencePane()
        self.source.text.setAccessibleName("Answer source, shaded by confidence")
        self.source.hide()
        self._confidence: ConfidenceControls | None = None

        header = QHBoxLayout()
        header.addWidget(self.title)
        header.addStretch(1)
        header.addWidget(self.copy_button)
        # Its own full-width row: a consensus summary is a sentence, not a word.
        self.final.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.final)
        self.final.hide()  # shown with a summary; an empty row would offset the pane
        layout.addWidget(self.browser, 1)
        layout.addWidget(self.source, 1)

        self.copy_button.clicked.connect(self._on_copy_clicked)
        self._apply_style()
        session.run_started.connect(self._on_run_started)
        session.progress_made.connect(self._on_progress_made)
        session.run_finished.connect(self._on_run_shown)
        session.run_opened.connect(self._on_run_shown)
        session.conversation_reset.connect(self._on_conversation_reset)

    def markdown(self) -> str:
        """The answer as the model wrote it (streamed so far)."""
        return self.browser.markdown()

    def show_markdown(self, text: str, highlight: tuple[int, int] | None = None) -> None:
        self.browser.show_markdown(text, highlight)

    def follow_confidence(self, controls: ConfidenceControls) -> None:
        """Shade the answer when ``controls``' switch is on (the trace pane's switch)."""
        self._confidence = controls
        controls.add_pane(self.source)
        controls.toggle_action.toggled.connect(self._sync_confidence)
        self._sync_confidence()

    def show_sample(self, sample: SampleRecord, note: str = "") -> None:
        """One sample's answer, its final answer marked; the line above says note (the run's
        majority) or else the sample's final answer, then which sample it is."""
        self.show_markdown(sample.answer, final_answer_span(sample.answer, sample.extracted))
        self._show_source(sample.answer, BOOK.get(sample))
        final = f"final answer: {sample.extracted}" if sample.extracted else "no final answer"
        self.set_summary(f"{note or final} · {sample_label(sample)}")

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_style()  # follow a light/dark switch of the desktop
        super().changeEvent(event)

    def set_summary(self, text: str) -> None:
        """The line above the answer: the final answer, or a consensus run's outcome."""
        self.final.setText(text)
        self.final.setVisible(bool(text))

    def _apply_style(self) -> None:
        dark = self.palette().color(QPalette.ColorRole.Base).lightness() < 128
        self.browser.document().setDefaultStyleSheet(document_css(dark))
        if self.markdown():
            self.browser.rerender()

    def _on_copy_clicked(self) -> None:
        QGuiApplication.clipboard().setText(self.markdown())

    def _show_source(self, answer: str, stats: TokenStats | None) -> None:
        self.source.set_tokens(answer, stats, "answer")
        if self._confidence is not None:
            self._confidence.pane_changed(self.source)
        self._sync_confidence()

    def _sync_confidence(self, *_checked: object) -> None:
        shaded = self._confidence is not None and self._confidence.on
        shaded = shaded and self.source.text.stats is not None
        self.source.setVisible(shaded)
        self.browser.setVisible(not shaded)

    def _on_run_started(self, _record: RunRecord) -> None:
        self.set_summary("")
        self.show_markdown("")
        self._show_source("", None)

    def _on_progress_made(self, progress: RunProgress) -> None:
        self.browser.stream_markdown(progress.answer_delta)

    def _on_run_shown(self, record: RunRecord) -> None:
        if is_consensus_run(record):  # the majority's sample answers for the run
            majority, outcome = majority_sample(record), majority_text(record.consensus)
            if majority is not None:
                self.show_sample(majority, outcome)
            else:
                self.set_summary(outcome)
                self.show_markdown("")
            return
        sample = record.samples[0] if record.samples else None
        extracted = sample.extracted if sample else None
        self.set_summary(f"Final answer: {extracted}" if extracted else "")
        # Only the tail is re-rendered when the text is what streamed.
        self.browser.finish_markdown(record.answer, final_answer_span(record.answer, extracted))
        self._show_source(record.answer, BOOK.get(sample))

    def _on_conversation_reset(self) -> None:
        self.set_summary("")
        self.show_markdown("")
        self._show_source("", None)
