"""The consensus figures in words, each with the n it stands on (the window and the CLI
both show these; the rules are in STATS_HELP).

- Every figure names its n: "9 of 16 answered", "agreement 56% of 9 answered".
- Agreement is the leading answer's share of the samples that gave an answer; below
  MIN_ANSWERED_FOR_AGREEMENT answered samples there is no agreement figure, and the line
  says why.
- When the no-answer bucket is the largest group, the majority line says so in words.
- When one answer holds every answered sample, the agreement line adds the largest share
  any other answer could have at 95%: 1 - the Wilson lower bound (16 of 16: 20%,
  rounded up; 512 of 512: 0.75%). Entropy is the plug-in value and says so: 0.00 bits is no bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from app.core.answers.grouping import NO_ANSWER
from app.core.consensus.stats import ConsensusStats, wilson_interval

__all__ = [
    "MIN_ANSWERED_FOR_AGREEMENT",
    "FigureLines",
    "figure_lines",
    "format_bound",
    "format_share",
    "live_basis",
    "prefix_basis",
]

MIN_ANSWERED_FOR_AGREEMENT = 2
_MAJORITY_CHARS = 120


@dataclass(frozen=True)
class FigureLines:
    """One line of words per figure; `rows()` pairs each with its name."""

    majority: str
    agreement: str
    entropy: str
    answered: str
    distinct: str

    def rows(self) -> tuple[tuple[str, str], ...]:
        return (
            ("Majority", self.majority),
            ("Agreement", self.agreement),
            ("Entropy", self.entropy),
            ("Answered", self.answered),
            ("Distinct answers", self.distinct),
        )


def format_share(share: float) -> str:
    """A share as a percentage: whole percent, two decimals below 1% (0.75%)."""
    return f"{share:.2%}" if 0 < share < 0.01 else f"{share:.0%}"


def format_bound(share: float) -> str:
    """An upper bound as a percentage like format_share, rounded up so it stays a bound
    (19.36% shows as 20%, 0.745% as 0.75%)."""
    digits = 4 if 0 < share < 0.01 else 2
    scale = 10**digits
    up = math.ceil(round(share * scale, 6)) / scale  # round() first: 0.2 must not become 0.21
    return format_share(up)


def live_basis(finished: int, total: int) -> str:
    """Which samples the figures count while a run goes (or after it was cut short)."""
    if finished >= total:
        return ""
    return f"counted: the {finished} of {total} finished so far (short answers finish first)"


def prefix_basis(decided_on: int, finished: int) -> str:
    """Which samples an early-stopped run's figures count: the stop rule's prefix."""
    text = f"counted: samples 1–{decided_on}, the complete prefix the stop rule decided on"
    extra = finished - decided_on
    if extra > 0:
        text += f"; {extra} more finished and are shown, not counted"
    return text


def figure_lines(stats: ConsensusStats, basis: str = "") -> FigureLines:
    """The figures of `stats` in words (a dash for each when no sample is counted yet);
    `basis` (live_basis, prefix_basis) says which samples they count, when not all."""
    n = stats.n
    if n == 0:
        return FigureLines("—", "—", "—", "—", "—")
    answered = n - stats.no_answer
    top_label, top_count = next(
        ((label, count) for label, count, _ in stats.groups if label != NO_ANSWER), (None, 0)
    )
    return FigureLines(
        majority=_majority(stats),
        agreement=_agreement(top_label, top_count, answered),
        entropy=(
            f"{stats.entropy_bits:.2f} bits (plug-in; Miller–Madow "
            f"{stats.entropy_bits_mm:.2f} bits) over {n} samples"
        ),
        answered=f"{answered} of {n} answered ({stats.no_answer} gave no answer)"
        + (f"; {basis}" if basis else ""),
        distinct=f"{stats.distinct} among {answered} answered",
    )


def _majority(stats: ConsensusStats) -> str:
    if stats.majority_is_no_answer:
        return f"none: most samples gave no answer ({stats.majority_count} of {stats.n})"
    text = " ".join((stats.majority or "").split())
    if len(text) > _MAJORITY_CHARS:
        text = text[: _MAJORITY_CHARS - 1] + "…"
    return f"{text}  ({stats.majority_count} of {stats.n} samples)"


def _agreement(top_label: str | None, top_count: int, answered: int) -> str:
    if answered < MIN_ANSWERED_FOR_AGREEMENT:
        return (
            f"not shown: {answered} sample{'' if answered == 1 else 's'} answered, "
            f"agreement needs at least {MIN_ANSWERED_FOR_AGREEMENT}"
        )
    low, high = wilson_interval(top_count, answered)
    line = (
        f"{format_share(top_count / answered)} of {answered} answered "
        f"(95% Wilson interval {format_share(low)}–{format_share(high)})"
    )
    if top_label is not None and top_count == answered:
        line += f"; {answered} of {answered}: any other answer ≤ {format_bound(1 - low)} at 95%"
    return line


def same_samples_warning(samples: int) -> str:
    """What to say before a deterministic run (temperature 0 or top-k 1) of `samples` > 1."""
    return (
        f"Temperature 0 (or top-k 1) makes every sample the same: {samples} samples will give "
        f"{samples} copies of one answer, and their agreement says nothing. One sample is enough."
    )
