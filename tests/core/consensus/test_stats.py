"""Consensus statistics and early-stop rules, checked against hand computations.

Hand computations use z = 1.959964, z² = 3.841459.
"""

from __future__ import annotations

import math
import random
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.answers.grouping import NO_ANSWER, AnswerGroup, AnswerGrouper
from app.core.consensus.stats import (
    MIN_SAMPLES_TO_SETTLE,
    EarlyStopper,
    compute_stats,
    entropy_bits,
    leader_cannot_lose,
    leader_settled,
    miller_madow_bits,
    wilson_interval,
)
from app.core.consensus.stats_help import STATS_HELP

# --- Wilson interval ---------------------------------------------------------------------------


def test_wilson_7_of_10() -> None:
    # p = 0.7, z²/n = 0.384146, denominator 1 + 0.384146 = 1.384146
    # centre = (0.7 + 0.192073) / 1.384146 = 0.644493
    # half   = 1.959964 / 1.384146 * sqrt(0.7*0.3/10 + 3.841459/400)
    #        = 1.416009 * sqrt(0.021 + 0.009604) = 1.416009 * 0.174940 = 0.247716
    # -> (0.396777, 0.892209)
    low, high = wilson_interval(7, 10)
    assert low == pytest.approx(0.396777, abs=1e-5)
    assert high == pytest.approx(0.892209, abs=1e-5)


def test_wilson_ends() -> None:
    # 0 of 10: upper = z² / (n + z²) = 3.841459 / 13.841459 = 0.277533; lower exactly 0
    assert wilson_interval(0, 10) == (0.0, pytest.approx(0.277533, abs=1e-5))
    # 10 of 10: lower = n / (n + z²) = 10 / 13.841459 = 0.722467; upper exactly 1
    assert wilson_interval(10, 10) == (pytest.approx(0.722467, abs=1e-5), 1.0)
    # 512 of 512: lower = 512 / 515.841459 = 0.992553
    assert wilson_interval(512, 512)[0] == pytest.approx(0.992553, abs=1e-5)
    assert wilson_interval(0, 0) == (0.0, 1.0)  # no samples, no information


def test_wilson_other_z() -> None:
    # z = 1: 1 of 2: p = 0.5, z²/n = 0.5; centre = (0.5 + 0.25) / 1.5 = 0.5
    # half = 1/1.5 * sqrt(0.25/2 + 1/16) = 0.666667 * 0.433013 = 0.288675
    low, high = wilson_interval(1, 2, z=1.0)
    assert (low, high) == (pytest.approx(0.211325, abs=1e-6), pytest.approx(0.788675, abs=1e-6))


@pytest.mark.parametrize(
    ("successes", "n", "z", "message"),
    [
        (-1, 10, 1.96, "must not be negative"),
        (11, 10, 1.96, "0 <= successes <= n"),
        (1, -1, 1.96, "0 <= successes <= n"),
        (1, 10, 0.0, "z must be a positive number"),
        (1, 10, float("nan"), "z must be a positive number"),
    ],
)
def test_wilson_rejects_bad_input(successes: int, n: int, z: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        wilson_interval(successes, n, z)


def test_wilson_covers_the_true_share_about_95_percent_of_the_time() -> None:
    started = time.perf_counter()
    rnd = random.Random(20261101)
    trials, n, p = 2000, 50, 0.7
    covered = 0
    for _ in range(trials):
        successes = sum(rnd.random() < p for _ in range(n))
        low, high = wilson_interval(successes, n)
        covered += low <= p <= high
    coverage = covered / trials
    assert 0.92 <= coverage <= 0.975, coverage
    assert time.perf_counter() - started < 2.0


@given(st.integers(0, 600).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_contains_the_point_estimate(case: tuple[int, int]) -> None:
    successes, n = case
    low, high = wilson_interval(successes, n)
    assert 0.0 <= low <= high <= 1.0
    if n:
        assert low <= successes / n <= high


# --- entropy ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "bits"),
    [
        ([2, 2], 1.0),  # two equal halves: one bit
        ([4], 0.0),  # everyone agrees
        ([1, 1, 1, 1], 2.0),  # four equal quarters: log2 4
        ([3, 1], 0.811278),  # -(0.75 log2 0.75 + 0.25 log2 0.25) = 0.311278 + 0.5
        ([3, 0, 1], 0.811278),  # empty groups do not count
        ([], 0.0),
        ([0, 0], 0.0),
    ],
)
def test_entropy(counts: list[int], bits: float) -> None:
    assert entropy_bits(counts) == pytest.approx(bits, abs=1e-6)


@pytest.mark.parametrize(
    ("counts", "bits"),
    [
        ([3, 1], 0.991615),  # 0.811278 + (2-1) / (2*4*ln 2) = 0.811278 + 0.180337
        ([1, 1], 1.360674),  # 1 + 1 / (2*2*ln 2) = 1 + 0.360674
        ([4], 0.0),  # K = 1 adds nothing
        ([5, 0], 0.0),
        ([], 0.0),
        ([1, 1, 1, 1], 2.541011),  # 2 + (4-1) / (2*4*ln 2) = 2 + 3 / 5.545177 = 2 + 0.541011
    ],
)
def test_miller_madow(counts: list[int], bits: float) -> None:
    assert miller_madow_bits(counts) == pytest.approx(bits, abs=1e-6)


def test_entropy_rejects_bad_counts() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        entropy_bits([3, -1])
    with pytest.raises(TypeError, match="whole numbers"):
        miller_madow_bits([1.5, 2])  # type: ignore[list-item]


@given(st.lists(st.integers(0, 1000), max_size=30))
def test_entropy_bounds(counts: list[int]) -> None:
    k = sum(1 for c in counts if c > 0)
    h = entropy_bits(counts)
    assert 0.0 <= h <= (math.log2(k) if k else 0.0) + 1e-9
    assert miller_madow_bits(counts) >= h


# --- compute_stats ---------------------------------------------------------------------------


def _grouped(answers: list[str | None]) -> list[AnswerGroup]:
    g = AnswerGrouper()
    for i, answer in enumerate(answers):
        g.add(i, answer)
    return g.groups


def test_stats_of_a_typical_run() -> None:
    stats = compute_stats(_grouped(["42", "42.0", "41", None, "42"]))
    assert stats.n == 5
    assert stats.majority == "42"
    assert stats.majority_count == 3
    assert not stats.majority_is_no_answer
    assert stats.agreement == pytest.approx(0.6)
    assert stats.agreement_ci95 == wilson_interval(3, 5)
    # groups [3, 1, 1]: H = 0.6*0.736966 + 2*0.2*2.321928 = 0.442179 + 0.928771 = 1.370951
    assert stats.entropy_bits == pytest.approx(1.370951, abs=1e-6)
    # + (3-1) / (2*5*ln 2) = 2 / 6.931472 = 0.288539
    assert stats.entropy_bits_mm == pytest.approx(1.659490, abs=1e-6)
    assert stats.distinct == 2
    assert stats.no_answer == 1
    assert stats.groups == [("42", 3, [0, 1, 4]), ("41", 1, [2]), (NO_ANSWER, 1, [3])]
    assert not stats.deterministic
    assert stats.note is None


def test_stats_of_no_samples() -> None:
    stats = compute_stats([])
    assert (stats.n, stats.majority, stats.majority_count) == (0, None, 0)
    assert stats.agreement == 0.0
    assert stats.agreement_ci95 == (0.0, 1.0)
    assert (stats.entropy_bits, stats.entropy_bits_mm) == (0.0, 0.0)
    assert (stats.distinct, stats.no_answer, stats.groups) == (0, 0, [])
    assert stats.note is None


def test_stats_when_every_sample_gave_no_answer() -> None:
    stats = compute_stats(_grouped([None, None, "", None]))
    assert stats.majority is None
    assert stats.majority_is_no_answer
    assert stats.majority_count == 4
    assert stats.agreement == 1.0
    assert (stats.distinct, stats.no_answer) == (0, 4)
    assert stats.groups == [(NO_ANSWER, 4, [0, 1, 2, 3])]
    assert stats.note is not None and "no answer" in stats.note


def test_no_answer_leading_is_reported_without_a_majority() -> None:
    stats = compute_stats(_grouped([None, "7", None, None, "8"]))
    assert stats.majority is None and stats.majority_is_no_answer
    assert stats.majority_count == 3 and stats.agreement == pytest.approx(0.6)
    assert stats.distinct == 2


def test_ties() -> None:
    stats = compute_stats(_grouped(["8", "7", "7", "8"]))
    assert stats.majority == "8"  # seen first
    assert stats.note is not None and "2 groups tie" in stats.note
    # A real answer wins a tie with the no-answer bucket.
    stats = compute_stats(_grouped([None, None, "7", "7"]))
    assert stats.majority == "7" and not stats.majority_is_no_answer
    assert stats.groups[0] == ("7", 2, [2, 3])


def test_deterministic_note() -> None:
    stats = compute_stats(_grouped(["5", "5", "5"]), deterministic=True)
    assert stats.deterministic
    assert stats.agreement == 1.0 and stats.entropy_bits == 0.0
    assert stats.note is not None and "by construction" in stats.note


def test_stats_reject_a_sample_in_two_groups() -> None:
    groups = [AnswerGroup("number:1", "1", [0, 1]), AnswerGroup("number:2", "2", [1])]
    with pytest.raises(ValueError, match="sample 1 appears in more than one group"):
        compute_stats(groups)


# --- early stop ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "remaining", "expected"),
    [
        ([6, 2], 3, True),  # 6 > 2 + 3
        ([6, 3], 3, False),  # 6 = 3 + 3: the runner-up could still tie
        ([2, 6], 3, True),  # order of counts does not matter
        ([5], 4, True),  # 5 > 0 + 4
        ([5], 5, False),
        ([3, 3], 0, False),  # a finished tie has no leader that "cannot lose"
        ([4, 3], 0, True),
        ([], 0, False),
        ([0, 0], 0, False),
    ],
)
def test_leader_cannot_lose(counts: list[int], remaining: int, expected: bool) -> None:
    assert leader_cannot_lose(counts, remaining) is expected


def test_leader_cannot_lose_rejects_negative_remaining() -> None:
    with pytest.raises(ValueError, match="remaining must be >= 0"):
        leader_cannot_lose([3], -1)


def test_leader_settled_hand_cases() -> None:
    # Unanimous 8 of 8: leader lower = 8 / 11.841459 = 0.675593;
    # runner-up 0 of 8 upper = 3.841459 / 11.841459 = 0.324407 -> settled.
    assert leader_settled([8], 8)
    assert not leader_settled([7], 7)  # under the minimum of 8 samples
    assert MIN_SAMPLES_TO_SETTLE == 8
    # [6, 2] of 8: z²/n = 0.480182, centre(0.75) = 0.668897, centre(0.25) = 0.331103,
    # half = 1.324134 * sqrt(0.0234375 + 0.015006) = 0.259626
    # -> leader lower 0.409 < runner-up upper 0.591: not settled.
    assert not leader_settled([6, 2], 8)
    # [18, 2] of 20: z²/n = 0.192073, half = 1.644164 * sqrt(0.0045 + 0.002401) = 0.136583
    # leader lower = 0.835553 - 0.136583 = 0.698970 > runner-up upper
    # = 0.164451 + 0.136583 = 0.301034 -> settled.
    assert leader_settled([18, 2], 20)
    # [16, 4] of 20 at 95%: lower(0.8) = 0.583988 > upper(0.2) = 0.416017 -> settled;
    # at 99.9% (z = 3.290527): lower(0.8) = 0.435209 < upper(0.2) = 0.564790 -> not.
    assert leader_settled([16, 4], 20)
    assert not leader_settled([16, 4], 20, confidence=0.999)
    # No-answer samples outside counts still count in n: [8] of 12 -> leader lower 0.391
    # (p = 0.667), runner-up 0 of 12 upper 0.242 -> settled.
    assert leader_settled([8], 12)


def test_leader_settled_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="more than n"):
        leader_settled([5, 5], 9)
    with pytest.raises(ValueError, match="confidence must be between 0 and 1"):
        leader_settled([5], 9, confidence=1.0)


def test_early_stopper_off_never_stops() -> None:
    stopper = EarlyStopper("off", total=10)
    assert not stopper.should_stop([9], 9)
    assert stopper.reason is None


def test_early_stopper_cannot_lose() -> None:
    stopper = EarlyStopper("cannot_lose", total=10)
    assert not stopper.should_stop([5, 2], 7)  # 5 = 2 + 3
    assert stopper.reason is None
    assert stopper.should_stop([6, 1], 7)  # 6 > 1 + 3
    assert stopper.reason is not None and "6 of 7" in stopper.reason
    assert not stopper.should_stop([10], 10)  # nothing left to skip


def test_early_stopper_settled() -> None:
    stopper = EarlyStopper("settled", total=100)
    assert not stopper.should_stop([7], 7)
    assert stopper.should_stop([8], 8)
    assert stopper.reason is not None and "settled after 8 samples" in stopper.reason
    assert "at least 68%" in stopper.reason and "at most 32%" in stopper.reason
    # "settled" also stops when the leader cannot lose, even below 8 samples.
    near_end = EarlyStopper("settled", total=6)
    assert near_end.should_stop([5], 5)
    assert near_end.reason is not None and "remaining" in near_end.reason


def test_early_stopper_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="unknown early-stop mode 'sometimes'"):
        EarlyStopper("sometimes", total=10)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="total must be at least 1"):
        EarlyStopper("off", total=0)
    with pytest.raises(ValueError, match="finished must be between 0 and 10"):
        EarlyStopper("settled", total=10).should_stop([11], 11)


# --- help text -------------------------------------------------------------------------------


def test_help_defines_every_figure() -> None:
    for term in [
        "Majority",
        "Agreement",
        "Wilson 95% interval",
        "Entropy (bits)",
        "Miller–Madow",
        "No answer",
        "Deterministic sampling",
        "Leader cannot lose",
        "Leader settled",
        NO_ANSWER,
    ]:
        assert term in " ".join(STATS_HELP.split()), term


def test_help_numbers_match_the_code() -> None:
    text = " ".join(STATS_HELP.split())  # the help is wrapped at arbitrary spaces
    assert f"after at least {MIN_SAMPLES_TO_SETTLE} samples" in text
    assert f"settles after {MIN_SAMPLES_TO_SETTLE} samples" in text
    low, high = wilson_interval(7, 10)
    assert f"7 of 10 gives {low:.0%}–{high:.0%}" in text
