"""Nothing lost in the window: each consensus sample is in the history as it finishes, and
an interrupted run reopens with its samples and a Resume offer that finishes it."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.core.consensus.runner import ConsensusSample
from app.core.history.records import RunStatus
from app.core.history.store import HistoryStore
from app.ui.consensus.options import ConsensusOptions
from app.ui.main_window import MainWindow
from tests.ui.consensus.test_window import (  # noqa: F401 (fixtures)
    RUN_TIMEOUT_MS,
    ask_consensus,
    bare_window,
    window,
)

pytestmark = [pytest.mark.gui, pytest.mark.model, pytest.mark.usefixtures("no_message_boxes")]


def test_samples_are_saved_as_they_finish_and_an_interrupted_run_resumes(
    window: MainWindow,  # noqa: F811 (the fixture imported above)
    qtbot: QtBot,
) -> None:
    store = window.session.store
    saved_when_shown: list[int] = []

    def on_sample(_event: ConsensusSample) -> None:
        current = window.session.conversation.current
        assert current is not None and current.id is not None
        saved_when_shown.append(len(store.get_run(current.id).samples))

    window.consensus_session.sampled.connect(on_sample)
    full = ask_consensus(window, qtbot)
    window.consensus_session.sampled.disconnect(on_sample)
    assert saved_when_shown == [1, 2, 3, 4]  # each one on disk before the panel shows it

    # The same run as if Quorum had died with samples 0 and 2 saved.
    with HistoryStore(store.path) as crashed:
        lost = replace(full, id=None, conversation_id=None, samples=[], consensus=None)
        crashed.begin_run(lost)
        for sample in (full.samples[0], full.samples[2]):
            crashed.add_sample(lost.id or -1, sample)
    HistoryStore(store.path).close()  # the next start marks it interrupted
    assert store.get_run(lost.id or -1).status == RunStatus.INTERRUPTED

    window.session.open_run(lost.id or -1)
    bar = window.consensus.resume_bar
    assert bar.isVisible() and "2 of 4 samples saved" in bar.label.text()
    assert bar.button.text() == "Resume 2 samples"
    assert sorted(window.consensus_view.samples) == [0, 2]
    assert "lean towards short answers" in window.consensus_view.figures.outcome_label.text()
    answered = [label.text() for label in window.consensus_view.figures._values][3]
    assert answered.endswith("counted: the 2 of 4 finished so far (short answers finish first)")

    with qtbot.waitSignal(window.session.run_finished, timeout=RUN_TIMEOUT_MS) as finished:
        qtbot.mouseClick(bar.button, Qt.MouseButton.LeftButton)
    resumed = finished.args[0]
    assert resumed.id == lost.id and resumed.status == RunStatus.DONE
    assert not bar.isVisible()
    again = store.get_run(lost.id or -1)
    assert [(s.index, s.seed, s.answer) for s in again.samples] == [
        (s.index, s.seed, s.answer) for s in full.samples
    ]  # the missing two, decoded now with their own seeds, match the uninterrupted run
    assert again.consensus is not None and again.consensus["resumed_samples"] == 2
    assert sorted(window.consensus_view.samples) == [0, 1, 2, 3]


def test_options_offer_the_beta_rule(qtbot: QtBot) -> None:
    options = ConsensusOptions()
    qtbot.addWidget(options)
    assert options.set_early_stop("beta") and options.early_stop() == "beta"
    row = options.early_stop_combo.findData("beta")
    assert "Beta" in options.early_stop_combo.itemText(row)
