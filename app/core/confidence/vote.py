"""The confidence-weighted vote: each answer group weighs the sum of its samples'
DeepConf confidences (Fu et al. 2025, "confidence-weighted majority voting").

It is shown beside the plain majority, never in its place: the plain majority counts
every sample, the weighted vote only those with token statistics and an answer (its
basis says how many), and a confidence is the model's own view of itself, not a
measured accuracy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class WeightedVote:
    """The groups' total confidence, best first, and what it was computed on."""

    weights: list[tuple[str, float]]  # (group, sum of its samples' confidences), best first
    counted: int  # samples that carried statistics and an answer group
    total: int  # samples in the run

    @property
    def winner(self) -> str | None:
        """The heaviest group; None when no sample counted or the top two tie."""
        if not self.weights or (len(self.weights) > 1 and self.weights[0][1] == self.weights[1][1]):
            return None
        return self.weights[0][0]

    @property
    def share(self) -> float | None:
        """The winner's share of the total weight."""
        total = sum(w for _, w in self.weights)
        return self.weights[0][1] / total if self.weights and total > 0 else None

    def basis(self) -> str:
        return f"weighted on {self.counted} of {self.total} samples (those with token statistics)"


def weighted_vote(groups: Mapping[int, str | None],
                  confidences: Mapping[int, float | None]) -> WeightedVote:  # fmt: skip
    """``groups``: each sample's answer group (None: no answer); ``confidences``: each
    sample's DeepConf confidence (missing or None: no statistics). Samples with either
    missing are left out of the weights, and counted out in the basis."""
    weights: dict[str, float] = {}
    counted = 0
    for index, group in groups.items():
        confidence = confidences.get(index)
        if group is None or confidence is None:
            continue
        weights[group] = weights.get(group, 0.0) + confidence
        counted += 1
    ranked = sorted(weights.items(), key=lambda item: (-item[1], item[0]))
    return WeightedVote(ranked, counted, len(groups))
