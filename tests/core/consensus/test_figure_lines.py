"""The figures in words, checked against hand-computed Wilson bounds."""

from __future__ import annotations

from itertools import count

from app.core.answers.grouping import NO_ANSWER, AnswerGroup, AnswerGrouper
from app.core.consensus.figure_lines import (
    MIN_ANSWERED_FOR_AGREEMENT,
    figure_lines,
    format_bound,
    format_share,
    live_basis,
    prefix_basis,
)
from app.core.consensus.record import basis_of
from app.core.consensus.stats import ConsensusStats, compute_stats, wilson_interval
from app.core.consensus.stats_help import STATS_HELP
from app.core.consensus.summary import answered_agreement


def _stats(*sizes: tuple[str | None, int]) -> ConsensusStats:
    """Groups of the given sizes; label None is the no-answer bucket."""
    index = count()
    groups = [
        AnswerGroup(
            "none:" if label is None else f"text:{label}",
            NO_ANSWER if label is None else label,
            [next(index) for _ in range(size)],
            is_no_answer=label is None,
        )
        for label, size in sizes
    ]
    return compute_stats(groups)


def test_one_sample_without_answer_shows_no_agreement_figure() -> None:
    lines = figure_lines(_stats((None, 1)))
    assert "%" not in lines.agreement  # no more "100% (21%–100%)"
    assert lines.agreement == "not shown: 0 samples answered, agreement needs at least 2"
    assert lines.majority == "none: most samples gave no answer (1 of 1)"
    assert lines.answered == "0 of 1 answered (1 gave no answer)"


def test_one_answered_sample_is_not_enough() -> None:
    lines = figure_lines(_stats(("17", 1), (None, 3)))
    assert lines.agreement == "not shown: 1 sample answered, agreement needs at least 2"


def test_agreement_is_over_the_answered_samples_and_names_them() -> None:
    # 5 of 9 answered: Wilson 95% by hand = 0.2667–0.8112.
    lines = figure_lines(_stats(("17", 5), (None, 7), ("18", 4)))
    assert lines.agreement == "56% of 9 answered (95% Wilson interval 27%–81%)"
    assert lines.answered == "9 of 16 answered (7 gave no answer)"
    assert lines.majority == "none: most samples gave no answer (7 of 16)"
    assert lines.distinct == "2 among 9 answered"


def test_no_answer_leading_is_said_in_words() -> None:
    lines = figure_lines(_stats((None, 7), ("3", 5)))
    assert "most samples gave no answer (7 of 12)" in lines.majority


def test_unanimous_run_bounds_any_other_answer() -> None:
    # 16 of 16: Wilson lower bound 0.8063 by hand, so any other answer is at most
    # 19.36%, shown rounded up: a bound rounded down would not be a bound.
    lines = figure_lines(_stats(("17", 16)))
    assert lines.agreement == (
        "100% of 16 answered (95% Wilson interval 81%–100%); "
        "16 of 16: any other answer ≤ 20% at 95%"
    )
    assert lines.entropy.startswith("0.00 bits (plug-in;")
    assert lines.majority == "17  (16 of 16 samples)"


def test_512_of_512_bounds_any_other_answer_below_one_percent() -> None:
    # Wilson lower bound 0.99255 by hand: others at most 0.75% (DESIGN.md).
    lines = figure_lines(_stats(("17", 512)))
    assert lines.agreement.endswith("512 of 512: any other answer ≤ 0.75% at 95%")


def test_unanimous_answered_with_some_no_answer_still_bounds() -> None:
    lines = figure_lines(_stats(("17", 16), (None, 2)))
    assert "16 of 16: any other answer ≤ 20%" in lines.agreement
    assert lines.answered == "16 of 18 answered (2 gave no answer)"


def test_nothing_counted_yet_is_all_dashes() -> None:
    lines = figure_lines(_stats())
    assert {text for _, text in lines.rows()} == {"—"}


def test_format_share() -> None:
    assert format_share(0.0) == "0%"
    assert format_share(0.0074) == "0.74%"
    assert format_share(0.194) == "19%"
    assert format_share(1.0) == "100%"


def test_format_bound_rounds_up() -> None:
    assert format_bound(0.19360768) == "20%"
    assert format_bound(0.00744698) == "0.75%"
    assert format_bound(0.2) == "20%"
    assert format_bound(0.0) == "0%"


def test_help_matches_the_wording() -> None:
    text = " ".join(STATS_HELP.split())
    assert f"fewer than {MIN_ANSWERED_FOR_AGREEMENT} answered samples no agreement" in text
    bound_16 = format_bound(1 - wilson_interval(16, 16)[0])
    assert f"16 of 16: any other answer ≤ {bound_16}" in text
    assert f"512 of 512 gives ≤ {format_bound(1 - wilson_interval(512, 512)[0])}" in text
    assert "most samples gave no answer (7 of 12)" in text
    assert "the window offers to use one sample instead" in text


def test_figures_say_which_samples_they_count() -> None:
    assert live_basis(64, 64) == ""
    assert (
        live_basis(12, 64) == "counted: the 12 of 64 finished so far (short answers finish first)"
    )
    assert (
        prefix_basis(9, 9) == "counted: samples 1–9, the complete prefix the stop rule decided on"
    )
    assert prefix_basis(9, 14).endswith("; 5 more finished and are shown, not counted")
    stopped = {"n": 9, "requested": 64, "stopped_early": True, "decided_on": 9, "samples_saved": 50}
    assert basis_of(stopped) == prefix_basis(9, 14)
    assert basis_of({"n": 3, "requested": 8, "stopped_early": False}) == live_basis(3, 8)
    assert basis_of({"n": 8, "requested": 8}) == ""


def test_json_agreement_matches_the_panel_and_says_its_base() -> None:
    grouper = AnswerGrouper()
    for i, answer in enumerate(["17", "17", None, None, None, "1"]):
        grouper.add(i, answer)
    stats = compute_stats(grouper.groups)
    figures = answered_agreement(stats)
    assert figures["answered"] == 3 and figures["answer_agreement"] == 2 / 3
    assert figures["answer_agreement_ci95"] == list(wilson_interval(2, 3))
    assert figure_lines(stats).agreement.startswith("67% of 3 answered")
    assert stats.agreement == 0.5  # the no-answer bucket leads, 3 of all 6
    one = AnswerGrouper()
    one.add(0, "17")
    one.add(1, None)
    assert answered_agreement(compute_stats(one.groups))["answer_agreement"] is None
