"""The whole-conversation view: every turn, folding reasoning, width-aware layout, copy,
and (with the real model in the real window) regenerate, edit-and-resend, a cleared
question box and follow-ups that never carry reasoning."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.core.conversation import open_history
from app.core.history.records import RunRecord, RunStatus, SampleRecord
from app.core.inference.sampling import SamplingParams
from app.core.run_clock import RunProgress
from app.ui.conversation.session import ChatSession
from app.ui.conversation.transcript import TranscriptView
from app.ui.conversation.turn_view import NOT_SENT_NOTE, SIDE_BY_SIDE_WIDTH, TurnView
from app.ui.main_window import MainWindow
from app.ui.settings.store import WindowSettings
from tests.ui.test_main_window import RUN_TIMEOUT_MS, ask, bare_window, window

__all__ = ["bare_window", "window"]  # fixtures used below
pytestmark = pytest.mark.gui


def record(question: str, trace: str, answer: str, run_id: int,
           status: str = RunStatus.DONE) -> RunRecord:  # fmt: skip
    sample = SampleRecord(0, 1, trace, answer, None, None, 10, 1.0, "stop")
    return RunRecord(id=run_id, conversation_id=1, turn=run_id, created_at=time.time(),
                     question=question, model_name="m", model_path="/m.gguf", model_sha256=None,
                     params={"reasoning": {"tokens": 7, "seconds": 2.4}},
                     samples=[sample], status=status)  # fmt: skip


def progress(trace: str = "", answer: str = "") -> RunProgress:
    return RunProgress(trace, answer, 5, 5 if trace else 0, None, 0.1, 0.05, 10.0)


@pytest.fixture
def session(qtbot: QtBot) -> Iterator[ChatSession]:
    store, message = open_history()
    assert message is None
    chat = ChatSession(store)
    yield chat
    chat.shutdown()


def _settings() -> tuple[SamplingParams, bool]:
    return SamplingParams(seed=3), False


def _transcript(session: ChatSession, qtbot: QtBot, tmp_path: Path,
                width: int = 700) -> TranscriptView:  # fmt: skip
    view = TranscriptView(session, _settings, WindowSettings(tmp_path / "window.ini"))
    qtbot.addWidget(view)
    view.resize(width, 500)
    view.show()
    return view


def _stream_turn(session: ChatSession, run: RunRecord, chunks: int = 3) -> None:
    session.run_started.emit(run)
    for _ in range(chunks):
        session.progress_made.emit(progress(trace="thinking more. "))
    session.progress_made.emit(progress(answer=run.answer))
    session.run_finished.emit(run)


def test_every_turn_is_shown_and_the_view_scrolls(
    session: ChatSession, qtbot: QtBot, tmp_path: Path
) -> None:
    view = _transcript(session, qtbot, tmp_path)
    assert view.empty.isVisible()
    for n in range(4):
        answer = f"Answer **{n}**.\n\n" + "More words. " * 40
        _stream_turn(session, record(f"Question {n}?", "thinking more. " * 3, answer, n + 1))
    assert [turn.record.question for turn in view.turns] == [f"Question {n}?" for n in range(4)]
    assert not view.empty.isVisible()
    assert "Answer 3." in view.turns[-1].answer.toPlainText()
    qtbot.waitUntil(lambda: view.scroll_area.verticalScrollBar().maximum() > 0, timeout=2000)
    # Answers grow with their text: the transcript scrolls, not each answer.
    first_answer = view.turns[0].answer
    assert first_answer.height() >= first_answer.document().size().height()
    session.conversation_reset.emit()
    assert view.turns == [] and view.empty.isVisible()


def test_reasoning_is_open_while_streaming_and_folded_after(
    session: ChatSession, qtbot: QtBot, tmp_path: Path
) -> None:
    view = _transcript(session, qtbot, tmp_path)
    run = record("Why?", "Because of this. Because of that.", "Because.", 1)
    session.run_started.emit(run)
    session.progress_made.emit(progress(trace="Because of this. "))
    turn = view.turns[0]
    assert turn.fold.isChecked() and turn.trace.isVisible()
    # Streamed text is applied at a pace (app.ui.widgets.paced_text), not per chunk.
    qtbot.waitUntil(lambda: turn.trace.toPlainText() == "Because of this. ", timeout=2000)
    session.progress_made.emit(progress(trace="Because of that."))
    session.progress_made.emit(progress(answer="Because."))
    session.run_finished.emit(run)
    assert not turn.fold.isChecked() and not turn.trace.isVisible()
    assert turn.fold.text() == "Reasoning · 7 tokens · thought for 2 s"
    assert "never sent with follow-up" in turn.fold.toolTip()
    turn.fold.click()  # the reader can still unfold it
    assert turn.trace.isVisible() and turn.trace.toPlainText() == run.trace


def test_always_open_keeps_reasoning_unfolded_and_is_remembered(
    session: ChatSession, qtbot: QtBot, tmp_path: Path
) -> None:
    view = _transcript(session, qtbot, tmp_path)
    _stream_turn(session, record("One?", "thinking more. " * 3, "1", 1))
    assert not view.turns[0].fold.isChecked()
    view.always_open_box.setChecked(True)
    assert view.turns[0].fold.isChecked()  # applies to the turns already there
    _stream_turn(session, record("Two?", "thinking more. " * 3, "2", 2))
    assert view.turns[1].fold.isChecked() and view.turns[1].trace.isVisible()
    again = _transcript(session, qtbot, tmp_path)  # the same settings file
    assert again.always_open_box.isChecked()


def test_reasoning_goes_beside_the_answer_only_when_wide(
    session: ChatSession, qtbot: QtBot, tmp_path: Path
) -> None:
    view = _transcript(session, qtbot, tmp_path, width=SIDE_BY_SIDE_WIDTH + 300)
    view.always_open_box.setChecked(True)
    _stream_turn(session, record("Wide?", "thinking more. " * 3, "Yes.", 1))
    turn = view.turns[0]
    qtbot.waitUntil(lambda: turn.width() >= SIDE_BY_SIDE_WIDTH, timeout=2000)
    assert turn.side_by_side()
    assert turn.trace.geometry().right() < turn.answer.geometry().left()  # beside
    view.resize(600, 500)
    qtbot.waitUntil(lambda: not turn.side_by_side(), timeout=2000)
    qtbot.waitUntil(
        lambda: turn.trace.geometry().bottom() < turn.answer.geometry().top(), timeout=2000
    )
    view.resize(SIDE_BY_SIDE_WIDTH + 300, 500)
    qtbot.waitUntil(turn.side_by_side, timeout=2000)
    turn.fold.click()  # folded: the answer takes the whole width
    assert not turn.side_by_side()


def test_no_reasoning_box_for_a_model_that_does_not_think(
    session: ChatSession, qtbot: QtBot, tmp_path: Path
) -> None:
    view = _transcript(session, qtbot, tmp_path)
    run = record("Hi?", "", "Hello.", 1)
    session.run_started.emit(run)
    session.progress_made.emit(progress(answer="Hello."))
    assert not view.turns[0].trace.isVisible()
    session.run_finished.emit(run)
    assert not view.turns[0].reasoning.isVisible()


def test_a_turn_of_reasoning_only_says_follow_ups_will_not_see_it(
    session: ChatSession, qtbot: QtBot, tmp_path: Path
) -> None:
    view = _transcript(session, qtbot, tmp_path)
    _stream_turn(session, record("Hard?", "I wonder. " * 5, "", 1))
    turn = view.turns[0]
    assert turn.note.isVisible() and turn.note.text() == NOT_SENT_NOTE
    _stream_turn(session, record("Easy?", "Sure. ", "Yes.", 2))
    assert not view.turns[1].note.isVisible()
    _stream_turn(session, record("Stop?", "", "Partial", 3, status=RunStatus.CANCELLED))
    assert "not a turn that follow-up questions see" in view.turns[2].note.text()


def test_copy_a_turn_puts_its_question_and_answer_on_the_clipboard(
    session: ChatSession, qtbot: QtBot, tmp_path: Path
) -> None:
    view = _transcript(session, qtbot, tmp_path)
    _stream_turn(session, record("What is 17*23?", "17*20 + 17*3", "It is **391**.", 1))
    turn = view.turns[0]
    qtbot.mouseClick(turn.copy_button, Qt.MouseButton.LeftButton)
    assert QApplication.clipboard().text() == "> What is 17*23?\n\nIt is **391**.\n"


def test_turn_actions_wait_while_a_run_streams(
    session: ChatSession, qtbot: QtBot, tmp_path: Path
) -> None:
    view = _transcript(session, qtbot, tmp_path)
    _stream_turn(session, record("One?", "", "1", 1))
    first: TurnView = view.turns[0]
    assert first.regenerate_button.isEnabled() and first.edit_button.isEnabled()
    second = record("Two?", "", "2", 2)
    session.run_started.emit(second)
    assert not first.regenerate_button.isEnabled() and not first.edit_button.isEnabled()
    assert not view.turns[1].copy_button.isEnabled()
    session.run_finished.emit(second)
    assert first.regenerate_button.isEnabled() and view.turns[1].copy_button.isEnabled()


# -- the real window and model ------------------------------------------------------------
def _sent(window: MainWindow) -> list[list[dict[str, str]]]:
    sent: list[list[dict[str, str]]] = []
    original = window.session.inference.generate

    def spy(messages: list[dict[str, str]], *args: Any) -> None:
        sent.append(messages)
        original(messages, *args)

    window.session.inference.generate = spy  # type: ignore[method-assign, assignment]
    return sent


@pytest.mark.model
def test_asking_clears_the_box_and_adds_a_turn(window: MainWindow, qtbot: QtBot) -> None:
    first = ask(window, qtbot, "Name a colour.")
    assert window.question.toPlainText() == ""
    turns = window.transcript.turns
    assert len(turns) == 1 and turns[0].record.id == first.id
    assert turns[0].answer.markdown() == first.answer and first.answer


@pytest.mark.model
def test_regenerate_asks_again_with_a_new_seed_from_that_turn(
    window: MainWindow, qtbot: QtBot
) -> None:
    sent = _sent(window)
    first = ask(window, qtbot, "Name a colour.")
    ask(window, qtbot, "Name another one.")
    assert first.samples[0].seed == 7  # the settings' fixed seed
    with qtbot.waitSignal(window.session.run_finished, timeout=RUN_TIMEOUT_MS) as finished:
        qtbot.mouseClick(window.transcript.turns[0].regenerate_button, Qt.MouseButton.LeftButton)
    again: RunRecord = finished.args[0]
    assert again.question == "Name a colour." and again.samples[0].seed != 7
    assert sent[-1] == [{"role": "user", "content": "Name a colour."}]  # nothing after it
    assert [t.record.id for t in window.transcript.turns] == [again.id]
    assert [t.id for t in window.session.turns] == [again.id]
    assert len(window.session.store.list_runs()) == 3  # the history keeps every run


@pytest.mark.model
def test_edit_a_question_and_resend_from_there(window: MainWindow, qtbot: QtBot) -> None:
    sent = _sent(window)
    first = ask(window, qtbot, "Name a colour.")
    ask(window, qtbot, "Name another one.")
    ask(window, qtbot, "And a third?")
    second = window.transcript.turns[1]
    qtbot.mouseClick(second.edit_button, Qt.MouseButton.LeftButton)
    assert second.editor.isVisible() and second.editor.toPlainText() == "Name another one."
    second.editor.setPlainText("Name a fruit.")
    with qtbot.waitSignal(window.session.run_finished, timeout=RUN_TIMEOUT_MS) as finished:
        qtbot.mouseClick(second.resend_button, Qt.MouseButton.LeftButton)
    edited: RunRecord = finished.args[0]
    # The edited question follows the first turn's question and answer, never reasoning.
    assert sent[-1] == [
        {"role": "user", "content": "Name a colour."},
        {"role": "assistant", "content": first.answer},
        {"role": "user", "content": "Name a fruit."},
    ]
    assert edited.samples[0].seed == 7  # an edit keeps the settings' seed
    assert [t.record.question for t in window.transcript.turns] == [
        "Name a colour.", "Name a fruit."
    ]  # fmt: skip
    # Reopening the edited run shows the branch that led to it.
    with qtbot.waitSignal(window.session.run_opened, timeout=2000):
        window.session.open_run(edited.id or -1)
    assert [t.record.question for t in window.transcript.turns] == [
        "Name a colour.", "Name a fruit."
    ]  # fmt: skip
