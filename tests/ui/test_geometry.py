"""The window reads whole at every size: no text cut short, nothing drawn over something.

The window is put in the states that grew extra lines in the past (an early-stop
explanation, the temperature-0 warning and note, an inline error, a long status line),
for a single answer and for a consensus run, at three sizes and in both themes, and the
laid-out widgets are measured (tests/ui/geometry.py). The runs shown are records handed
to the session's run_opened signal, as the history does; no model is needed for layout.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication, QLabel, QSpinBox, QWidget
from pytestqt.qtbot import QtBot

from app.core.consensus.stats import DETERMINISTIC_NOTE
from app.core.history.records import RunRecord, RunStatus, SampleRecord
from app.ui.app import apply_theme
from app.ui.main_window import MainWindow
from tests.ui.geometry import clipped_text, overlaps

pytestmark = pytest.mark.gui

SIZES = [(1400, 900), (1200, 760), (900, 600)]
SEED_ERROR = "seed must be in [0, 2^32)"
EARLY_STOP = ("the remaining 504 samples could not change which answer leads, so the run "
              "stopped once the leader's lead was safe")  # fmt: skip
STATUS = "SmolLM2 135M Instruct · Q8_0 · context 8192 · no-repack (AMX kernels crash here)"


def _sample(index: int, answer: str, group: str) -> SampleRecord:
    return SampleRecord(index=index, seed=4_000_000_000 + index, trace=f"Let me think {index}.",
                        answer=answer, extracted=group, extracted_rule="last_line",
                        tokens=30 + index, seconds=0.5, finish_reason="stop",
                        group=group)  # fmt: skip


def consensus_record() -> RunRecord:
    groups = ["391"] * 5 + ["401"] * 2 + ["17*23"]
    samples = [_sample(i, f"So 17*23 = {g}.", g) for i, g in enumerate(groups)]
    figures: dict[str, Any] = {
        "n": 8, "requested": 512, "majority": "391", "majority_is_no_answer": False,
        "agreement": 5 / 8, "agreement_ci95": [0.306, 0.863], "entropy_bits": 1.30,
        "entropy_bits_mm": 1.49, "distinct": 3, "no_answer": 0, "deterministic": True,
        "note": DETERMINISTIC_NOTE, "stopped_early": True, "early_stop_reason": EARLY_STOP,
        "samples_saved": 8,
        "groups": [{"answer": "391", "count": 5, "samples": [0, 1, 2, 3, 4]},
                   {"answer": "401", "count": 2, "samples": [5, 6]},
                   {"answer": "17*23", "count": 1, "samples": [7]}],
    }  # fmt: skip
    return RunRecord(id=None, conversation_id=None, turn=0, created_at=0.0,
                     question="What is 17 * 23?", model_name="SmolLM2 135M Instruct",
                     model_path="/models/smollm2.gguf", model_sha256=None,
                     params={"samples": 512, "temperature": 0.0}, samples=samples,
                     consensus=figures, status=RunStatus.DONE, seconds=12.0)  # fmt: skip


def single_record() -> RunRecord:
    sample = SampleRecord(index=0, seed=4_294_967_295, trace="Seventeen times twenty-three…",
                          answer="17*23 = 391\n\n**391**", extracted="391",
                          extracted_rule="bold", tokens=612, seconds=31.0,
                          finish_reason="stop")  # fmt: skip
    return RunRecord(id=None, conversation_id=None, turn=0, created_at=0.0,
                     question="What is 17 * 23?", model_name="SmolLM2 135M Instruct",
                     model_path="/models/smollm2.gguf", model_sha256=None,
                     params={"reasoning": {"tokens": 532, "seconds": 28.4}},
                     samples=[sample], status=RunStatus.DONE, seconds=31.0)  # fmt: skip


@pytest.fixture(params=["light", "dark"])
def theme(request: pytest.FixtureRequest) -> Iterator[str]:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    style, palette = app.style().name(), app.palette()
    apply_theme(app, request.param)
    yield request.param
    app.setStyle(style)
    app.setPalette(palette)


def show_window(qtbot: QtBot, size: tuple[int, int]) -> MainWindow:
    window = MainWindow()
    qtbot.addWidget(window)
    window.resize(*size)
    window.show()
    qtbot.waitExposed(window)
    return window


def settle(window: MainWindow, qtbot: QtBot) -> None:
    """Let every layout request run (some are posted, some wait for a resize)."""
    for _ in range(3):
        QApplication.processEvents()
        qtbot.wait(20)
    layout = window.layout()
    assert layout is not None
    layout.activate()
    QApplication.processEvents()


def centre_width(window: MainWindow) -> int:
    centre = window.centralWidget()
    assert centre is not None
    return centre.width()


def long_texts(window: MainWindow) -> None:
    """The extra lines that used to push the figures into each other."""
    window.question_hint.setText(SEED_ERROR)
    window.question_hint.show()
    window.status.model_label.setText(STATUS)
    window.trace_view.set_summary("Waiting for the model…")
    window.settings_panel.spins["max_tokens"].setValue(131072)  # beyond the context: a warning
    assert not window.settings_panel.context_warning.isHidden()


def assert_reads_whole(window: MainWindow) -> None:
    problems = clipped_text(window) + overlaps(window)
    assert not problems, f"{window.width()}×{window.height()}:\n" + "\n".join(problems)


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_single_answer_reads_whole(qtbot: QtBot, theme: str, size: tuple[int, int]) -> None:
    window = show_window(qtbot, size)
    window.session.run_opened.emit(single_record())
    long_texts(window)
    settle(window, qtbot)
    assert_reads_whole(window)
    window.close()


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_consensus_run_reads_whole(qtbot: QtBot, theme: str, size: tuple[int, int]) -> None:
    window = show_window(qtbot, size)
    window.consensus_options.set_enabled(True)
    window.consensus_options.samples_spin.setValue(512)
    window.session.run_opened.emit(consensus_record())
    long_texts(window)
    window.consensus_view.figures.show_same_samples(512)
    window.consensus_view.select_group("391")
    window.consensus_view.select_sample(3)
    settle(window, qtbot)
    figures = window.consensus_view.figures
    assert figures.outcome_label.isVisible() and EARLY_STOP in figures.outcome_label.text()
    assert figures.note_label.isVisible() and figures.same_samples_label.isVisible()
    assert window.consensus_view.group_list.table.rowCount() == 5
    assert window.panes.currentWidget() is window.consensus_view
    assert_reads_whole(window)
    window.panes.setCurrentWidget(window.splitter)  # the panes, showing the chosen sample
    settle(window, qtbot)
    assert window.trace_view.isVisible()
    assert_reads_whole(window)
    window.close()


def test_docks_fold_on_a_narrow_window_and_come_back(qtbot: QtBot) -> None:
    window = show_window(qtbot, (1400, 900))
    settle(window, qtbot)
    history, settings = window.history_dock, window.settings_dock
    assert history.isVisible() and settings.isVisible()
    assert not window.action_row.stacked()  # the buttons and the switch share a line
    window.resize(900, 600)
    settle(window, qtbot)
    assert not settings.isVisible(), "the lower-priority dock folds first"
    assert window.docks.folded() == [settings]
    assert window.docks.actions[settings].isChecked(), "still wanted: one click reopens it"
    central = centre_width(window)
    assert central >= 600, f"the centre keeps its room ({central} px)"
    window.docks.actions[settings].trigger()  # the user closes it: it stays closed
    window.docks.actions[settings].trigger()  # and opens it again, over the window
    settle(window, qtbot)
    assert settings.isVisible() and settings.isFloating()
    assert centre_width(window) == central, "opening it took no width"
    window.resize(720, 480)
    settle(window, qtbot)
    assert not history.isVisible()
    row = window.action_row
    assert row.stacked() == (row.width() < row.one_line_width())
    assert_reads_whole(window)
    window.resize(1400, 900)
    settle(window, qtbot)
    assert history.isVisible() and settings.isVisible() and not settings.isFloating()
    window.close()


def test_a_dock_closed_by_the_user_stays_closed_when_the_window_widens(qtbot: QtBot) -> None:
    window = show_window(qtbot, (1400, 900))
    settle(window, qtbot)
    window.docks.actions[window.history_dock].trigger()
    settle(window, qtbot)
    assert not window.history_dock.isVisible()
    window.resize(900, 600)
    settle(window, qtbot)
    window.resize(1400, 900)
    settle(window, qtbot)
    assert not window.history_dock.isVisible() and window.settings_dock.isVisible()
    assert not window.docks.actions[window.history_dock].isChecked()
    window.close()


def test_the_consensus_tab_shows_only_with_consensus(qtbot: QtBot) -> None:
    window = show_window(qtbot, (1200, 760))
    tabs = window.panes
    consensus = tabs.indexOf(window.consensus_view)
    assert not tabs.isTabVisible(consensus) and tabs.currentWidget() is window.transcript
    window.consensus_options.set_enabled(True)
    assert tabs.isTabVisible(consensus) and tabs.currentWidget() is window.consensus_view
    window.consensus_options.set_enabled(False)
    assert not tabs.isTabVisible(consensus) and tabs.currentIndex() == 0
    window.close()


def test_which_docks_are_wanted_is_remembered(qtbot: QtBot) -> None:
    window = show_window(qtbot, (900, 600))  # settings folded for want of room
    settle(window, qtbot)
    window.docks.actions[window.history_dock].trigger()  # closed by the user
    window.close()
    again = show_window(qtbot, (1400, 900))
    settle(again, qtbot)
    assert again.settings_dock.isVisible(), "folded is not closed: it comes back"
    assert not again.history_dock.isVisible(), "closed stays closed"
    again.close()


def test_the_check_sees_a_label_whose_ink_is_cut_by_a_pixel(qtbot: QtBot) -> None:
    # The settings' "Temperature" looked cut: the label was as wide as the text's advance
    # (what its size hint asks for) while the glyphs' ink reaches a pixel past it.
    box = QWidget()
    qtbot.addWidget(box)
    label = QLabel("&Temperature", box)
    label.setBuddy(QSpinBox(box))
    label.resize(label.sizeHint())
    box.show()
    qtbot.waitExposed(box)
    ink = label.fontMetrics().boundingRect("Temperature")
    assert ink.left() < 0 or ink.right() >= label.width(), "precondition: the ink overhangs"
    assert any("the ink of 'Temperature'" in p for p in clipped_text(box))
    label.setIndent(1)  # what the settings panel gives its labels
    label.setMinimumWidth(label.sizeHint().width() + 3)
    label.resize(label.minimumWidth(), label.height())
    assert clipped_text(box) == []


@pytest.mark.parametrize("docked", [False, True], ids=["reopened", "docked"])
def test_settings_read_whole_at_1175x745(qtbot: QtBot, theme: str, docked: bool) -> None:
    # The size a saved window came up at, with both docks shown. Opened again there, the
    # settings dock floats over the window; a saved layout may also dock it.
    window = show_window(qtbot, (1175, 745))
    settle(window, qtbot)
    dock = window.settings_dock
    for _ in range(2 if not dock.isVisible() else 0):  # folded: close, then reopen it
        window.docks.actions[dock].trigger()
        settle(window, qtbot)
    if docked:
        dock.setFloating(False)
        settle(window, qtbot)
    assert dock.isVisible() and window.history_dock.isVisible()
    panel = window.settings_panel
    assert panel.isVisible()
    labels = [lab for lab in panel.findChildren(QLabel) if lab.buddy() is not None]
    assert any(lab.text() == "&Temperature" and lab.isVisible() for lab in labels)
    problems = clipped_text(panel) + overlaps(panel)
    assert not problems, "\n".join(problems)
    assert_reads_whole(window)
    window.close()
