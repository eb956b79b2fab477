"""Confidence in the window on scripted statistics: the shading at known probabilities in
both themes, the alternatives on hover, the strip's marks and the spot navigation, the
switch disabled with its reason, and the consensus panel's column, vote and fork."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtGui import QColor, QHelpEvent, QPalette, QTextCursor
from PySide6.QtWidgets import QApplication, QToolTip
from pytestqt.qtbot import QtBot

from app.core.history.records import RunRecord, RunStatus, SampleRecord
from app.ui.app import apply_theme
from app.ui.confidence.book import BOOK, NO_STATS_REASON
from app.ui.confidence.controls import ConfidenceControls
from app.ui.confidence.scale import BOUNDS, MIN_CONTRAST, ConfidenceScale, contrast
from app.ui.confidence.text_view import ConfidencePane
from app.ui.consensus.samples import CONFIDENCE_COLUMN
from app.ui.consensus.view import ConsensusView
from tests.confidence_data import scripted_stats, with_ids

pytestmark = pytest.mark.gui

TRACE = [("trace", "First ", 0.95), ("trace", "maybe ", 0.2), ("trace", "it ", 0.92),
         ("trace", "is ", 0.45), ("trace", "two.", 0.05)]  # fmt: skip
ANSWER = [("answer", "It ", 0.99), ("answer", "is ", 0.6), ("answer", "2.", 0.35)]


@pytest.fixture(params=["light", "dark"])
def theme(request: pytest.FixtureRequest, qapp: QApplication) -> Iterator[str]:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    style, palette = app.style().name(), app.palette()
    apply_theme(app, request.param)
    yield request.param
    app.setStyle(style)
    app.setPalette(palette)


def text_of(pieces: list[tuple[str, str, float]]) -> str:
    return "".join(text for _, text, _ in pieces)


def test_the_scale_keeps_text_readable_and_grows_as_probability_falls(theme: str) -> None:
    palette = QApplication.palette()
    base, text = palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.Text)
    scale = ConfidenceScale.for_theme(base, text)
    assert scale.strongest > 0.2, "the strongest step must be visible"
    assert scale.background(0.95) is None and scale.background(0.9) is None
    steps = [scale.background(p) for p in (0.8, 0.6, 0.4, 0.2, 0.05)]
    assert [scale.step(p) for p in (0.95, 0.8, 0.6, 0.4, 0.2, 0.05)] == [0, 1, 2, 3, 4, 5]
    shades = []
    for colour in steps:
        assert colour is not None
        assert contrast(text, colour) >= MIN_CONTRAST, f"{theme}: {colour.name()}"
        shades.append(colour)
    # Each step further from the paper than the one before (one hue, growing strength).
    gaps = [contrast(base, colour) for colour in shades]
    assert gaps == sorted(gaps) and gaps[0] > 1.0
    assert len({c.name() for c in steps if c is not None}) == len(BOUNDS) - 1


def test_tokens_are_shaded_by_their_probability(qtbot: QtBot, theme: str) -> None:
    pane = ConfidencePane()
    qtbot.addWidget(pane)
    stats = scripted_stats(TRACE)
    pane.set_tokens(text_of(TRACE), stats, "trace")
    assert pane.text.shaded() == []  # off until switched on
    pane.set_shading(True)
    scale = pane.text.scale()
    shaded = {(start, end): colour.name() for start, end, colour in pane.text.shaded()}
    # "maybe " (20%) at 6..12, "is " (45%) at 15..18, "two." (5%) at 18..22; the rest >= 90%.
    expected = {(6, 12): 0.2, (15, 18): 0.45, (18, 22): 0.05}
    assert shaded == {span: QColor(scale.background(p)).name() for span, p in expected.items()}
    pane.set_shading(False)
    assert pane.text.shaded() == []


def test_hovering_a_token_lists_its_alternatives(qtbot: QtBot) -> None:
    pane = ConfidencePane()
    qtbot.addWidget(pane)
    pane.resize(400, 200)
    pane.show()
    qtbot.waitExposed(pane)
    pane.set_tokens(text_of(TRACE), scripted_stats(TRACE), "trace")
    pane.set_shading(True)
    rect = pane.text.cursorRect(_cursor_at(pane, 8))  # inside "maybe "
    where = rect.center()
    QApplication.sendEvent(
        pane.text.viewport(), QHelpEvent(QEvent.Type.ToolTip, where, pane.mapToGlobal(where))
    )
    qtbot.waitUntil(QToolTip.isVisible, timeout=2000)
    tip = QToolTip.text()
    assert "maybe" in tip and "20.0%" in tip and "alt-1-0" in tip
    assert "before sampling" in tip and "44.7%" in tip  # the sampled figure differs: shown
    QToolTip.hideText()


def _cursor_at(pane: ConfidencePane, position: int) -> QTextCursor:
    cursor = pane.text.textCursor()
    cursor.setPosition(position)
    return cursor


def test_strip_marks_and_navigation_walk_the_spots_in_reading_order(qtbot: QtBot) -> None:
    controls = ConfidenceControls()
    trace, answer = ConfidencePane(), ConfidencePane()
    for widget in (controls, trace, answer):
        qtbot.addWidget(widget)
    stats = scripted_stats(TRACE + ANSWER)
    trace.set_tokens(text_of(TRACE), stats, "trace")
    answer.set_tokens(text_of(ANSWER), stats, "answer")
    controls.add_pane(trace)
    controls.add_pane(answer)
    controls.pane_changed(answer)
    assert controls.toggle_action.isEnabled()
    assert not controls.next_action.isEnabled()  # nothing to walk while shading is off
    controls.toggle_action.setChecked(True)
    assert controls.next_action.isEnabled() and trace.text.shading and answer.text.shading
    # Spots: the tokens under 50%, in text order; marks at their height in the text.
    assert trace.text.spots == [1, 3, 4] and answer.text.spots == [7]
    length = len(text_of(TRACE))
    assert trace.strip.marks() == [(6 / length, 1), (15 / length, 3), (18 / length, 4)]
    visited = [_walked(controls, +1) for _ in range(5)]
    assert [(pane is trace, index) for pane, index in visited] == [
        (True, 1), (True, 3), (True, 4), (False, 7), (True, 1)]  # fmt: skip
    cursor = trace.text.textCursor()
    assert (cursor.selectionStart(), cursor.selectionEnd()) == (6, 12)  # "maybe " selected
    back = [_walked(controls, -1) for _ in range(2)]
    assert [(pane is trace, index) for pane, index in back] == [(False, 7), (True, 4)]
    # From the reader's own cursor, the walk starts at the first spot after it.
    cursor = trace.text.textCursor()
    cursor.setPosition(13)  # in "it ", between "maybe " and "is "
    trace.text.setTextCursor(cursor)
    trace.text.setFocus()
    trace.show()
    qtbot.waitUntil(trace.text.hasFocus, timeout=2000)
    assert controls.step(+1) == (trace, 3)
    cursor.setPosition(13)
    trace.text.setTextCursor(cursor)
    assert controls.step(-1) == (trace, 1)
    # A click on a mark goes to that spot.
    trace.resize(300, 200)
    trace.show()
    qtbot.waitExposed(trace)
    y = trace.strip.mark_rect(15 / length).center().y()
    with qtbot.waitSignal(trace.strip.spot_clicked) as clicked:
        qtbot.mouseClick(trace.strip, Qt.MouseButton.LeftButton, pos=QPoint(4, y))
    assert clicked.args == [3]


def _walked(controls: ConfidenceControls, direction: int) -> tuple[ConfidencePane, int]:
    landed = controls.step(direction)
    assert landed is not None
    return landed


def test_the_switch_is_disabled_with_its_reason_when_there_are_no_stats(qtbot: QtBot) -> None:
    controls = ConfidenceControls()
    pane = ConfidencePane()
    qtbot.addWidget(controls)
    qtbot.addWidget(pane)
    controls.add_pane(pane)
    pane.set_tokens("An old answer.", None, "trace")
    controls.pane_changed(pane)
    assert not controls.toggle_action.isEnabled()
    assert controls.toggle_button.toolTip() == NO_STATS_REASON
    controls.toggle_action.setChecked(True)  # a checked switch with nothing to shade
    assert not controls.on and pane.text.shaded() == []


def _consensus_record(samples: list[SampleRecord]) -> RunRecord:
    groups: dict[str, list[int]] = {}
    for sample in samples:
        groups.setdefault(sample.group or "", []).append(sample.index)
    ordered = sorted(groups.items(), key=lambda kv: -len(kv[1]))
    top = ordered[0][0]
    figures = {
        "n": len(samples), "requested": len(samples), "majority": top,
        "majority_is_no_answer": False, "agreement": len(ordered[0][1]) / len(samples),
        "agreement_ci95": [0.1, 0.9], "entropy_bits": 1.0, "entropy_bits_mm": 1.1,
        "distinct": len(ordered), "no_answer": 0, "deterministic": False,
        "groups": [{"answer": a, "count": len(m), "samples": m} for a, m in ordered],
    }  # fmt: skip
    return RunRecord(id=None, conversation_id=None, turn=0, created_at=time.time(),
                     question="q", model_name="m", model_path="/m.gguf", model_sha256=None,
                     params={"samples": len(samples)}, samples=samples, consensus=figures,
                     status=RunStatus.DONE, seconds=1.0)  # fmt: skip


def _sample(index: int, group: str, ids: list[int] | None, p: float = 0.9) -> SampleRecord:
    sample = SampleRecord(index=index, seed=100 + index, trace=f"t{index}", answer=group,
                          extracted=group, extracted_rule="last_line", tokens=4, seconds=0.1,
                          finish_reason="stop", group=group)  # fmt: skip
    if ids is not None:
        stats = with_ids(ids)
        stats.top_logprobs = [[-(1 - p)] * 5 for _ in ids]  # token confidence 1 - p
        BOOK.put(sample, stats)
    return sample


def test_consensus_panel_weighs_the_vote_and_shows_the_fork(qtbot: QtBot) -> None:
    view = ConsensusView()
    qtbot.addWidget(view)
    samples = [_sample(0, "4", [1, 2, 3, 4], p=0.9), _sample(1, "4", [1, 2, 3, 9], p=0.9),
               _sample(2, "5", [1, 2, 7], p=0.0), _sample(3, "4", None)]  # fmt: skip
    view.load_report(_consensus_record(samples))
    panel = view.confidence
    assert not panel.isHidden()
    vote = panel.vote.text()
    # Weights: "5" has 1.0 (one sample, confidence 1.0), "4" 0.2 (two of 0.1; sample 3 has
    # no statistics): the weighted vote differs from the majority, and says on what.
    assert "“5” with 83% of the weight" in vote and "3 of 4 samples" in vote
    fork = panel.fork_text()
    assert "2 tokens" in fork and "“t1 t2 ”" in fork
    assert "→ “t3 ”   4: 2, 5: 0" in fork and "→ “t7 ”   4: 0, 5: 1" in fork
    view.select_group("5")  # picking a group shows its fork with the largest other one
    assert (panel.first.currentData(), panel.second.currentData()) == ("5", "4")
    assert "→ “t7 ”   5: 1, 4: 0" in panel.fork_text()
    view.select_group("4")
    assert (panel.first.currentData(), panel.second.currentData()) == ("4", "5")
    table = view.group_list.table
    items = [table.item(row, CONFIDENCE_COLUMN) for row in range(table.rowCount())]
    assert [item.text() if item else None for item in items] == ["0.10", "0.10", "—"]
    assert items[2] is not None and items[2].toolTip() == NO_STATS_REASON


def test_consensus_panel_says_why_when_no_sample_has_stats(qtbot: QtBot) -> None:
    view = ConsensusView()
    qtbot.addWidget(view)
    view.load_report(_consensus_record([_sample(0, "a", None), _sample(1, "b", None)]))
    assert NO_STATS_REASON in view.confidence.vote.text()
    assert view.confidence.fork_part.isHidden()
