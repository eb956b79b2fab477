"""Per-question and per-set figures on hand-computed cases (simulated sample results)."""

from __future__ import annotations

import math

import pytest

from app.core.audit.aggregate import Share, bootstrap_mean_ci, calibration_bins, set_figures
from app.core.audit.measures import question_figures
from app.core.consensus.figure_lines import format_bound
from tests.core.audit.simulated import simulated_samples

Z2 = 1.959963984540054**2


def test_three_of_four_by_hand() -> None:
    f = question_figures("q", simulated_samples(["12", "12", "7", "12.0"]), reference="12")
    assert f.n == 4 and f.stats.majority == "12" and f.stats.agreement == 0.75
    low, high = f.stats.agreement_ci95
    # Wilson 3 of 4 at 95%, worked by hand: centre 0.6275, half-width 0.3269.
    assert low == pytest.approx(0.3006, abs=1e-4) and high == pytest.approx(0.9544, abs=1e-4)
    h = -(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25))
    assert f.stats.entropy_bits == pytest.approx(h)  # 0.8113 bits
    assert f.stats.entropy_bits_mm == pytest.approx(h + 1 / (8 * math.log(2)))  # +0.1803
    assert f.majority_correct is True and f.correct_samples == 3
    assert f.first_sample_correct is True
    assert f.other_answer_bound is None and not f.unanimous


def test_unanimous_bound_is_one_minus_wilson_lower_end() -> None:
    f = question_figures("q", simulated_samples(["5"] * 8), reference="6")
    assert f.unanimous and f.stats.agreement == 1.0 and f.stats.entropy_bits == 0.0
    assert f.other_answer_bound == pytest.approx(1 - 8 / (8 + Z2))  # 0.3244
    assert f.majority_correct is False and f.correct_samples == 0
    big = question_figures("q", simulated_samples(["5"] * 512), reference=None)
    assert format_bound(big.other_answer_bound or 0) == "0.75%"
    assert big.majority_correct is None and big.correct_samples is None


def test_no_answer_bucket_counts_and_leads() -> None:
    f = question_figures("q", simulated_samples([None, None, None, "4"]), reference="4")
    assert f.stats.majority is None and f.stats.no_answer == 3 and f.n == 4
    assert f.majority_correct is False, "a vote that no answer leads is wrong, not ungraded"
    assert not f.unanimous
    allnone = question_figures("q", simulated_samples([None] * 4), reference="4")
    assert not allnone.unanimous and allnone.other_answer_bound is None
    totals = set_figures([f, allnone])
    assert totals.all_no_answer == 1 and totals.unanimous == Share(0, 2)


def test_choice_letters_and_greedy_baseline() -> None:
    samples = simulated_samples(["(B)", "B", "Option B", "C"])
    greedy = simulated_samples(["b)"])[0]
    f = question_figures("q", samples, reference="B", greedy=greedy)
    assert f.stats.agreement == 0.75 and f.majority_correct and f.greedy_correct
    assert f.greedy_answer == "b)"


def test_set_figures_by_hand() -> None:
    q1 = question_figures("a", simulated_samples(["1"] * 4), reference="1")  # 1.0, right
    q2 = question_figures("b", simulated_samples(["2", "2", "3", "3"]), reference="3")
    q3 = question_figures("c", simulated_samples(["9", "8", "8", "8"]), reference="9")
    s = set_figures([q1, q2, q3])
    assert s.questions == 3 and s.samples_per_question == (4, 4)
    assert s.mean_agreement == pytest.approx((1 + 0.5 + 0.75) / 3)
    # q2 ties 2-2: the tie goes to the answer seen first ("2"), which is wrong.
    assert s.majority_accuracy == Share(1, 3)
    assert s.single_sample_accuracy == pytest.approx((1 + 0.5 + 0.25) / 3)
    assert s.first_sample_accuracy == Share(2, 3)  # samples 0: "1" right, "2" wrong, "9" right
    assert s.unanimous == Share(1, 3)
    assert s.unanimous.ci95 == pytest.approx((0.0615, 0.7923), abs=1e-4)
    assert s.greedy_accuracy == Share(0, 0)


def test_calibration_bins_and_error_by_hand() -> None:
    right = question_figures("a", simulated_samples(["1"] * 4), reference="1")
    wrong = question_figures("b", simulated_samples(["2"] * 4), reference="1")
    half = question_figures("c", simulated_samples(["1", "1", "2", "3"]), reference="1")
    bins = calibration_bins([right, wrong, half])
    by_low = {b.low: b for b in bins if b.questions}
    assert set(by_low) == {0.4, 1.0}
    assert by_low[1.0].questions == 2 and by_low[1.0].majority_correct == Share(1, 2)
    assert by_low[0.4].mean_agreement == 0.5 and by_low[0.4].majority_correct == Share(1, 1)
    s = set_figures([right, wrong, half])
    # ECE: 2/3 * |0.5 - 1.0| + 1/3 * |1.0 - 0.5| = 0.5
    assert s.calibration_error == pytest.approx(0.5)


def test_bootstrap_interval_is_reproducible_and_brackets_the_mean() -> None:
    assert bootstrap_mean_ci([0.7] * 10) == pytest.approx((0.7, 0.7))
    values = [0.5, 1.0, 0.75, 1.0, 0.25, 0.9]
    low, high = bootstrap_mean_ci(values) or (0, 0)
    assert low < sum(values) / len(values) < high
    assert bootstrap_mean_ci(values) == (low, high)
    assert bootstrap_mean_ci([]) is None
