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
    assert figures.agreement_label.text().endswith("16 of 16: any other answer ≤ 19.4% at 95%")
    assert figures.entropy_label.text().startswith("0.00 bits (plug-in;")
    figures.clear()
    assert figures.agreement_label.text() == "—"


def test_shares_of_eight_are_shown_exactly(qtbot: QtBot) -> None:
    figures = _figures(qtbot)
    groups = [AnswerGroup("text:17", "17", list(range(7))), AnswerGroup("text:4", "4", [7])]
    figures.show_stats(compute_stats(groups))
    # 7 of 8 is 87.5% and the interval's ends are not whole percents either.
    assert figures.agreement_label.text().startswith("87.5% of 8 answered (95% Wilson interval")
    assert "88%" not in figures.agreement_label.text()
