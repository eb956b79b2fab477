"""The window's figures panel shows the core's honest wording, n next to every figure."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from app.core.answers.grouping import NO_ANSWER, AnswerGroup
from app.core.consensus.stats import compute_stats
from app.ui.consensus.figures import ConsensusFigures


def _figures(qtbot: QtBot) -> ConsensusFigures:
    figures = ConsensusFigures()
    qtbot.addWidget(figures)
    return figures


def test_one_sample_without_answer_claims_no_agreement(qtbot: QtBot) -> None:
    figures = _figures(qtbot)
    figures.show_stats(compute_stats([AnswerGroup("none:", NO_ANSWER, [0], is_no_answer=True)]))
    assert "100%" not in figures.agreement_label.text()  # was "100% (21%–100%)"
    assert figures.agreement_label.text().startswith("not shown: 0 samples answered")
    assert figures.answered_label.text() == "0 of 1 answered (1 gave no answer)"
    assert "most samples gave no answer (1 of 1)" in figures.majority_label.text()


def test_unanimous_panel_bounds_the_others(qtbot: QtBot) -> None:
    figures = _figures(qtbot)
    figures.show_stats(compute_stats([AnswerGroup("text:17", "17", list(range(16)))]))
    assert figures.agreement_label.text().endswith("16 of 16: any other answer ≤ 20% at 95%")
    assert figures.entropy_label.text().startswith("0.00 bits (plug-in;")
    figures.clear()
    assert figures.agreement_label.text() == "—"
