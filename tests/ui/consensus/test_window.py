"""Consensus from the main window, offscreen, on the real SmolLM2 model through llama.cpp."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog
from pytestqt.qtbot import QtBot

from app.core.consensus.job import ConsensusJob
from app.core.consensus.memory_plan import ConsensusPlan
from app.core.consensus.record import has_consensus_report
from app.core.consensus.runner import (
    ConsensusEvent,
    ConsensusRequest,
    ConsensusRunner,
    ConsensusSample,
)
from app.core.conversation import majority_sample, messages_for
from app.core.history.describe import sample_label
from app.core.history.records import RunRecord, RunStatus, SampleRecord
from app.core.history.store import HistoryStore
from app.core.inference.sampling import RuntimeParams, SamplingParams
from app.ui.consensus.export import CHOICES, MARKDOWN
from app.ui.conversation.inference_thread import InferenceThread
from app.ui.conversation.worker import STOPPED_BEFORE_START
from app.ui.main_window import MainWindow
from app.ui.settings.store import WindowSettings

pytestmark = [pytest.mark.gui, pytest.mark.model, pytest.mark.usefixtures("no_message_boxes")]

QUESTION = "What is 2 + 2?"  # with seed 7 the samples disagree and end at different lengths
LOAD_TIMEOUT_MS = 30_000
RUN_TIMEOUT_MS = 60_000


def python_threads() -> list[threading.Thread]:
    return [
        t
        for t in threading.enumerate()
        if t is not threading.main_thread() and not isinstance(t, threading._DummyThread)
    ]


@pytest.fixture
def bare_window(qtbot: QtBot) -> Iterator[MainWindow]:
    window = MainWindow()
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    yield window
    window.close()
    assert not window.session.inference.qthread.isRunning()
    assert python_threads() == []


@pytest.fixture
def window(bare_window: MainWindow, qtbot: QtBot, test_model_path: Path) -> MainWindow:
    bare_window.settings_panel.threads_spin.setValue(1)  # see tests/test_ui_main_window.py
    with qtbot.waitSignal(bare_window.session.model_loaded, timeout=LOAD_TIMEOUT_MS):
        bare_window.open_model(test_model_path)
    bare_window.settings_panel.spins["max_tokens"].setValue(24)
    bare_window.settings_panel.seed_edit.setText("7")
    bare_window.consensus_options.set_enabled(True)
    bare_window.consensus_options.samples_spin.setValue(4)
    return bare_window


def ask_consensus(window: MainWindow, qtbot: QtBot, question: str = QUESTION) -> RunRecord:
    window.question.setPlainText(question)
    with qtbot.waitSignal(window.session.run_finished, timeout=RUN_TIMEOUT_MS) as finished:
        qtbot.mouseClick(window.ask_button, Qt.MouseButton.LeftButton)
    record: RunRecord = finished.args[0]
    return record


def groups_of(window: MainWindow) -> list[tuple[str, int, list[int]]]:
    stats = window.consensus_view.stats
    assert stats is not None
    return stats.groups


def test_consensus_run_fills_the_chart_is_saved_and_reopens_the_same(
    window: MainWindow, qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    view = window.consensus_view
    assert view.isVisible()  # consensus is on: the panel is shown
    seen_at_first_sample: list[tuple[str, str]] = []
    chips_as_samples_arrive: list[int] = []

    def on_sample(event: ConsensusSample) -> None:
        if not seen_at_first_sample:
            seen_at_first_sample.append((view.figures.plan_label.text(), window.run_info.text()))
        chips = view.chips
        chips_as_samples_arrive.append(sum(chips.group_of(i) is not None for i in range(4)))

    window.consensus_session.sampled.connect(on_sample)
    record = ask_consensus(window, qtbot)

    # The memory plan was on screen before the first sample finished.
    plan_text, status_text = seen_at_first_sample[0]
    assert "4 samples, 4 at a time" in plan_text and "MiB of KV cache" in plan_text
    assert status_text.startswith("Consensus: 4 samples")
    # The chart filled in live: one more coloured chip per finished sample.
    assert chips_as_samples_arrive == [1, 2, 3, 4]
    assert view.chips.total == 4 and len(view.samples) == 4
    assert sum(count for _label, count, _members in groups_of(window)) == 4
    live_groups = groups_of(window)

    assert record.status == RunStatus.DONE and has_consensus_report(record)
    saved = window.session.store.get_run(record.id or -1)
    assert has_consensus_report(saved) and saved.status == RunStatus.DONE
    assert len(saved.samples) == 4 and all(s.group for s in saved.samples)
    assert saved.params["samples"] == 4 and saved.params["seed"] == 7
    assert window.history_panel.runs.count() == 1
    assert "consensus: 4 of 4 samples" in window.run_info.text()

    # The answer pane shows the majority: the first sample of the largest group.
    leader = majority_sample(saved)
    assert leader is not None and leader.index == live_groups[0][2][0]
    assert window.answer_view.markdown() == leader.answer
    assert window.trace_view.plain_text() == leader.trace
    final = window.answer_view.final.text()
    assert sample_label(leader) in final and "agreement" in final and "Majority" in final

    # A single run replaces the panel's content; reopening brings the same groups back.
    window.consensus_options.set_enabled(False)
    with qtbot.waitSignal(window.session.run_finished, timeout=RUN_TIMEOUT_MS):
        window.question.setPlainText("Say hello.")
        window.ask()
    assert view.stats is None and not view.isVisible()
    panel = window.history_panel
    assert panel.select_run(record.id or -1)
    with qtbot.waitSignal(window.session.run_opened, timeout=2000):
        qtbot.mouseClick(panel.open_button, Qt.MouseButton.LeftButton)
    assert view.isVisible()
    assert groups_of(window) == live_groups
    assert {i: s.answer for i, s in view.samples.items()} == {
        s.index: s.answer for s in saved.samples
    }
    assert window.answer_view.markdown() == leader.answer
    assert window.question.toPlainText() == QUESTION

    # Export Markdown… from the history sidebar offers Markdown and writes what it offers:
    # the summary and the chart it shows; Export JSON… writes the whole report.
    offered: list[str] = []

    def save_as(name: str) -> Any:
        def dialog(_parent: Any, _title: str, _start: str, filters: str) -> tuple[str, str]:
            offered.append(filters)
            return str(tmp_path / name), filters

        return dialog

    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_as("report.md"))
    qtbot.mouseClick(panel.export_md_button, Qt.MouseButton.LeftButton)
    assert offered[-1] == "Markdown report with its chart PNG (*.md)"
    assert (tmp_path / "report.md").read_text("utf-8").startswith("#")
    assert (tmp_path / "report-chart.png").stat().st_size > 0
    assert not (tmp_path / "report.json").exists()
    assert window.banner.level == "info"
    assert window.banner.text() == (
        f"Exported run {record.id} to {tmp_path / 'report.md'} and report-chart.png"
    )
    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_as("report.json"))
    qtbot.mouseClick(panel.export_json_button, Qt.MouseButton.LeftButton)
    assert offered[-1] == "JSON report, every sample (*.json)"
    data = json.loads((tmp_path / "report.json").read_text("utf-8"))
    assert data["format"] == "quorum.consensus" and len(data["samples"]) == 4
    assert window.banner.text() == f"Exported run {record.id} to {tmp_path / 'report.json'}"
    # The panel's own button offers all three forms; the chosen one is what gets written.
    monkeypatch.setattr(
        QFileDialog,
        "getSaveFileName",
        lambda *a, **k: (str(tmp_path / "panel.md"), CHOICES[MARKDOWN][0]),
    )
    window.consensus_view.export_button.click()
    assert (tmp_path / "panel.md").exists() and (tmp_path / "panel-chart.png").exists()
    assert not (tmp_path / "panel.json").exists()
    assert window.banner.text() == (
        f"Exported the consensus report to {tmp_path / 'panel.md'} and panel-chart.png"
    )


def test_stop_mid_run_keeps_the_finished_samples(window: MainWindow, qtbot: QtBot) -> None:
    window.settings_panel.spins["max_tokens"].setValue(600)
    window.question.setPlainText(QUESTION)
    with qtbot.waitSignal(window.consensus_session.sampled, timeout=RUN_TIMEOUT_MS):
        window.ask()
    assert window.stop_button.isEnabled() and not window.ask_button.isEnabled()
    assert not window.consensus_options.isEnabled()
    with qtbot.waitSignal(window.session.run_finished, timeout=10_000) as finished:
        qtbot.mouseClick(window.stop_button, Qt.MouseButton.LeftButton)
    record: RunRecord = finished.args[0]
    assert record.status == RunStatus.CANCELLED
    assert 1 <= len(record.samples) < 4
    saved = window.session.store.get_run(record.id or -1)
    assert saved.status == RunStatus.CANCELLED and has_consensus_report(saved)
    assert [s.index for s in saved.samples] == [s.index for s in record.samples]
    assert saved.consensus is not None and saved.consensus["n"] == len(record.samples)
    view = window.consensus_view
    assert len(view.samples) == len(record.samples)
    assert "Cancelled" in view.figures.outcome_label.text()
    assert window.ask_button.isEnabled() and not window.session.busy


def test_clicking_a_chip_shows_that_sample_in_the_panes(window: MainWindow, qtbot: QtBot) -> None:
    record = ask_consensus(window, qtbot)
    leader = majority_sample(record)
    assert leader is not None
    other = next(s for s in record.samples if s.index != leader.index)
    chips = window.consensus_view.chips
    with qtbot.waitSignal(window.consensus_view.sample_selected, timeout=2000) as selected:
        qtbot.mouseClick(
            chips, Qt.MouseButton.LeftButton, pos=chips.chip_rect(other.index).center()
        )
    assert selected.args == [other.index]
    assert window.trace_view.plain_text() == other.trace
    assert window.answer_view.markdown() == other.answer
    label = f"Sample {other.index + 1} (seed {other.seed})"  # numbered from 1
    assert label in window.answer_view.final.text()
    assert label in window.trace_view.summary.text()
    assert other.seed != leader.seed  # every sample has its own seed


def test_a_request_beyond_the_context_shows_a_message_and_starts_nothing(
    window: MainWindow, qtbot: QtBot
) -> None:
    window.settings_panel.spins["max_tokens"].setValue(10_000)  # the model's context: 8192
    window.question.setPlainText(QUESTION)
    with qtbot.waitSignal(window.consensus_session.refused, timeout=RUN_TIMEOUT_MS) as refused:
        window.ask()
    assert "exceeds the model's context" in refused.args[0]
    assert "exceeds the model's context" in window.banner.text()
    assert window.banner.level == "error"
    assert not window.session.busy and window.ask_button.isEnabled()
    assert window.session.store.list_runs() == []
    # The window still works: a possible request runs.
    window.settings_panel.spins["max_tokens"].setValue(24)
    assert ask_consensus(window, qtbot).status == RunStatus.DONE


def test_follow_up_after_a_consensus_turn_sends_the_majority_answer(
    window: MainWindow, qtbot: QtBot
) -> None:
    window.settings_panel.spins["temperature"].setValue(0)  # greedy: every sample the same
    assert window.consensus_options.set_early_stop("cannot_lose")
    first = ask_consensus(window, qtbot)
    assert len(groups_of(window)) == 1
    assert "temperature 0" in window.answer_view.final.text()  # the deterministic note
    # 3 of 4 alike: the 4th sample could not change the leader, so it was skipped.
    assert first.params["early_stop"] == "cannot_lose" and len(first.samples) == 3
    assert first.consensus is not None and first.consensus["stopped_early"]
    assert "Stopped early" in window.consensus_view.figures.outcome_label.text()
    sent: list[list[dict[str, str]]] = []
    original = window.session.inference.generate

    def spy(messages: list[dict[str, str]], *args: Any) -> None:
        sent.append(messages)
        original(messages, *args)

    window.session.inference.generate = spy  # type: ignore[method-assign,assignment]
    window.consensus_options.set_enabled(False)
    window.question.setPlainText("And 3 + 3?")
    with qtbot.waitSignal(window.session.run_finished, timeout=RUN_TIMEOUT_MS) as finished:
        window.ask()
    leader = majority_sample(first)
    assert leader is not None
    assert sent[0][1] == {"role": "assistant", "content": leader.answer}
    assert finished.args[0].conversation_id == first.conversation_id


def _sample(index: int, answer: str, group: str) -> SampleRecord:
    return SampleRecord(index=index, seed=100 + index, trace="", answer=answer, extracted=group,
                        extracted_rule="last line", tokens=3, seconds=0.1, finish_reason="stop",
                        group=group)  # fmt: skip


def test_messages_for_uses_the_majority_sample_of_a_consensus_turn() -> None:
    samples = [_sample(0, "It is 5.", "5"), _sample(1, "The answer is 4.", "4"),
               _sample(2, "4, clearly.", "4")]  # fmt: skip
    groups = [{"answer": "4", "count": 2, "samples": [2, 1]},  # ranked; members by arrival
              {"answer": "5", "count": 1, "samples": [0]}]  # fmt: skip
    turn = RunRecord(id=1, conversation_id=1, turn=0, created_at=0.0, question="2 + 2?",
                     model_name="m", model_path="m.gguf", model_sha256=None, params={},
                     samples=samples, consensus={"groups": groups},
                     status=RunStatus.DONE)  # fmt: skip
    assert messages_for([turn], "And 3 + 3?") == [
        {"role": "user", "content": "2 + 2?"},
        {"role": "assistant", "content": "4, clearly."},
        {"role": "user", "content": "And 3 + 3?"},
    ]
    single = RunRecord(id=2, conversation_id=1, turn=1, created_at=0.0, question="Hi",
                       model_name="m", model_path="m.gguf", model_sha256=None, params={},
                       samples=[_sample(0, "Hello!", "Hello!")], status=RunStatus.DONE)  # fmt: skip
    assert messages_for([single], "Bye")[1]["content"] == "Hello!"


def test_closing_mid_run_leaves_no_thread_and_saves_the_run(
    window: MainWindow, qtbot: QtBot
) -> None:
    window.settings_panel.spins["max_tokens"].setValue(600)
    window.question.setPlainText(QUESTION)
    with qtbot.waitSignal(window.consensus_session.sampled, timeout=RUN_TIMEOUT_MS):
        window.ask()
    db_path = window.session.store.path
    window.close()
    assert window.session.inference.qthread.isFinished()
    assert python_threads() == []
    with HistoryStore(db_path) as store:
        runs = store.list_runs()
        assert [r.status for r in runs] == [RunStatus.CANCELLED]
        saved = store.get_run(runs[0].id)
        assert has_consensus_report(saved) and 1 <= len(saved.samples) < 4


def test_options_are_remembered_and_the_panel_follows_the_switch(
    bare_window: MainWindow, qtbot: QtBot
) -> None:
    options, view = bare_window.consensus_options, bare_window.consensus_view
    assert not options.enabled() and not view.isVisible()
    assert not options.samples_spin.isEnabled()
    options.set_enabled(True)
    assert view.isVisible() and options.samples_spin.isEnabled()
    options.samples_spin.setValue(1000)  # clamped to the maximum
    assert options.samples() == 512
    assert options.set_early_stop("settled") and not options.set_early_stop("sometimes")
    bare_window.close()
    again = MainWindow(settings=WindowSettings())
    qtbot.addWidget(again)
    try:
        assert again.consensus_options.state() == {
            "enabled": True, "samples": 512, "early_stop": "settled"
        }  # fmt: skip
    finally:
        again.close()


def test_plan_text_is_the_plans_own_description(window: MainWindow, qtbot: QtBot) -> None:
    with qtbot.waitSignal(window.consensus_session.planned, timeout=RUN_TIMEOUT_MS) as planned:
        window.question.setPlainText(QUESTION)
        window.ask()
    plan: ConsensusPlan = planned.args[0]
    assert window.consensus_view.figures.plan_label.text() == f"Plan: {plan.describe()}"
    assert window.run_info.text() == f"Consensus: {plan.describe()}"
    with qtbot.waitSignal(window.session.run_finished, timeout=RUN_TIMEOUT_MS):
        pass


def test_stop_right_after_asking_is_not_lost(window: MainWindow, qtbot: QtBot) -> None:
    # Stop may reach the worker before it has planned the run, or just after it started.
    outcomes: list[str] = []
    window.consensus_session.refused.connect(outcomes.append)
    window.session.run_finished.connect(lambda record: outcomes.append(record.status))
    window.settings_panel.spins["max_tokens"].setValue(600)
    window.question.setPlainText(QUESTION)
    window.ask()
    window.stop()
    qtbot.waitUntil(lambda: bool(outcomes) and not window.session.busy, timeout=10_000)
    if outcomes == [STOPPED_BEFORE_START]:
        assert window.banner.level == "info" and window.session.store.list_runs() == []
    else:
        assert outcomes == [RunStatus.CANCELLED]
        assert [r.status for r in window.session.store.list_runs()] == [RunStatus.CANCELLED]
    assert window.ask_button.isEnabled()


def test_a_run_that_fails_halfway_is_saved_with_its_samples(
    window: MainWindow, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_run = ConsensusRunner.run

    def fails_after_the_first_sample(
        runner: ConsensusRunner, request: ConsensusRequest
    ) -> Iterator[ConsensusEvent]:
        for event in real_run(runner, request):
            yield event
            if isinstance(event, ConsensusSample):
                raise RuntimeError("llama.cpp ran out of memory")

    monkeypatch.setattr(ConsensusRunner, "run", fails_after_the_first_sample)
    record = ask_consensus(window, qtbot)
    assert record.status == RunStatus.ERROR and record.error == "llama.cpp ran out of memory"
    assert len(record.samples) == 1
    saved = window.session.store.get_run(record.id or -1)
    assert (
        has_consensus_report(saved) and saved.status == RunStatus.ERROR and len(saved.samples) == 1
    )
    assert "ran out of memory" in window.banner.text()
    assert "error" in window.consensus_view.figures.outcome_label.text()


def test_worker_spaces_out_progress_and_builds_the_report(
    qtbot: QtBot, test_model_path: Path
) -> None:
    inference = InferenceThread(flush_interval_s=0.2)
    worker = inference.worker
    try:
        with qtbot.waitSignal(worker.model_loaded, timeout=LOAD_TIMEOUT_MS):
            inference.load_model(test_model_path, RuntimeParams(n_ctx=1024, n_threads=1))
        progress: list[float] = []
        worker.consensus_progressed.connect(lambda _event: progress.append(time.monotonic()))
        sampling = SamplingParams(max_tokens=40, seed=3, temperature=0.8)
        request = ConsensusRequest([{"role": "user", "content": QUESTION}], sampling, 3)
        with qtbot.waitSignal(worker.consensus_finished, timeout=RUN_TIMEOUT_MS) as finished:
            inference.generate_consensus(ConsensusJob(request, QUESTION))
        report, data = finished.args
        assert len(report.finished) == 3 and data["question"] == QUESTION
        assert data["model"]["sha256"]  # hashed on the worker thread
        steps = report.tokens // 3  # decode steps, roughly: far more than the signals
        assert 0 < len(progress) < steps / 2
        assert len(progress) <= report.seconds / 0.2 + 2
    finally:
        assert inference.shutdown(timeout_ms=10_000)


def test_the_plan_shows_before_ask_and_follows_the_settings(
    window: MainWindow, qtbot: QtBot
) -> None:
    plan_label = window.consensus_view.figures.plan_label
    window.question.setPlainText(QUESTION)
    assert plan_label.text().startswith("If you ask now: 4 samples, 4 at a time, about ")
    window.consensus_options.samples_spin.setValue(16)  # N changed: the plan follows
    assert plan_label.text().startswith("If you ask now: 16 samples, 16 at a time")
    assert window.consensus_view.chips.total == 16
    before = plan_label.text()
    window.settings_panel.spins["max_tokens"].setValue(4000)  # a longer budget per sample
    assert plan_label.text() != before and "16 samples" in plan_label.text()
    window.settings_panel.spins["max_tokens"].setValue(24)
    preview = plan_label.text().removeprefix("If you ask now: ").split(" (the question")[0]
    shown: list[str] = []
    window.consensus_session.planned.connect(lambda _plan: shown.append(plan_label.text()))
    with (
        qtbot.waitSignal(window.session.run_finished, timeout=RUN_TIMEOUT_MS),
        qtbot.waitSignal(window.consensus_session.planned, timeout=RUN_TIMEOUT_MS) as planned,
    ):
        window.ask()
    plan: ConsensusPlan = planned.args[0]
    assert plan.describe() == preview, "the estimate was the plan the run got"
    assert shown == [f"Plan: {plan.describe()}"] and plan_label.text() == shown[0]
    window.consensus_options.samples_spin.setValue(5)  # after the run: the next one's plan
    assert plan_label.text().startswith("If you ask now: 5 samples")
