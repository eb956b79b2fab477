"""The whole conversation, every turn in order, scrollable: what a chat window shows.

`TranscriptView` follows a ChatSession: a run that starts adds a turn at the bottom and
streams into it; a reopened run shows the turns that led to it; a new conversation
empties it. Each turn can be asked again from where it stands (regenerated with a
fresh seed, or edited and resent): the session rewinds the conversation to the turns
before it, and the transcript drops that turn and the ones after it, as the model
will no longer see them.

The sampling settings for a turn asked again come from ``ask_settings``, the same place
the window's Ask button takes them from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import QByteArray, Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from app.core.answers.extract import final_answer_span
from app.core.consensus.record import is_consensus_run, majority_text
from app.core.conversation import ConversationError, majority_sample
from app.core.history.records import RunRecord, RunStatus
from app.core.inference.sampling import SamplingParams
from app.core.run_clock import RunProgress
from app.ui.conversation.session import ChatSession
from app.ui.conversation.turn_view import TurnView
from app.ui.settings.store import WindowSettings

AskSettings = Callable[[], tuple[SamplingParams, bool]]  # sampling, thinking
ALWAYS_OPEN_KEY = "transcript/reasoning_always_open"
EMPTY_TEXT = "Ask a question: each turn of the conversation appears here."


class TranscriptView(QWidget):
    """Every turn of the conversation, scrollable; see the module docstring."""

    def __init__(self, session: ChatSession, ask_settings: AskSettings,
                 settings: WindowSettings | None = None,
                 parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.session = session
        self._ask_settings = ask_settings
        self._settings = settings
        self.turns: list[TurnView] = []
        self._live: TurnView | None = None  # the single run streaming now
        self._rewind_from: int | None = None  # the view a turn asked again starts from

        self.always_open_box = QCheckBox("Keep reasoning &open")
        self.always_open_box.setToolTip("Leave each turn's reasoning unfolded once it ends")
        stored = settings.bytes_value(ALWAYS_OPEN_KEY) if settings else None
        self.always_open_box.setChecked(stored is not None and bytes(stored.data()) == b"1")
        self.hint = QLabel("")
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: #c0392b;")
        self.hint.hide()
        self.empty = QLabel(EMPTY_TEXT)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.column = QVBoxLayout()
        self.column.addWidget(self.empty)
        self.column.addStretch(1)
        inner = QWidget()
        inner.setLayout(self.column)
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setWidget(inner)
        self.scroll_area.setAccessibleName("Conversation")
        top = QHBoxLayout()
        top.addWidget(QLabel("<b>Conversation</b>"))
        top.addStretch(1)
        top.addWidget(self.always_open_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.hint)
        layout.addWidget(self.scroll_area, 1)

        self.always_open_box.toggled.connect(self._on_always_open_toggled)
        session.run_started.connect(self._on_run_started)
        session.progress_made.connect(self._on_progress_made)
        session.run_finished.connect(self._on_run_finished)
        session.run_opened.connect(self._on_run_opened)
        session.conversation_reset.connect(self._clear)
        session.conversation_rewound.connect(self._on_rewound)

    # -- session events ---------------------------------------------------------------
    def _on_run_started(self, record: RunRecord) -> None:
        self.hint.hide()
        follow = self._at_bottom()
        view = self._add(record)
        self._live = None if is_consensus_run(record) else view
        for turn in self.turns:
            turn.set_busy(True)
        if follow or len(self.turns) == 1:
            self._scroll_to_bottom()

    def _on_progress_made(self, progress: RunProgress) -> None:
        if self._live is None:
            return
        follow = self._at_bottom()
        self._live.append(progress.trace_delta, progress.answer_delta, progress.trace_tokens,
                          progress.thought_seconds)  # fmt: skip
        if follow:
            self._scroll_to_bottom()

    def _on_run_finished(self, record: RunRecord) -> None:
        view = self._view_for(record) or self._add(record)
        self._live = None
        self._finish(view, record)
        for turn in self.turns:
            turn.set_busy(False)

    def _on_run_opened(self, record: RunRecord) -> None:
        self._clear()
        shown = self.session.turns
        if record.status != RunStatus.DONE or all(turn.id != record.id for turn in shown):
            shown.append(record)  # a stopped run is no turn, but it is what was opened
        for turn in shown:
            self._finish(self._add(turn), turn)
        for view in self.turns:
            view.set_busy(False)
        self._scroll_to_bottom()

    def _on_rewound(self, turns: int) -> None:
        start = self._rewind_from if self._rewind_from is not None else self._view_index(turns)
        self._rewind_from = None
        for view in self.turns[start:]:
            self.column.removeWidget(view)
            view.deleteLater()
        del self.turns[start:]

    # -- a turn's own requests ------------------------------------------------------------
    def _ask_again(self, view: TurnView, question: str, fresh_seed: bool) -> None:
        index = self.turns.index(view)
        turn = sum(1 for earlier in self.turns[:index] if earlier.record.status == RunStatus.DONE)
        try:
            sampling, thinking = self._ask_settings()
            if fresh_seed:
                sampling = replace(sampling, seed=None)
            self._rewind_from = index
            self.session.ask_again(turn, question, sampling, thinking)
        except (ConversationError, ValueError) as exc:
            self._rewind_from = None
            self.hint.setText(str(exc))
            self.hint.show()

    def _on_always_open_toggled(self, always_open: bool) -> None:
        for view in self.turns:
            view.set_always_open(always_open)
        if self._settings is not None:
            flag = QByteArray(b"1" if always_open else b"0")
            self._settings.set_bytes_value(ALWAYS_OPEN_KEY, flag)

    # -- helpers ------------------------------------------------------------------------
    def _add(self, record: RunRecord) -> TurnView:
        view = TurnView(record, self.always_open_box.isChecked())
        view.regenerate_requested.connect(
            lambda: self._ask_again(view, view.record.question, fresh_seed=True)
        )
        view.resend_requested.connect(lambda text: self._ask_again(view, text, fresh_seed=False))
        view.copied.connect(self._copy)
        self.column.insertWidget(self.column.count() - 1, view)  # above the stretch
        view.show()  # now, not when the layout gets round to it
        self.turns.append(view)
        self.empty.hide()
        return view

    def _finish(self, view: TurnView, record: RunRecord) -> None:
        if is_consensus_run(record):  # the majority's sample answers for the run
            sample, summary = majority_sample(record), majority_text(record.consensus)
            trace, answer = (sample.trace, sample.answer) if sample else ("", "")
            extracted = sample.extracted if sample else None
        else:
            trace, answer, summary = record.trace, record.answer, ""
            extracted = record.samples[0].extracted if record.samples else None
        view.finish(record, trace, answer, final_answer_span(answer, extracted), summary)

    def _view_for(self, record: RunRecord) -> TurnView | None:
        for view in reversed(self.turns):
            if view.record is record or (record.id is not None and view.record.id == record.id):
                return view
        return None

    def _view_index(self, turns: int) -> int:
        done = 0
        for index, view in enumerate(self.turns):
            if done == turns:
                return index
            done += view.record.status == RunStatus.DONE
        return len(self.turns)

    def _copy(self, text: str) -> None:
        QGuiApplication.clipboard().setText(text)

    def _clear(self) -> None:
        for view in self.turns:
            self.column.removeWidget(view)
            view.deleteLater()
        self.turns, self._live = [], None
        self.empty.show()

    def _at_bottom(self) -> bool:
        bar = self.scroll_area.verticalScrollBar()
        return bar.value() >= bar.maximum() - 8

    def _scroll_to_bottom(self) -> None:
        # After the layout has taken in the new height, not before.
        QTimer.singleShot(0, self.scroll_area, self._bottom_now)

    def _bottom_now(self) -> None:
        bar = self.scroll_area.verticalScrollBar()
        bar.setValue(bar.maximum())
