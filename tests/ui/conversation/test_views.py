"""The views on their own: streaming into the panes, model picker, status bar, session."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFileDialog
from pytestqt.qtbot import QtBot

from app.core.conversation import messages_for, open_history, status_for
from app.core.history.records import RunRecord, RunStatus, SampleRecord
from app.core.history.store import HistoryStore
from app.core.machine import resident_memory_bytes
from app.core.models import library
from app.core.run_clock import RunProgress
from app.core.units import memory_text
from app.ui.conversation.answer_view import AnswerView
from app.ui.conversation.session import ChatSession
from app.ui.conversation.trace_view import TraceView, describe_reasoning
from app.ui.models.model_name import entry_name
from app.ui.models.picker import ModelChoice, ModelPicker
from app.ui.widgets.markdown_stream import StreamUpdate

pytestmark = pytest.mark.gui


def record(question: str, trace: str, answer: str, extracted: str | None = None) -> RunRecord:
    sample = SampleRecord(0, 1, trace, answer, extracted, "phrase" if extracted else None,
                          10, 1.0, "stop")  # fmt: skip
    return RunRecord(id=None, conversation_id=None, turn=0, created_at=time.time(),
                     question=question, model_name="m", model_path="/m.gguf", model_sha256=None,
                     params={"reasoning": {"tokens": 7, "seconds": 2.4}},
                     samples=[sample], status=RunStatus.DONE)  # fmt: skip


def progress(trace: str = "", answer: str = "", tokens: int = 1) -> RunProgress:
    return RunProgress(trace, answer, tokens, tokens if trace else 0, None, 0.1, 0.05, 10.0)


@pytest.fixture
def session(qtbot: QtBot) -> Iterator[ChatSession]:
    store, message = open_history()
    assert message is None
    chat = ChatSession(store)
    yield chat
    chat.shutdown()
    assert chat.inference.qthread.isFinished()


def test_follow_ups_send_answers_but_never_reasoning() -> None:
    turns = [record("What is 2+2?", "Let me think: two and two...", "It is 4.")]
    messages = messages_for(turns, "And 3+3?")
    assert messages == [
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "It is 4."},
        {"role": "user", "content": "And 3+3?"},
    ]
    assert all("think" not in m["content"] for m in messages)


def test_status_for_each_finish_reason() -> None:
    assert [status_for(r) for r in ("stop", "length", "context_full")] == [RunStatus.DONE] * 3
    assert status_for("cancelled") == RunStatus.CANCELLED
    assert (
        status_for("error") == RunStatus.ERROR and status_for("prompt_too_long") == RunStatus.ERROR
    )


def test_corrupt_history_is_moved_aside_with_a_message(tmp_path: Path) -> None:
    from app.core.history.database import default_path

    default_path().write_bytes(b"this is not sqlite" * 100)
    store, message = open_history()
    try:
        assert message is not None and "moved aside" in message
        assert store.list_runs() == []
    finally:
        store.close()


def test_answer_view_streams_with_spaced_renders(session: ChatSession, qtbot: QtBot) -> None:
    view = AnswerView(session)
    qtbot.addWidget(view)
    view.show()
    renders: list[float] = []
    original = view.browser.append_markdown

    def counting_render(delta: str) -> StreamUpdate:
        renders.append(time.monotonic())
        return original(delta)

    view.browser.append_markdown = counting_render  # type: ignore[method-assign]
    session.run_started.emit(record("q", "", ""))
    renders.clear()
    for word in ["The ", "answer ", "is ", "**", "42", "**."] * 20:
        session.progress_made.emit(progress(answer=word))
    assert renders == []  # a burst of chunks schedules one render, it does not do 120
    qtbot.waitUntil(lambda: len(renders) == 1, timeout=2000)
    assert "The answer is 42" in view.browser.toPlainText()
    final = record("q", "", "The answer is **42**.", "42")
    session.run_finished.emit(final)
    assert view.markdown() == "The answer is **42**."
    marked = view.browser.document().find("42").charFormat().background()
    assert marked.style() != Qt.BrushStyle.NoBrush  # the final answer is highlighted
    assert view.final.text() == "Final answer: 42"


def test_a_hidden_answer_view_renders_nothing_until_shown(
    session: ChatSession, qtbot: QtBot
) -> None:
    # The Run detail tab is hidden while the conversation streams: its views must not
    # spend the GUI thread (which shares the cores with llama.cpp) on text nobody sees.
    view = AnswerView(session)
    qtbot.addWidget(view)
    session.run_started.emit(record("q", "", ""))
    session.progress_made.emit(progress(answer="The answer is **42**."))
    qtbot.wait(400)  # several render intervals
    assert view.browser.toPlainText() == ""
    assert view.markdown() == "The answer is **42**."  # waiting, whole
    view.show()
    qtbot.waitUntil(lambda: "The answer is 42" in view.browser.toPlainText(), timeout=2000)


def test_trace_view_streams_counts_and_collapses(session: ChatSession, qtbot: QtBot) -> None:
    view = TraceView(session)
    qtbot.addWidget(view)
    view.show()
    session.run_started.emit(record("q", "", ""))
    session.progress_made.emit(progress(trace="First, ", tokens=3))
    session.progress_made.emit(progress(trace="add.", tokens=5))
    assert view.plain_text() == "First, add."
    assert view.summary.text().startswith("5 tokens")
    session.run_opened.emit(record("q", "Reasoned text", "4"))
    assert view.plain_text() == "Reasoned text"
    assert view.summary.text() == "7 tokens · thought for 2 s"
    view.toggle.click()
    assert not view.text.isVisible()
    view.copy_button.click()
    assert QApplication.clipboard().text() == "Reasoned text"
    assert describe_reasoning(0, None, thinking=False) == "No reasoning"


def test_model_picker_lists_library_models_and_opens_files(
    qtbot: QtBot, test_model_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = library.import_local(test_model_path)
    picker = ModelPicker()
    qtbot.addWidget(picker)
    assert picker.set_current(test_model_path.resolve())
    assert entry_name(entry) in picker.combo.currentText()
    chosen: list[ModelChoice] = []
    picker.model_chosen.connect(chosen.append)
    picker.combo.activated.emit(picker.combo.currentIndex())
    assert chosen[-1].path == test_model_path.resolve() and chosen[-1].sha256 == entry.sha256
    other = tmp_path / "other.gguf"
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(other), ""))
    picker.open_button.click()
    assert chosen[-1].path == other and picker.current_path() == other
    picker.refresh()  # after a download: library models again, the opened file kept
    assert picker.set_current(other) and picker.set_current(test_model_path.resolve())


def test_memory_reading_and_format() -> None:
    used = resident_memory_bytes()
    assert used is not None and used > 10 * 2**20
    assert memory_text(3 * 2**30) == "3.00 GiB" and memory_text(None) == "—"


def test_session_refuses_with_readable_messages(session: ChatSession) -> None:
    from app.core.conversation import ConversationError
    from app.core.inference.sampling import SamplingParams

    with pytest.raises(ConversationError, match="Type a question"):
        session.ask("  ", SamplingParams(), True)
    with pytest.raises(ConversationError, match="No model"):
        session.ask("hi", SamplingParams(), True)
    assert isinstance(session.store, HistoryStore)
