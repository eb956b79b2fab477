"""The real window, offscreen, driving the real SmolLM2 model through llama.cpp."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox
from pytestqt.qtbot import QtBot

from app.core.history.describe import describe_run
from app.core.history.records import RunRecord, RunStatus
from app.core.history.store import HistoryStore
from app.core.markdown_text import text_block
from app.ui.main_window import MainWindow

pytestmark = [pytest.mark.gui, pytest.mark.model]

SHORT = "What is 2 + 2?"
LONG = "Write a very long story about a dragon who learns to count. Make it long."
LOAD_TIMEOUT_MS = 30_000
RUN_TIMEOUT_MS = 30_000


def python_threads(before: set[threading.Thread] | None = None) -> list[threading.Thread]:
    """Real Python threads started since ``before`` (dummy entries are Qt threads seen once).

    Library daemons started by earlier tests in the same process (tqdm's monitor, the
    maths helper's reader) are not this window's threads.
    """
    return [
        t
        for t in threading.enumerate()
        if t is not threading.main_thread()
        and not isinstance(t, threading._DummyThread)
        and t not in (before or set())
    ]


@pytest.fixture
def bare_window(qtbot: QtBot) -> Iterator[MainWindow]:
    threads_before = set(threading.enumerate())
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    yield window
    window.close()
    assert not window.session.inference.qthread.isRunning()
    assert python_threads(threads_before) == []


@pytest.fixture
def window(bare_window: MainWindow, qtbot: QtBot, test_model_path: Path) -> MainWindow:
    # One thread: llama.cpp's threads spin-wait on each other, which crawls when the
    # test machine's few cores are busy with other work.
    bare_window.settings_panel.threads_spin.setValue(1)
    with qtbot.waitSignal(bare_window.session.model_loaded, timeout=LOAD_TIMEOUT_MS):
        bare_window.open_model(test_model_path)
    bare_window.settings_panel.spins["max_tokens"].setValue(24)
    bare_window.settings_panel.seed_edit.setText("7")
    return bare_window


def ask(window: MainWindow, qtbot: QtBot, question: str = SHORT) -> RunRecord:
    window.question.setPlainText(question)
    with qtbot.waitSignal(window.session.run_finished, timeout=RUN_TIMEOUT_MS) as finished:
        qtbot.mouseClick(window.ask_button, Qt.MouseButton.LeftButton)
    record: RunRecord = finished.args[0]
    return record


def test_ask_streams_and_is_saved_in_history(window: MainWindow, qtbot: QtBot) -> None:
    progress: list[Any] = []
    window.session.progress_made.connect(progress.append)
    record = ask(window, qtbot)
    assert record.status == RunStatus.DONE
    assert progress, "text streamed before the run finished"
    streamed = "".join(p.answer_delta for p in progress)
    assert streamed == record.answer
    assert window.answer_view.markdown() == record.answer
    assert window.answer_view.browser.toPlainText().strip()
    assert window.trace_view.plain_text() == record.trace
    assert "tok/s" in window.statusBar().speed_label.text()  # type: ignore[attr-defined]
    assert window.ask_button.isEnabled() and not window.stop_button.isEnabled()
    saved = window.session.store.get_run(record.id or -1)
    assert saved.status == RunStatus.DONE
    assert saved.question == SHORT
    assert saved.answer == record.answer
    assert saved.params["seed"] == 7 and saved.params["max_tokens"] == 24
    assert window.history_panel.runs.count() == 1


def test_stop_mid_run_finishes_cancelled_quickly(window: MainWindow, qtbot: QtBot) -> None:
    window.settings_panel.spins["max_tokens"].setValue(4000)
    window.question.setPlainText(LONG)
    with qtbot.waitSignal(window.session.progress_made, timeout=RUN_TIMEOUT_MS):
        window.ask()
    assert window.stop_button.isEnabled() and not window.ask_button.isEnabled()
    with qtbot.waitSignal(window.session.run_finished, timeout=3000) as finished:
        qtbot.keyClick(window.question, Qt.Key.Key_Escape)  # Esc stops
    record: RunRecord = finished.args[0]
    assert record.status == RunStatus.CANCELLED
    assert record.samples[0].tokens < 4000
    assert window.session.store.get_run(record.id or -1).status == RunStatus.CANCELLED


def test_keyboard_ctrl_enter_asks(window: MainWindow, qtbot: QtBot) -> None:
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=2000)
    window.question.setFocus()
    qtbot.keyClicks(window.question, SHORT)
    with qtbot.waitSignal(window.session.run_finished, timeout=RUN_TIMEOUT_MS) as finished:
        qtbot.keyClick(window.question, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert finished.args[0].question == SHORT  # Ctrl+Enter asked, it did not add a line
    assert window.question.toPlainText() == ""  # and the box is cleared for the next one


def test_empty_question_shows_inline_message(window: MainWindow, qtbot: QtBot) -> None:
    first = ask(window, qtbot)
    html_before = window.answer_view.browser.toHtml()
    window.question.setPlainText("   \n ")
    qtbot.mouseClick(window.ask_button, Qt.MouseButton.LeftButton)
    assert window.question_hint.isVisible()
    assert "Type a question" in window.question_hint.text()
    assert not window.session.busy
    assert window.answer_view.browser.toHtml() == html_before  # the last answer stays
    assert [s.id for s in window.session.store.list_runs()] == [first.id]
    window.question.setPlainText("a real question")
    assert not window.question_hint.isVisible()


def test_follow_up_continues_and_new_conversation_resets(window: MainWindow, qtbot: QtBot) -> None:
    sent: list[list[dict[str, str]]] = []
    original = window.session.inference.generate

    def spy(messages: list[dict[str, str]], *args: Any) -> None:
        sent.append(messages)
        original(messages, *args)

    window.session.inference.generate = spy  # type: ignore[method-assign]
    first = ask(window, qtbot, "Name a colour.")
    second = ask(window, qtbot, "Name another one.")
    assert second.conversation_id == first.conversation_id and second.turn == 1
    assert sent[1] == [
        {"role": "user", "content": "Name a colour."},
        {"role": "assistant", "content": first.answer},
        {"role": "user", "content": "Name another one."},
    ]
    assert "earlier turns go" in window.turn_label.text()
    qtbot.mouseClick(window.new_button, Qt.MouseButton.LeftButton)
    assert window.turn_label.text() == ""
    third = ask(window, qtbot, "Hello?")
    assert third.conversation_id != first.conversation_id and third.turn == 0
    assert len(sent[2]) == 1


def test_history_reopen_shows_the_run_exactly(window: MainWindow, qtbot: QtBot) -> None:
    first = ask(window, qtbot, "What is 3 + 5?")
    shown_html = window.answer_view.browser.toHtml()
    shown_trace = window.trace_view.plain_text()
    shown_info = window.run_info.text()
    window.settings_panel.spins["temperature"].setValue(1.3)
    ask(window, qtbot, "Say hello.")
    panel = window.history_panel
    assert panel.runs.count() == 2
    assert panel.select_run(first.id or -1)
    with qtbot.waitSignal(window.session.run_opened, timeout=2000):
        qtbot.mouseClick(panel.open_button, Qt.MouseButton.LeftButton)
    assert window.question.toPlainText() == "What is 3 + 5?"
    assert window.answer_view.browser.toHtml() == shown_html
    assert window.trace_view.plain_text() == shown_trace
    assert window.run_info.text() == shown_info == describe_run(first)
    assert "T 0.7" in shown_info and "seed 7" in shown_info and first.model_name in shown_info


def test_history_search_delete_and_export(
    window: MainWindow, qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = ask(window, qtbot, "What is 3 + 5?")
    ask(window, qtbot, "Say hello.")
    panel = window.history_panel
    qtbot.keyClicks(panel.search, "3 + 5")
    qtbot.waitUntil(lambda: panel.runs.count() == 1, timeout=3000)
    panel.runs.setCurrentRow(0)
    assert panel.selected_run_id() == first.id

    target = tmp_path / "exported"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    qtbot.mouseClick(panel.export_md_button, Qt.MouseButton.LeftButton)
    markdown = (tmp_path / "exported.md").read_text("utf-8")
    # The answer is model text, so the file holds it escaped for Markdown.
    assert "What is 3 + 5?" in markdown and text_block(first.answer)[:20] in markdown
    qtbot.mouseClick(panel.export_json_button, Qt.MouseButton.LeftButton)
    data = json.loads((tmp_path / "exported.json").read_text("utf-8"))
    assert data["format"] == "quorum.run"
    assert data["samples"][0]["answer"] == first.answer
    assert "Exported" in window.banner.text()

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    qtbot.mouseClick(panel.delete_button, Qt.MouseButton.LeftButton)
    panel.search.clear()
    qtbot.waitUntil(lambda: panel.runs.count() == 1, timeout=3000)
    assert [s.question for s in window.session.store.list_runs()] == ["Say hello."]


def test_broken_model_file_shows_a_message(
    bare_window: MainWindow, qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + bytes(range(256)) * 4)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(broken), ""))
    with qtbot.waitSignal(bare_window.session.model_failed, timeout=LOAD_TIMEOUT_MS):
        qtbot.mouseClick(bare_window.model_picker.open_button, Qt.MouseButton.LeftButton)
    assert "could not be loaded" in bare_window.banner.text()
    assert bare_window.banner.level == "error"
    assert not bare_window.ask_button.isEnabled()
    bare_window.question.setPlainText(SHORT)
    bare_window.ask()  # through the shortcut's path: a message, not an exception
    assert "No model" in bare_window.question_hint.text()


def test_a_good_model_after_a_broken_one(
    bare_window: MainWindow, qtbot: QtBot, tmp_path: Path, test_model_path: Path
) -> None:
    broken = tmp_path / "garbage.gguf"
    broken.write_bytes(b"not a model at all")
    with qtbot.waitSignal(bare_window.session.model_failed, timeout=LOAD_TIMEOUT_MS):
        bare_window.open_model(broken)
    with qtbot.waitSignal(bare_window.session.model_loaded, timeout=LOAD_TIMEOUT_MS):
        bare_window.open_model(test_model_path)
    assert bare_window.banner.text() == ""
    assert bare_window.ask_button.isEnabled()
    # SmolLM2's template has no thinking switch, so the toggle follows the engine.
    assert not bare_window.settings_panel.thinking_box.isEnabled()


def test_closing_mid_run_leaves_no_thread_and_records_the_run(
    window: MainWindow, qtbot: QtBot
) -> None:
    threads_before = {t for t in threading.enumerate() if t.daemon}
    window.settings_panel.spins["max_tokens"].setValue(4000)
    window.question.setPlainText(LONG)
    with qtbot.waitSignal(window.session.progress_made, timeout=RUN_TIMEOUT_MS):
        window.ask()
    db_path = window.session.store.path
    window.close()
    assert window.session.inference.qthread.isFinished()
    assert python_threads(threads_before) == []
    with HistoryStore(db_path) as store:
        runs = store.list_runs()
        assert [r.status for r in runs] == [RunStatus.CANCELLED]
        assert store.get_run(runs[0].id).samples[0].answer


def test_window_remembers_model_and_settings(
    window: MainWindow, qtbot: QtBot, test_model_path: Path
) -> None:
    window.settings_panel.spins["temperature"].setValue(0.25)
    window.splitter.setSizes([100, 500])
    window.close()
    again = MainWindow()
    qtbot.addWidget(again)
    try:
        assert again.settings_panel.spins["temperature"].value() == pytest.approx(0.25)
        assert again.window_settings.last_model() == test_model_path
        with qtbot.waitSignal(again.session.model_loaded, timeout=LOAD_TIMEOUT_MS):
            again.start()  # loads the model used last time
        assert again.settings_panel.spins["temperature"].value() == pytest.approx(0.25)
    finally:
        again.close()


def test_reload_applies_runtime_settings(window: MainWindow, qtbot: QtBot) -> None:
    window.settings_panel.context_spin.setValue(1024)
    with qtbot.waitSignal(window.session.model_loaded, timeout=LOAD_TIMEOUT_MS) as loaded:
        qtbot.mouseClick(window.settings_panel.reload_button, Qt.MouseButton.LeftButton)
    assert loaded.args[0].n_ctx == 1024 and loaded.args[0].runtime.n_threads == 1
    assert "context 1024" in window.statusBar().model_label.text()  # type: ignore[attr-defined]
    record = ask(window, qtbot)
    assert record.params["n_ctx"] == 1024 and record.params["threads"] == 1


def test_collapsing_the_trace_gives_the_answer_the_width(
    bare_window: MainWindow, qtbot: QtBot
) -> None:
    bare_window.resize(1200, 700)
    bare_window.history_dock.hide()
    bare_window.settings_dock.hide()
    bare_window.results.setCurrentWidget(bare_window.splitter)  # the run detail tab
    qtbot.waitUntil(lambda: sum(bare_window.splitter.sizes()) > 900, timeout=2000)
    bare_window.splitter.setSizes([500, 500])
    before = bare_window.splitter.sizes()
    bare_window.trace_view.toggle.click()
    narrow, wide = bare_window.splitter.sizes()
    assert narrow < before[0] - 100 and wide > before[1] + 100
    assert not bare_window.trace_view.text.isVisible()
    bare_window.trace_view.toggle.click()
    assert bare_window.splitter.sizes() == before


def test_cpu_fallback_shows_in_status_bar_about_and_record(
    bare_window: MainWindow, qtbot: QtBot, test_model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.core.inference.cpu_probe import FORCE_ENV
    from app.core.inference.probe_child import SIMULATE_CRASH_ENV

    # The real probe, with the fastest configuration crashing as it does on AMX VMs.
    monkeypatch.delenv(FORCE_ENV, raising=False)
    monkeypatch.setenv(SIMULATE_CRASH_ENV, "repack:prompt")
    bare_window.settings_panel.threads_spin.setValue(1)
    with qtbot.waitSignal(bare_window.session.model_loaded, timeout=LOAD_TIMEOUT_MS):
        bare_window.open_model(test_model_path)
    label = bare_window.status.model_label
    assert label.text().endswith("· no-repack")
    assert "crash in llama.cpp" in label.toolTip()
    box = bare_window.show_about()
    assert "llama.cpp on this CPU: no-repack" in box.text()
    assert "about 2× slower" in box.text()
    box.close()
    bare_window.settings_panel.spins["max_tokens"].setValue(4)
    record = ask(bare_window, qtbot)
    assert record.params["llama_config"]["name"] == "no-repack"
    assert "crash in llama.cpp" in record.params["llama_config"]["note"]


def test_a_model_opened_with_ctrl_o_has_a_clean_title_and_joins_the_manager(
    bare_window: MainWindow, qtbot: QtBot, test_model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        lambda *a, **k: (str(test_model_path), ""))  # fmt: skip
    bare_window.activateWindow()
    qtbot.waitUntil(bare_window.isActiveWindow, timeout=2000)
    with (
        qtbot.waitSignal(bare_window.session.model_loaded, timeout=LOAD_TIMEOUT_MS),
        qtbot.waitSignal(bare_window.models.library_changed, timeout=LOAD_TIMEOUT_MS),
    ):
        qtbot.keyClick(bare_window, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)
    # The GGUF calls itself "Smollm2 135M 8k Lc100K Mix1 Ep2"; Qt adds " — Quorum".
    assert bare_window.windowTitle() == "SmolLM2 135M Instruct"
    assert "SmolLM2 135M Instruct" in bare_window.status.model_label.text()
    manager = bare_window.models.manage_models()
    paths = [entry.path for entry in manager.entries if entry.source == "local"]
    assert test_model_path.resolve() in paths
    manager.reject()


def test_a_run_with_no_answer_says_so_in_the_answer_pane(
    bare_window: MainWindow, qtbot: QtBot, test_model_path: Path, tmp_path: Path
) -> None:
    from tests.core.inference.test_chat_template import OPENS_THINK_TEMPLATE
    from tests.gguf_edit import copy_with_string

    # A template that opens <think> itself: with 8 tokens, everything is reasoning.
    thinker = copy_with_string(test_model_path, tmp_path / "thinker.gguf",
                               "tokenizer.chat_template", OPENS_THINK_TEMPLATE)  # fmt: skip
    window = bare_window
    window.settings_panel.threads_spin.setValue(1)
    with qtbot.waitSignal(window.session.model_loaded, timeout=LOAD_TIMEOUT_MS):
        window.open_model(thinker)
    window.settings_panel.spins["max_tokens"].setValue(8)
    window.settings_panel.spins["temperature"].setValue(0.0)  # greedy: a story runs on
    assert window.answer_view.browser.placeholderText() == "The answer appears here."
    record = ask(window, qtbot, LONG)
    assert record.answer == "" and record.trace and record.samples[0].finish_reason == "length"
    assert window.answer_view.browser.toPlainText() == ""
    assert window.answer_view.browser.placeholderText() == (
        "No answer: the model used all 8 tokens reasoning. "
        "Raise Max tokens in Settings and ask again."
    )
    window.settings_panel.spins["max_tokens"].setValue(200)
    window.question.setPlainText(SHORT)
    placeholders: list[str] = []
    window.session.run_started.connect(
        lambda _record: placeholders.append(window.answer_view.browser.placeholderText())
    )
    with qtbot.waitSignal(window.session.run_finished, timeout=RUN_TIMEOUT_MS):
        window.ask()
    assert placeholders == ["The answer appears here."]


@pytest.mark.parametrize(
    ("status", "trace", "finish", "error", "note"),
    [
        (RunStatus.CANCELLED, "", "cancelled", None, "Stopped before the model answered."),
        (RunStatus.ERROR, "", "error", "boom", "No answer: the run failed (the message is above)."),
        (RunStatus.DONE, "Hmm, 2 and 2", "stop", None,
         "No answer: the model stopped while still reasoning (see the reasoning pane)."),
        (RunStatus.DONE, "", "stop", None, "The model finished without giving an answer."),
        (RunStatus.DONE, "", "length", None,
         "No answer: the model used all 5 tokens before answering. "
         "Raise Max tokens in Settings and ask again."),
    ],
)  # fmt: skip
def test_no_answer_note_says_why(
    status: str, trace: str, finish: str, error: str | None, note: str
) -> None:
    from app.core.history.records import SampleRecord
    from app.ui.conversation.answer_view import no_answer_note

    sample = SampleRecord(0, 1, trace, "", None, None, 5, 0.1, finish)
    record = RunRecord(id=1, conversation_id=1, turn=0, created_at=0.0, question="q",
                       model_name="m", model_path="/m", model_sha256=None, params={},
                       samples=[sample], status=status, error=error)  # fmt: skip
    assert no_answer_note(record) == note
    answered = RunRecord(
        **{**record.__dict__, "samples": [SampleRecord(0, 1, "", "4", None, None, 1, 0.1, "stop")]}
    )
    assert no_answer_note(answered) is None
