"""DeepConf confidence of one sample (Fu et al. 2025, "Deep Think with Confidence").

Definitions, with the figures TokenStats keeps (the model's own distribution, before the
sampler chain):

- token confidence C_i = -(1/k) * sum over the k most likely tokens at step i of their
  natural-log probability, with k = 5 (TokenStats keeps the top 5). A peaked
  distribution has one log-probability near 0 and the others far below it, so C is
  high; a flat one gives log-probabilities all near -log(5) and C is low. C is >= 0.
- group confidence: the mean of C over a sliding window of WINDOW consecutive tokens
  (every window position, step 1). A sample shorter than the window has one group, all
  of its tokens.
- the sample's confidence: the mean of its lowest BOTTOM_SHARE (10%) group
  confidences, at least one group ("bottom-10% group confidence"): a sample is as
  confident as its most hesitant stretches.

WINDOW is 64 tokens, not the paper's 2048: the paper's traces run to tens of thousands of
tokens, ours (a small local model, a few hundred tokens) would otherwise be one window
and the "lowest stretch" would be the whole sample. Every generated token counts, trace
and answer alike, in the order generated.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from app.core.inference.token_stats import TokenStats

TOP_K = 5
WINDOW = 64
BOTTOM_SHARE = 0.10
BASIS = (
    f"DeepConf bottom-{BOTTOM_SHARE:.0%} group confidence: token confidence = minus the "
    f"mean log-probability of the top {TOP_K} tokens (the model's own distribution, "
    f"before sampling), averaged over sliding windows of {WINDOW} tokens; the sample's "
    f"figure is the mean of its lowest {BOTTOM_SHARE:.0%} of windows"
)


def token_confidences(top_logprobs: Sequence[Sequence[float]]) -> list[float]:
    """C_i per token: minus the mean of its top-k log-probabilities (k = those kept, <= 5)."""
    if top_logprobs and all(len(row) == TOP_K for row in top_logprobs):  # one numpy pass
        return [float(v) for v in -np.asarray(top_logprobs, dtype=np.float64).mean(axis=1)]
    return [-float(np.mean(row[:TOP_K])) if len(row) else 0.0 for row in top_logprobs]


def group_confidences(confidences: Sequence[float], window: int = WINDOW) -> list[float]:
    """The mean of C over every window of ``window`` consecutive tokens (one group when the
    sample is shorter than that); none for a sample with no tokens."""
    if not confidences:
        return []
    values = np.asarray(confidences, dtype=np.float64)
    if len(values) <= window:
        return [float(values.mean())]
    sums = np.convolve(values, np.ones(window), mode="valid")
    return [float(v) for v in sums / window]


def lowest_groups_mean(groups: Sequence[float], share: float = BOTTOM_SHARE) -> float | None:
    """The mean of the lowest ``share`` of the group confidences (at least one)."""
    if not groups:
        return None
    count = max(1, int(len(groups) * share))
    return float(np.mean(sorted(groups)[:count]))


def sample_confidence(stats: TokenStats | None, window: int = WINDOW) -> float | None:
    """The sample's DeepConf confidence; None when it has no token statistics."""
    if stats is None or len(stats) == 0:
        return None
    return lowest_groups_mean(group_confidences(token_confidences(stats.top_logprobs), window))
