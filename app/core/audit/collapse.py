"""The collapse check: answers that agree, next to how different the reasoning was.

Many samples that all give one answer are only evidence of a sure model when they got
there by different routes. Two signs of mode collapse or greedy decoding, each stated
with the numbers that led to it:

1. High agreement with near-identical texts: mean agreement at least HIGH_AGREEMENT and
   either the mean pairwise normalised edit distance at most NEAR_IDENTICAL_DISTANCE or
   at least IDENTICAL_PAIRS_SHARE of the pairs exactly identical.
2. Agreement that does not move with temperature: two or more temperatures above 0, the
   highest at least WARM_TEMPERATURE, and at each of them at least UNANIMOUS_SHARE of the
   questions unanimous.

At temperature 0 (or top-k 1) every sample is the same by construction; such a condition
is never flagged, it is described.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.core.audit.aggregate import SetFigures
from app.core.consensus.figure_lines import format_share

HIGH_AGREEMENT = 0.9
NEAR_IDENTICAL_DISTANCE = 0.05
IDENTICAL_PAIRS_SHARE = 0.5
WARM_TEMPERATURE = 0.6
UNANIMOUS_SHARE = 0.9
FLAG = "looks like mode collapse or greedy decoding"


@dataclass(frozen=True)
class CollapseVerdict:
    """Whether a condition (or a temperature sweep) looks collapsed, and why, in words."""

    flagged: bool
    reasons: tuple[str, ...]  # the numbers behind the flag, or behind its absence

    def text(self) -> str:
        head = f"{FLAG.capitalize()}: " if self.flagged else "No sign of collapse: "
        return head + "; ".join(self.reasons)


def _distance(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def trace_collapse(figures: SetFigures, *, deterministic: bool) -> CollapseVerdict:
    """Sign 1 for one condition."""
    pairs = figures.identical_trace_pairs
    numbers = (
        f"mean agreement {format_share(figures.mean_agreement or 0.0)} over "
        f"{figures.questions} questions, {pairs.k} of {pairs.n} pairs of texts identical "
        f"({format_share(pairs.value or 0.0)}), mean pairwise edit distance "
        f"{_distance(figures.mean_edit_distance)}, distinct 3-gram ratio "
        f"{_distance(figures.mean_distinct_ngram_ratio)}"
    )
    if deterministic:
        return CollapseVerdict(
            False, (f"temperature 0: identical samples by construction ({numbers})",)
        )
    if figures.mean_agreement is None or not pairs.n:
        return CollapseVerdict(False, (f"too few samples to compare ({numbers})",))
    high = figures.mean_agreement >= HIGH_AGREEMENT
    close = (
        figures.mean_edit_distance is not None
        and figures.mean_edit_distance <= NEAR_IDENTICAL_DISTANCE
    )
    copies = (pairs.value or 0.0) >= IDENTICAL_PAIRS_SHARE
    return CollapseVerdict(high and (close or copies), (numbers,))


def temperature_collapse(sweep: Sequence[tuple[float, SetFigures]]) -> CollapseVerdict | None:
    """Sign 2 over one model's temperatures; None when the sweep cannot show it."""
    warm = sorted((t, f) for t, f in sweep if t > 0 and f.questions)
    if len(warm) < 2 or warm[-1][0] < WARM_TEMPERATURE:
        return None
    parts = tuple(
        f"T {t:g}: {f.unanimous.k} of {f.unanimous.n} questions unanimous" for t, f in warm
    )
    stays = all((f.unanimous.value or 0.0) >= UNANIMOUS_SHARE for _, f in warm)
    return CollapseVerdict(stays, parts)
