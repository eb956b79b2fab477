"""Early-stopping rules over the complete prefix by index, and their simulated bias."""

from __future__ import annotations

import pytest

from app.core.consensus.stats_help import STATS_HELP
from app.core.consensus.stopping import (
    EARLY_STOP_MODES,
    PrefixStopper,
    beta_leader_probability,
    beta_stop,
    complete_prefix,
    label_counts,
    rule_stops,
    simulate,
    wilson_stop,
    window_stop,
)


def test_complete_prefix_stops_at_first_gap() -> None:
    assert complete_prefix([]) == 0
    assert complete_prefix([False, True, True]) == 0
    assert complete_prefix([True, True, False, True]) == 2
    assert complete_prefix([True] * 5) == 5


def test_label_counts_largest_first() -> None:
    assert label_counts(["a", "b", "a", "c", "a", "b"]) == [3, 2, 1]


def test_beta_probability_hand_cases() -> None:
    assert beta_leader_probability(0, 0) == pytest.approx(0.5)  # Beta(1, 1): uniform
    assert beta_leader_probability(1, 0) == pytest.approx(0.75)  # Beta(2, 1): 1 - 1/4
    assert beta_leader_probability(3, 0) == pytest.approx(15 / 16)
    assert beta_leader_probability(4, 0) == pytest.approx(31 / 32)
    assert beta_leader_probability(5, 5) == pytest.approx(0.5)
    assert beta_leader_probability(2, 5) < 0.5
    assert beta_leader_probability(600, 400) == pytest.approx(1.0)


def test_beta_stop_at_95() -> None:
    assert not beta_stop([3], 64)  # 15/16 < 0.95
    assert beta_stop([4], 64)  # 31/32
    assert not beta_stop([10, 4], 64)  # 0.94
    assert not beta_stop([6, 4], 64)
    assert beta_stop([20, 5, 3], 64)
    assert not beta_stop([5], 5), "nothing left to skip"
    assert not beta_stop([], 64)


def test_wilson_keeps_todays_meaning() -> None:
    assert wilson_stop([9], 16, settled=False)  # 9 > 0 + 7 remaining
    assert not wilson_stop([8], 16, settled=False)  # a tie is possible
    assert wilson_stop([8], 64)  # unanimous 8 settles (0.68 > 0.32)
    assert not wilson_stop([7], 64)  # fewer than 8 samples
    assert not wilson_stop([5, 3], 64)
    assert not wilson_stop([8], 8)


def test_window_rule() -> None:
    assert window_stop(["a"] * 8, 64)
    assert not window_stop(["b"] + ["a"] * 7, 64)
    assert window_stop(["b", "c"] + ["a"] * 8, 64)
    assert not window_stop(["a"] * 3, 64, window=4)
    assert not window_stop(["a"] * 8, 8)


def test_rule_stops_rejects_unknown() -> None:
    with pytest.raises(ValueError):
        rule_stops("nope", ["a"], 8)  # type: ignore[arg-type]


@pytest.mark.parametrize("share", [0.5, 0.6, 0.7, 0.8, 0.9, 0.95])
def test_beta_rule_meets_the_goal_on_the_prefix(share: float) -> None:
    wrong, used = simulate("beta", share, runs=300, seed=11)
    assert wrong <= 0.05
    if share >= 0.8:
        assert used <= 32, "at least half the samples saved"


def test_first_finished_is_biased() -> None:
    # Short answers are wrong answers: deciding on whichever finished first picks them.
    honest, _ = simulate("beta", 0.6, runs=300, seed=11)
    biased, _ = simulate("beta", 0.6, first_finished=True, runs=300, seed=11)
    assert biased > honest + 0.3


def test_prefix_stopper_says_which_set_it_used() -> None:
    beta = PrefixStopper("beta", 64)
    assert not beta.should_stop(["a", "a", "a"])
    assert beta.should_stop(["a"] * 4)
    assert "first 4 samples" in (beta.reason or "") and "complete prefix" in (beta.reason or "")
    settled = PrefixStopper("settled", 64)
    assert settled.should_stop(["a"] * 8)
    assert "Wilson" in (settled.reason or "") and "samples 1-8" in (settled.reason or "")
    assert not PrefixStopper("off", 64).should_stop(["a"] * 40)
    with pytest.raises(ValueError):
        PrefixStopper("nope", 64)


def test_help_table_is_the_simulation() -> None:
    # The `?` help quotes benchmarks/early_stop.py (N=64, 300 runs, seed 0); rerun two cells.
    text = " ".join(STATS_HELP.split())
    wrong, used = simulate("beta", 0.8, runs=300)
    assert f"| Beta | samples 1..k | 0.3%, 17 used | {wrong:.1%}, {used:.1f} used |" in text
    wrong, used = simulate("beta", 0.8, first_finished=True, runs=300)
    assert f"| {wrong:.0%}, {used:.0f} used |" in text
    assert "beta" in EARLY_STOP_MODES and "window" not in EARLY_STOP_MODES
