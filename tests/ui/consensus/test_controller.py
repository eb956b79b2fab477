"""The consensus controller and the panes, without a model: who shows which sample."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from app.core.consensus.memory_plan import ConsensusPlan
from app.core.consensus.record import majority_text
from app.core.conversation import open_history
from app.core.history.records import RunRecord, RunStatus, SampleRecord
from app.core.inference.sampling import SamplingParams
from app.ui.consensus.controller import ConsensusController
from app.ui.consensus.options import ConsensusOptions
from app.ui.consensus.session import ConsensusSession
from app.ui.consensus.view import ConsensusView
from app.ui.conversation.answer_view import AnswerView
from app.ui.conversation.session import ChatSession
from app.ui.conversation.trace_view import TraceView
from app.ui.widgets.banner import Banner

pytestmark = pytest.mark.gui

FIGURES: dict[str, Any] = {
    "n": 3, "requested": 3, "majority": "4", "majority_is_no_answer": False,
    "agreement": 2 / 3, "agreement_ci95": [0.2, 0.94], "entropy_bits": 0.92,
    "entropy_bits_mm": 1.1, "distinct": 2, "no_answer": 0, "deterministic": False,
    "groups": [{"answer": "4", "count": 2, "samples": [2, 1]},  # ranked; leader's first: 2
               {"answer": "5", "count": 1, "samples": [0]}],
}  # fmt: skip


def _sample(index: int, answer: str, group: str) -> SampleRecord:
    return SampleRecord(index=index, seed=100 + index, trace=f"trace {index}", answer=answer,
                        extracted=group, extracted_rule="last_line", tokens=3 + index,
                        seconds=0.1, finish_reason="stop", group=group)  # fmt: skip


def consensus_record() -> RunRecord:
    samples = [_sample(0, "It is 5.", "5"), _sample(1, "It is 4.", "4"),
               _sample(2, "4, clearly.", "4")]  # fmt: skip
    return RunRecord(id=None, conversation_id=None, turn=0, created_at=0.0, question="2 + 2?",
                     model_name="m", model_path="/m.gguf", model_sha256=None,
                     params={"samples": 3}, samples=samples, consensus=FIGURES,
                     status=RunStatus.DONE)  # fmt: skip


@pytest.fixture
def session(qtbot: QtBot) -> Iterator[ChatSession]:
    store, message = open_history()
    assert message is None
    chat = ChatSession(store)
    yield chat
    chat.shutdown()
    assert chat.inference.qthread.isFinished()


def build(session: ChatSession, qtbot: QtBot, panes_last: bool) -> tuple[Any, ...]:
    trace, answer, view = TraceView(session), AnswerView(session), ConsensusView()
    for widget in (trace, answer, view):
        qtbot.addWidget(widget)
    consensus = ConsensusSession(session.conversation, session.inference, parent=session)
    controller = ConsensusController(session, consensus, ConsensusOptions(), view, trace,
                                     answer, Banner(), QLabel())  # fmt: skip
    if panes_last:  # the panes' slots now run after the controller's
        for pane in (trace, answer):
            for signal in (session.run_finished, session.run_opened):
                signal.disconnect(pane._on_run_shown)
                signal.connect(pane._on_run_shown)
    return trace, answer, view, controller


@pytest.mark.parametrize("panes_last", [False, True], ids=["panes-first", "panes-last"])
@pytest.mark.parametrize("event", ["run_finished", "run_opened"])
def test_panes_show_the_majority_whatever_the_connection_order(
    session: ChatSession, qtbot: QtBot, panes_last: bool, event: str
) -> None:
    trace, answer, view, _controller = build(session, qtbot, panes_last)
    getattr(session, event).emit(consensus_record())
    assert answer.markdown() == "4, clearly."  # sample 2 leads the largest group
    assert answer.final.text() == f"{majority_text(FIGURES)} · Sample 3 (seed 102)"
    assert trace.plain_text() == "trace 2"
    assert trace.summary.text() == "Sample 3 (seed 102) · majority · 5 tokens"
    if event == "run_opened":  # the panel lists the samples; a click shows one
        assert view.select_sample(0)
        assert answer.markdown() == "It is 5."
        assert answer.final.text() == "final answer: 5 · Sample 1 (seed 100)"
        assert trace.summary.text() == "Sample 1 (seed 100) · 3 tokens"


def test_a_consensus_run_without_samples_clears_the_panes(
    session: ChatSession, qtbot: QtBot
) -> None:
    trace, answer, _view, _controller = build(session, qtbot, panes_last=True)
    session.run_opened.emit(consensus_record())
    empty = consensus_record()
    empty.samples, empty.consensus = [], {**FIGURES, "n": 0, "groups": []}
    session.run_opened.emit(empty)
    assert answer.markdown() == "" and answer.final.text() == "No sample finished."
    assert trace.plain_text() == ""


@pytest.mark.parametrize("greedy", [{"temperature": 0.0}, {"top_k": 1}])
def test_deterministic_run_offers_one_sample(
    session: ChatSession, qtbot: QtBot, greedy: dict[str, Any]
) -> None:
    _trace, _answer, view, controller = build(session, qtbot, panes_last=False)
    view.show()
    controller.options.set_enabled(True)
    controller.consensus.sampling = SamplingParams(**greedy)
    plan = ConsensusPlan(samples=8, parallel=8, tokens_per_sample=64, n_ctx=512,
                         kv_bytes=1 << 20, kv_unified=True, limited_by=None)  # fmt: skip
    controller.consensus.planned.emit(plan)
    figures = view.figures
    assert figures.same_samples_label.isVisible() and figures.one_sample_button.isVisible()
    assert "every sample the same: 8 samples" in figures.same_samples_label.text()
    qtbot.mouseClick(figures.one_sample_button, Qt.MouseButton.LeftButton)
    assert not controller.options.enabled()  # the next Ask runs one sample
    assert not figures.one_sample_button.isVisible()


def test_sampled_run_has_no_same_samples_warning(session: ChatSession, qtbot: QtBot) -> None:
    _trace, _answer, view, controller = build(session, qtbot, panes_last=False)
    view.show()
    controller.consensus.sampling = SamplingParams(temperature=0.6)
    plan = ConsensusPlan(samples=8, parallel=8, tokens_per_sample=64, n_ctx=512,
                         kv_bytes=1 << 20, kv_unified=True, limited_by=None)  # fmt: skip
    controller.consensus.planned.emit(plan)
    assert not view.figures.same_samples_label.isVisible()


def test_samples_are_numbered_from_one(qtbot: QtBot) -> None:
    view = ConsensusView()
    qtbot.addWidget(view)
    view.load_report(consensus_record())
    assert view.select_group("4")
    table = view.group_list.table
    assert [table.item(row, 0).text() for row in range(table.rowCount())] == ["2", "3"]
    assert view.select_sample(1)  # index 1: the second sample
    assert view.detail.header.text().startswith("Sample 2 · seed 101")
    assert view.group_list.selected_index() == 1
