"""Following a sample that is still running: its text grows in the panel's detail.

Fed the events of a real consensus run on the test model in which the runner watched
one sample (its text rides on each progress event).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.core.consensus.runner import (
    ConsensusEvent,
    ConsensusFinished,
    ConsensusProgress,
    ConsensusRequest,
    ConsensusRunner,
    ConsensusSample,
    ConsensusStarted,
)
from app.core.inference.engine import Engine
from app.core.inference.sampling import RuntimeParams, SamplingParams
from app.ui.consensus.view import ConsensusView

pytestmark = pytest.mark.gui

MESSAGES = [{"role": "user", "content": "Name a colour and say why you like it."}]
SAMPLING = SamplingParams(temperature=0.9, top_p=0.95, top_k=40, min_p=0.05, max_tokens=16, seed=9)
WATCHED = 2
WAIT_MS = 2000


@pytest.fixture(scope="module")
def events(test_model_path: Path) -> Iterator[list[ConsensusEvent]]:
    with Engine(test_model_path, RuntimeParams(n_ctx=512, n_threads=2)) as engine:
        runner = ConsensusRunner(engine)
        runner.watch(WATCHED)
        found = list(runner.run(ConsensusRequest(MESSAGES, SAMPLING, 3)))
    watched = [e for e in found if isinstance(e, ConsensusProgress) and e.watched is not None]
    assert len(watched) >= 2, "precondition: the run reported the watched sample's text"
    yield found


@pytest.fixture
def view(qtbot: QtBot) -> ConsensusView:
    widget = ConsensusView()
    qtbot.addWidget(widget)
    widget.resize(1000, 800)
    widget.show()
    qtbot.waitExposed(widget, timeout=WAIT_MS)
    return widget


def _click_chip(view: ConsensusView, qtbot: QtBot, index: int) -> None:
    qtbot.mouseClick(view.chips, Qt.MouseButton.LeftButton,
                     pos=view.chips.chip_rect(index).center())  # fmt: skip


def test_a_running_sample_grows_by_appending_then_shows_its_result(
    view: ConsensusView, qtbot: QtBot, events: list[ConsensusEvent]
) -> None:
    started = events[0]
    assert isinstance(started, ConsensusStarted)
    view.on_started(started)
    with qtbot.waitSignal(view.sample_watched, timeout=WAIT_MS) as asked:
        _click_chip(view, qtbot, WATCHED)
    assert asked.args == [WATCHED]
    detail = view.detail
    assert detail.live and "not started yet" in detail.header.text()
    assert f"Sample {WATCHED + 1} (seed {started.seeds[WATCHED]})" in detail.header.text()
    # Every change to the answer pane while live must be an append at its end.
    changes: list[tuple[int, int, int]] = []
    detail.answer_pane.document().contentsChange.connect(
        lambda at, removed, added: changes.append((at, removed, added))
    )
    shown: list[str] = []
    final = None
    for event in events[1:]:
        if isinstance(event, ConsensusProgress):
            view.on_progress(event)
            if event.watched is not None:
                assert detail.answer_pane.toPlainText() == event.watched.answer
                assert detail.trace_pane.toPlainText() == event.watched.trace
                assert f"{event.watched.tokens} tokens so far" in detail.header.text()
                shown.append(event.watched.answer)
        elif isinstance(event, ConsensusSample):
            if event.index == WATCHED:
                live_changes = list(changes)
                with qtbot.waitSignal(view.sample_watched, timeout=WAIT_MS) as stopped:
                    view.on_sample(event)
                assert stopped.args == [None]  # nothing more to stream
                final = event.result
            else:
                view.on_sample(event)
        elif isinstance(event, ConsensusFinished):
            view.on_finished(event)
    assert final is not None and len(shown) >= 2
    assert len(set(shown)) > 1, "the answer pane never grew"
    length = 0
    for at, removed, added in live_changes:
        assert (at, removed) == (length, 0), "a live update re-rendered the text"
        length += added
    assert not detail.live and detail.index == WATCHED
    assert detail.answer_pane.toPlainText() == (final.answer or "(empty answer)")
    assert detail.answer_pane.toPlainText().startswith(shown[-1])
    assert "finished by" in detail.header.text()


def test_a_followed_sample_the_run_never_finished_says_so(
    view: ConsensusView, qtbot: QtBot, events: list[ConsensusEvent]
) -> None:
    started, finished = events[0], events[-1]
    assert isinstance(started, ConsensusStarted) and isinstance(finished, ConsensusFinished)
    view.on_started(started)
    _click_chip(view, qtbot, 1)
    assert view.detail.live and view.detail.index == 1
    # Cancelled before sample 2 finished: the report has no result for it.
    samples = list(finished.report.samples)
    samples[1] = None
    report = replace(finished.report, samples=samples, cancelled=True)
    with qtbot.waitSignal(view.sample_watched, timeout=WAIT_MS) as stopped:
        view.on_finished(report)
    assert stopped.args == [None]
    assert not view.detail.live
    assert "the run ended before this sample finished" in view.detail.header.text()
    # With no run going, an unfinished chip selects nothing.
    _click_chip(view, qtbot, 1)
    assert not view.detail.live
