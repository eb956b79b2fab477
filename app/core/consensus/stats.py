"""Agreement statistics for a consensus run, and the rules for stopping it early.

Every figure is defined in STATS_HELP (app.core.consensus.stats_help), which the app shows as
help; keep the two in step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Literal

from app.core.answers.grouping import NO_ANSWER, AnswerGroup

Z_95 = 1.959963984540054  # two-sided 95% quantile of the standard normal
MIN_SAMPLES_TO_SETTLE = 8

DETERMINISTIC_NOTE = (
    "Sampling is deterministic (temperature 0 or top-k 1), so every sample is the same "
    "by construction: this agreement says nothing about how sure the model is."
)


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval for a share successes/n; (0.0, 1.0) when n == 0."""
    _check_counts([successes], "successes")
    if n < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    if not z > 0 or math.isinf(z):
        raise ValueError(f"z must be a positive number, got {z}")
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    z2_n = z * z / n
    centre = (p + z2_n / 2) / (1 + z2_n)
    half_width = z / (1 + z2_n) * math.sqrt(p * (1 - p) / n + z2_n / (4 * n))
    # The ends are exactly 0 and 1 at 0/n and n/n; pin them against rounding.
    low = 0.0 if successes == 0 else max(0.0, centre - half_width)
    high = 1.0 if successes == n else min(1.0, centre + half_width)
    return (low, high)


def entropy_bits(counts: Sequence[int]) -> float:
    """Plug-in Shannon entropy -sum p log2 p over the non-empty groups; 0.0 for one group."""
    _check_counts(counts, "counts")
    total = sum(counts)
    if total == 0:
        return 0.0
    h = -sum(c / total * math.log2(c / total) for c in counts if c > 0)
    return max(0.0, h)  # -0.0 and tiny negative rounding become 0.0


def miller_madow_bits(counts: Sequence[int]) -> float:
    """Plug-in entropy + (K-1)/(2N ln 2): K non-empty groups, N samples; 0.0 when N == 0."""
    _check_counts(counts, "counts")
    total = sum(counts)
    if total == 0:
        return 0.0
    k = sum(1 for c in counts if c > 0)
    return entropy_bits(counts) + (k - 1) / (2 * total * math.log(2))


@dataclass(frozen=True)
class ConsensusStats:
    """How much the samples agree: majority, agreement with its interval, entropy, groups."""

    n: int  # samples counted, the no-answer ones included
    majority: str | None  # label of the largest answer group; None if n == 0 or no-answer leads
    majority_count: int  # size of the largest group (the no-answer bucket when it leads)
    majority_is_no_answer: bool
    agreement: float  # majority_count / n (0.0 when n == 0)
    agreement_ci95: tuple[float, float]  # Wilson 95% interval of agreement
    entropy_bits: float  # over all groups, the no-answer bucket counted as one group
    entropy_bits_mm: float  # Miller–Madow corrected
    distinct: int  # answer groups, the no-answer bucket excluded
    no_answer: int  # samples that gave no answer
    groups: list[tuple[str, int, list[int]]] = field(default_factory=list)  # largest first
    deterministic: bool = False
    note: str | None = None  # plain sentences worth showing next to the figures


def compute_stats(groups: Sequence[AnswerGroup], *, deterministic: bool = False) -> ConsensusStats:
    """Statistics of a grouping (empty groups ignored). Leader ties go to a real answer, then
    to the group listed first (AnswerGrouper lists equal sizes in order of first arrival)."""
    seen: set[int] = set()
    for group in groups:
        if overlap := seen.intersection(group.members):
            raise ValueError(f"sample {min(overlap)} appears in more than one group")
        seen.update(group.members)
    ranked = sorted(
        (g for g in groups if g.members), key=lambda g: (-len(g.members), g.is_no_answer)
    )  # stable: equal sizes keep the caller's order
    counts = [len(g.members) for g in ranked]
    n = sum(counts)
    no_answer = sum(len(g.members) for g in ranked if g.is_no_answer)
    leader = ranked[0] if ranked else None
    majority_count = len(leader.members) if leader else 0
    majority_is_no_answer = leader is not None and leader.is_no_answer
    notes = []
    if deterministic:
        notes.append(DETERMINISTIC_NOTE)
    if majority_is_no_answer:
        notes.append("Most samples gave no answer that could be read.")
    if len(counts) > 1 and counts[0] == counts[1]:
        notes.append(
            f"{sum(1 for c in counts if c == counts[0])} groups tie for the lead; "
            "the majority shown is the tied answer that appeared first."
        )
    return ConsensusStats(
        n=n,
        majority=leader.label if leader and not majority_is_no_answer else None,
        majority_count=majority_count,
        majority_is_no_answer=majority_is_no_answer,
        agreement=majority_count / n if n else 0.0,
        agreement_ci95=wilson_interval(majority_count, n),
        entropy_bits=entropy_bits(counts),
        entropy_bits_mm=miller_madow_bits(counts),
        distinct=sum(1 for g in ranked if not g.is_no_answer),
        no_answer=no_answer,
        groups=[
            (NO_ANSWER if g.is_no_answer else g.label, len(g.members), list(g.members))
            for g in ranked
        ],
        deterministic=deterministic,
        note=" ".join(notes) or None,
    )


def leader_cannot_lose(counts: Sequence[int], remaining: int) -> bool:
    """True when the leader stays strictly ahead even if every remaining sample goes to the
    runner-up: leader > runner-up + remaining. A possible tie does not count as settled."""
    _check_counts(counts, "counts")
    if remaining < 0:
        raise ValueError(f"remaining must be >= 0, got {remaining}")
    leader, runner_up = _top_two(counts)
    return leader > 0 and leader > runner_up + remaining


def leader_settled(
    counts: Sequence[int],
    n: int,
    *,
    confidence: float = 0.95,
    min_samples: int = MIN_SAMPLES_TO_SETTLE,
) -> bool:
    """True when, after at least min_samples (8) samples, the lower end of the leader's
    Wilson interval is above the upper end of the runner-up's Wilson interval, both at the
    given confidence (95%: z = 1.96) over the same n samples. A runner-up that does not exist
    counts as 0 of n, so a unanimous run settles at 8 samples (lower end 0.68 > upper 0.32).

    This is a rule of thumb, not an exact test: the two shares come from the same samples,
    and checking after every sample lets chance fluctuations end a run more often than the
    confidence level suggests.
    """
    _check_counts(counts, "counts")
    if sum(counts) > n:
        raise ValueError(f"counts add up to {sum(counts)}, more than n={n}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    if n < max(1, min_samples):
        return False
    z = _z_for(confidence)
    leader, runner_up = _top_two(counts)
    return wilson_interval(leader, n, z)[0] > wilson_interval(runner_up, n, z)[1]


StopMode = Literal["off", "cannot_lose", "settled"]
_MODES = ("off", "cannot_lose", "settled")


@dataclass
class EarlyStopper:
    """Decides after each finished sample whether the rest of a run can be skipped.

    "cannot_lose" stops when leader_cannot_lose holds; "settled" stops when leader_settled
    or leader_cannot_lose holds. Pass the counts of every group, the no-answer bucket
    included. After should_stop() returns True, `reason` says why in one sentence.
    """

    mode: StopMode
    total: int
    confidence: float = 0.95
    reason: str | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.mode not in _MODES:
            raise ValueError(f"unknown early-stop mode {self.mode!r}; use one of {_MODES}")
        if self.total < 1:
            raise ValueError(f"total must be at least 1, got {self.total}")
        if not 0 < self.confidence < 1:
            raise ValueError(f"confidence must be between 0 and 1, got {self.confidence}")

    def should_stop(self, counts: Sequence[int], finished: int) -> bool:
        if not 0 <= finished <= self.total:
            raise ValueError(f"finished must be between 0 and {self.total}, got {finished}")
        self.reason = None
        remaining = self.total - finished
        if self.mode == "off" or remaining == 0:
            return False  # nothing left to skip
        leader, runner_up = _top_two(counts)
        if leader_cannot_lose(counts, remaining):
            self.reason = (
                f"The leading answer has {leader} of {finished} samples; even if all "
                f"{remaining} remaining samples went to the runner-up ({runner_up}), "
                "it would still lead."
            )
            return True
        if self.mode == "settled" and leader_settled(counts, finished, confidence=self.confidence):
            z = _z_for(self.confidence)
            low = wilson_interval(leader, finished, z)[0]
            high = wilson_interval(runner_up, finished, z)[1]
            self.reason = (
                f"The lead is settled after {finished} samples: the leading answer's share is "
                f"at least {low:.0%} and the runner-up's at most {high:.0%} "
                f"({self.confidence:.0%} Wilson intervals)."
            )
            return True
        return False


def _z_for(confidence: float) -> float:
    """Two-sided normal quantile: 0.95 -> 1.96."""
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def _top_two(counts: Sequence[int]) -> tuple[int, int]:
    top = [*sorted(counts, reverse=True)[:2], 0, 0]
    return top[0], top[1]


def _check_counts(counts: Sequence[int], what: str) -> None:
    for c in counts:
        if isinstance(c, bool) or not isinstance(c, int):
            raise TypeError(f"{what} must be whole numbers, got {c!r}")
        if c < 0:
            raise ValueError(f"{what} must not be negative, got {c}")
