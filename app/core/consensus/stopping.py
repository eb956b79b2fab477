"""Early-stopping rules, as pure functions over an exchangeable set of samples.

Samples decoded together finish in order of length, so the first to finish are the
shortest, and short answers are often different answers. A stopping rule may only look
at an *exchangeable* set: the complete prefix by sample index (samples 0..k-1 all
finished), never at whichever samples happened to finish first. ``complete_prefix``
finds that prefix; the rules below take its labels or counts.

Three rules, each True when the run may stop:

- ``wilson_stop``: today's rule (stats.EarlyStopper): "cannot_lose" when the leader
  stays ahead even if every remaining sample went to the runner-up; "settled" also when,
  after 8 samples, the leader's and runner-up's Wilson intervals no longer overlap.
- ``beta_stop``: Adaptive-Consistency (Aggarwal et al., EMNLP 2023): with v1, v2 the top
  two counts, stop when P(p > 1/2) > confidence for p ~ Beta(v1 + 1, v2 + 1), i.e. the
  posterior probability that the leader beats the runner-up in a two-way race.
- ``window_stop``: ESC (Li et al., ICLR 2024): stop when the last ``window`` samples of
  the prefix all agree.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence
from typing import Literal, cast, get_args

from app.core.consensus.stats import EarlyStopper, StopMode, leader_cannot_lose, leader_settled

Rule = Literal["cannot_lose", "settled", "beta", "window"]
# What a user may choose (window, the weakest in benchmarks/early_stop.py, is kept for
# the comparison only). "beta" is the recommended one: fewest samples at <= 2% error.
EarlyStopChoice = Literal["off", "cannot_lose", "settled", "beta"]
EARLY_STOP_MODES: tuple[str, ...] = get_args(EarlyStopChoice)
RULES: tuple[Rule, ...] = ("cannot_lose", "settled", "beta", "window")
ESC_WINDOW = 8  # the paper's window for short answers (it used 5 and 8; 8 was safer here)


def complete_prefix(finished: Sequence[bool]) -> int:
    """Length k of the complete prefix: samples 0..k-1 finished, sample k not (or k = N)."""
    for k, done in enumerate(finished):
        if not done:
            return k
    return len(finished)


def label_counts(labels: Sequence[str]) -> list[int]:
    """Counts of each distinct label, largest first."""
    return sorted(Counter(labels).values(), reverse=True)


def top_two(counts: Sequence[int]) -> tuple[int, int]:
    top = [*sorted(counts, reverse=True)[:2], 0, 0]
    return top[0], top[1]


def wilson_stop(
    counts: Sequence[int], total: int, *, settled: bool = True, confidence: float = 0.95
) -> bool:
    """Today's rule over ``sum(counts)`` samples of a run of ``total``."""
    n = sum(counts)
    remaining = total - n
    if remaining <= 0:
        return False  # nothing left to skip
    if leader_cannot_lose(counts, remaining):
        return True
    return settled and leader_settled(counts, n, confidence=confidence)


def beta_leader_probability(leader: int, runner_up: int) -> float:
    """P(p > 1/2) for p ~ Beta(leader + 1, runner_up + 1), exactly.

    For integer a, b: P(Beta(a, b) <= x) = P(Binomial(a + b - 1, x) >= a), so at x = 1/2
    the answer is P(Binomial(a + b - 1, 1/2) <= a - 1): a sum of binomial coefficients.
    """
    if leader < 0 or runner_up < 0:
        raise ValueError(f"counts must be >= 0, got {leader}, {runner_up}")
    a, b = leader + 1, runner_up + 1
    m = a + b - 1
    # log-space terms keep it exact enough without huge integers at m up to ~1000
    log_half = m * math.log(0.5)
    terms = [math.exp(_log_comb(m, j) + log_half) for j in range(a)]
    return min(1.0, math.fsum(terms))


def beta_stop(counts: Sequence[int], total: int, *, confidence: float = 0.95) -> bool:
    """Adaptive-Consistency's Beta rule; never stops once nothing is left to skip."""
    if sum(counts) >= total:
        return False
    leader, runner_up = top_two(counts)
    if leader == 0:
        return False
    return beta_leader_probability(leader, runner_up) > confidence


def window_stop(labels: Sequence[str], total: int, *, window: int = ESC_WINDOW) -> bool:
    """ESC's rule: the last ``window`` labels of the prefix all agree."""
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    if len(labels) >= total or len(labels) < window:
        return False
    return len(set(labels[-window:])) == 1


def rule_stops(rule: Rule, labels: Sequence[str], total: int, confidence: float = 0.95) -> bool:
    """Whether ``rule`` stops after the prefix ``labels`` (in sample-index order)."""
    counts = label_counts(labels)
    if rule == "cannot_lose":
        return wilson_stop(counts, total, settled=False)
    if rule == "settled":
        return wilson_stop(counts, total, confidence=confidence)
    if rule == "beta":
        return beta_stop(counts, total, confidence=confidence)
    if rule == "window":
        return window_stop(labels, total)
    raise ValueError(f"unknown stopping rule {rule!r}; use one of {RULES}")


class PrefixStopper:
    """Decides on the complete prefix by index whether the rest of a run can be skipped.

    "off", "cannot_lose" and "settled" keep stats.EarlyStopper's meaning and wording;
    "beta" is Adaptive-Consistency's rule (the best in benchmarks/early_stop.py). Pass
    the labels of samples 0..k-1, in index order. After a True, ``reason`` says why.
    """

    def __init__(self, mode: str, total: int, confidence: float = 0.95) -> None:
        self.mode = mode
        self.total = total
        self.confidence = confidence
        self.reason: str | None = None
        self._wilson = EarlyStopper(
            cast(StopMode, "off" if mode in ("beta", "window") else mode), total, confidence
        )

    def should_stop(self, prefix: Sequence[str]) -> bool:
        self.reason = None
        k = len(prefix)
        if self.mode not in ("beta", "window"):
            stop = self._wilson.should_stop(label_counts(prefix), k)
            self.reason = self._wilson.reason
        else:
            stop = rule_stops(cast(Rule, self.mode), prefix, self.total, self.confidence)
            if stop and self.mode == "beta":
                leader, runner_up = top_two(label_counts(prefix))
                self.reason = (
                    f"The leading answer has {leader} of the first {k} samples and the "
                    f"runner-up {runner_up}: the leader is ahead with probability "
                    f"{beta_leader_probability(leader, runner_up):.1%} > "
                    f"{self.confidence:.0%} (Adaptive-Consistency's Beta rule)."
                )
            elif stop:
                self.reason = f"The last {ESC_WINDOW} of the first {k} samples all agree (ESC)."
        if stop and self.reason:
            self.reason += f" Decided on samples 1-{k}, the complete prefix by index."
        return stop


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


# --- simulation: how often does each rule's early majority differ from the full run's? ---


def simulate_run(rng: random.Random, leader_share: float, total: int) -> list[tuple[str, float]]:
    """One simulated run: (answer, length) per sample index. The leading answer is the
    long one; the wrong answers are short, as the measured runs' were (issue 11)."""
    samples = []
    for _ in range(total):
        if rng.random() < leader_share:
            samples.append(("17", max(1.0, rng.gauss(400, 80))))
        else:
            answer = rng.choices(("1", "2", "3"), weights=(0.6, 0.25, 0.15))[0]
            samples.append((answer, max(1.0, rng.gauss(200, 80))))
    return samples


def majority(labels: Sequence[str]) -> str:
    """The most common label; ties go to the label seen first."""
    return Counter(labels).most_common(1)[0][0]


def decide(rule: Rule, labels: Sequence[str], total: int, confidence: float = 0.95) -> int:
    """How many labels (in the given order) the rule uses before it stops; total if never."""
    for k in range(1, total):
        if rule_stops(rule, labels[:k], total, confidence):
            return k
    return total


def simulate(
    rule: Rule,
    leader_share: float,
    *,
    first_finished: bool = False,
    total: int = 64,
    runs: int = 500,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """(share of runs whose early majority differs from the full run's, mean samples
    used). ``first_finished`` decides on the samples in order of length (the biased
    set) instead of by index."""
    rng = random.Random(seed)
    wrong = used = 0
    for _ in range(runs):
        samples = simulate_run(rng, leader_share, total)
        labels = [a for a, _ in samples]
        order = sorted(samples, key=lambda s: s[1]) if first_finished else samples
        seen = [a for a, _ in order]
        k = decide(rule, seen, total, confidence)
        used += k
        wrong += majority(seen[:k]) != majority(labels)
    return wrong / runs, used / runs
