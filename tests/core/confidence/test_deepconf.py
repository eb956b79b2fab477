"""DeepConf per sample and the confidence-weighted vote, against figures worked by hand."""

from __future__ import annotations

import math

import pytest

from app.core.confidence.deepconf import (
    WINDOW,
    group_confidences,
    lowest_groups_mean,
    sample_confidence,
    token_confidences,
)
from app.core.confidence.vote import weighted_vote
from tests.confidence_data import scripted_stats


def test_token_confidence_is_minus_the_mean_top5_logprob() -> None:
    # -(-0.1 - 2.5 - 3.0 - 4.0 - 5.4) / 5 = 15.0 / 5 = 3.0
    assert token_confidences([[-0.1, -2.5, -3.0, -4.0, -5.4]]) == pytest.approx([3.0])
    # A flat top 5 (each log 1/5) is the least confident a top 5 can be: log 5.
    flat = [math.log(0.2)] * 5
    assert token_confidences([flat]) == pytest.approx([math.log(5)])


def test_groups_slide_one_token_at_a_time_and_the_lowest_tenth_is_averaged() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    # Windows of 3: (1+2+3)/3, (2+3+4)/3, (3+4+5)/3, (4+5+6)/3.
    assert group_confidences(values, window=3) == pytest.approx([2.0, 3.0, 4.0, 5.0])
    # A sample shorter than the window is one group.
    assert group_confidences(values, window=10) == pytest.approx([3.5])
    # 10% of 4 groups rounds down to none: at least one, the lowest.
    assert lowest_groups_mean([2.0, 3.0, 4.0, 5.0]) == pytest.approx(2.0)
    # 10% of 20 groups is 2: the mean of the two lowest.
    assert lowest_groups_mean([float(v) for v in range(20, 0, -1)]) == pytest.approx(1.5)
    assert lowest_groups_mean([]) is None


def test_a_sample_is_as_confident_as_its_most_hesitant_stretch() -> None:
    sure = [("trace", "a", 0.99)] * (2 * WINDOW)
    unsure = [("trace", "b", 0.3)] * (4 * WINDOW)
    steady = sample_confidence(scripted_stats(sure))
    wavering = sample_confidence(scripted_stats(sure[:WINDOW] + unsure + sure[:WINDOW]))
    assert steady is not None and wavering is not None
    # 321 windows; the lowest 32 lie wholly in the 256 unsure tokens (193 windows do):
    # each token's top 5 is 0.3 and four of 0.175.
    by_hand = -(math.log(0.3) + 4 * math.log(0.175)) / 5
    assert wavering == pytest.approx(by_hand, rel=1e-9)
    assert steady > wavering
    assert sample_confidence(None) is None


def test_the_weighted_vote_counts_only_samples_with_statistics_and_an_answer() -> None:
    groups = {0: "4", 1: "4", 2: "5", 3: None, 4: "4"}
    confidences = {0: 1.0, 1: 2.0, 2: 5.0, 3: 9.0}  # sample 4 has no statistics
    vote = weighted_vote(groups, confidences)
    assert vote.weights == [("5", 5.0), ("4", 3.0)]
    assert vote.winner == "5"  # while the plain majority is "4", 3 of 5
    assert vote.share == pytest.approx(5.0 / 8.0)
    assert (vote.counted, vote.total) == (3, 5)
    assert "3 of 5 samples" in vote.basis()
    tie = weighted_vote({0: "a", 1: "b"}, {0: 2.0, 1: 2.0})
    assert tie.winner is None
    none = weighted_vote({0: "a"}, {})
    assert (none.winner, none.share, none.counted) == (None, None, 0)
