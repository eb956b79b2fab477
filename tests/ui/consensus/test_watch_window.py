"""From the window: a sample followed while the run goes streams its text, through the
panel, the session and the inference thread to the batched sampler and back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.core.consensus.runner import ConsensusProgress
from app.core.consensus.sampler import WatchedSample
from app.ui.main_window import MainWindow

pytestmark = [pytest.mark.gui, pytest.mark.model]

FOLLOWED = 2


@pytest.fixture
def window(qtbot: QtBot, test_model_path: Path) -> Iterator[MainWindow]:
    window = MainWindow()
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    window.settings_panel.threads_spin.setValue(1)
    with qtbot.waitSignal(window.session.model_loaded, timeout=30_000):
        window.open_model(test_model_path)
    window.settings_panel.spins["max_tokens"].setValue(24)
    window.settings_panel.seed_edit.setText("7")
    window.consensus_options.set_enabled(True)
    window.consensus_options.samples_spin.setValue(3)
    yield window
    window.close()


def test_a_followed_sample_streams_in_the_panel_and_ends_as_its_result(
    window: MainWindow, qtbot: QtBot
) -> None:
    view, session = window.consensus_view, window.consensus_session
    session.started.connect(lambda _event: view.follow_sample(FOLLOWED))
    seen: list[WatchedSample] = []
    shown: list[str] = []

    def on_progress(event: ConsensusProgress) -> None:
        if event.watched is not None:
            seen.append(event.watched)
            shown.append(view.detail.answer_pane.toPlainText())  # after the view's slot

    session.progressed.connect(on_progress)
    window.question.setPlainText("What is 2 + 2?")
    with qtbot.waitSignal(window.session.run_finished, timeout=120_000) as finished:
        window.ask()
    record = finished.args[0]
    sample = next(s for s in record.samples if s.index == FOLLOWED)
    assert seen, "no progress event carried the followed sample's text"
    assert {w.index for w in seen} == {FOLLOWED}
    assert shown == [w.answer for w in seen]  # the panel showed each as it came
    assert sample.answer.startswith(seen[-1].answer)
    assert not view.detail.live and view.detail.index == FOLLOWED
    assert view.detail.answer_pane.toPlainText() == (sample.answer or "(empty answer)")
