"""The confidence controls in the whole window: they read whole at 1200×760 and 900×600
in both themes, and on the real model a question asked, then the switch turned on,
shades the answer's tokens where the model was unsure."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.core.history.records import RunRecord
from app.ui.confidence.book import BOOK
from app.ui.main_window import MainWindow
from tests.confidence_data import scripted_stats
from tests.ui.test_geometry import (
    assert_reads_whole,
    consensus_record,
    settle,
    show_window,
    single_record,
    theme,  # noqa: F401  (the light/dark fixture)
)

pytestmark = pytest.mark.gui

SIZES = [(1200, 760), (900, 600)]


def _with_stats(record: RunRecord) -> RunRecord:
    for sample in record.samples:
        pieces = [("trace", sample.trace, 0.3), ("answer", sample.answer, 0.6)]
        BOOK.put(sample, scripted_stats(pieces))
    return record


@pytest.mark.usefixtures("theme")
@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_confidence_controls_read_whole(qtbot: QtBot, size: tuple[int, int]) -> None:
    window = show_window(qtbot, size)
    window.session.run_opened.emit(_with_stats(single_record()))
    window.panes.setCurrentWidget(window.splitter)
    controls = window.trace_view.confidence
    assert controls.toggle_action.isEnabled()
    assert set(controls.actions_for_menu()) <= set(window.menus.shortcut_actions())
    controls.toggle_action.setChecked(True)
    settle(window, qtbot)
    assert controls.legend.isVisible() and controls.next_button.isVisible()
    assert window.answer_view.source.isVisible() and not window.answer_view.browser.isVisible()
    assert window.trace_view.pane.strip.isVisible()
    assert_reads_whole(window)
    window.session.run_opened.emit(_with_stats(consensus_record()))
    window.panes.setCurrentWidget(window.consensus_view)
    window.consensus_view.select_group("391")
    settle(window, qtbot)
    assert window.consensus_view.confidence.fork_part.isVisible()
    assert_reads_whole(window)
    window.close()


@pytest.mark.model
def test_real_answer_is_shaded_after_asking(qtbot: QtBot, test_model_path: Path) -> None:
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    window.settings_panel.threads_spin.setValue(1)
    with qtbot.waitSignal(window.session.model_loaded, timeout=60_000):
        window.open_model(test_model_path)
    window.settings_panel.spins["max_tokens"].setValue(24)
    window.settings_panel.seed_edit.setText("11")
    window.question.setPlainText("Name a colour.")
    with qtbot.waitSignal(window.session.run_finished, timeout=120_000) as finished:
        qtbot.mouseClick(window.ask_button, Qt.MouseButton.LeftButton)
    record: RunRecord = finished.args[0]
    stats = BOOK.get(record.samples[0])
    assert stats is not None and len(stats) == record.samples[0].tokens
    window.panes.setCurrentWidget(window.splitter)
    controls = window.trace_view.confidence
    assert controls.toggle_action.isEnabled()
    controls.toggle_action.trigger()
    answer = window.answer_view.source.text
    assert answer.isVisible() and answer.toPlainText() == record.answer
    # Every answer token the model gave under 90% is shaded, over exactly its text (runs
    # of same-shade tokens are one range: compare the characters covered).
    unsure = [(start, end) for (channel, start, end), logprob in zip(
        stats.spans(), stats.logprob, strict=True)
        if channel == "answer" and end > start and math.exp(logprob) < 0.9]  # fmt: skip
    assert unsure, "at temperature 0.7 some answer token is under 90%"
    covered = {c for start, end, _ in answer.shaded() for c in range(start, end)}
    assert covered == {c for start, end in unsure for c in range(start, end)}
    if answer.spots:
        pane, index = controls.step(+1) or (None, None)
        assert pane is window.answer_view.source and index == answer.spots[0]
    window.close()
