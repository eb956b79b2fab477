"""One answer's tokens as a reader sees them: how sure the model was of each, its
alternatives, and the spots where it hesitated most.

The figures are the model's own distribution (softmax of the raw logits, temperature 1,
before the sampler chain): what it believed, not what the sampler then drew from. Where
the sampled distribution (after top-k, top-p, min-p and temperature) gave the token a
different probability, the description says so too.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass

from app.core.inference.token_stats import TokenStats

SPOT_LIMIT = 12  # marks on the strip: more would be noise beside a short trace
SPOT_THRESHOLD = 0.5  # a token the model gave under 50% is a hesitation
SAMPLED_DIFFERS = 0.005  # half a percentage point: below that the two figures read alike


@dataclass(frozen=True)
class ChannelTokens:
    """The tokens of one channel ("trace" or "answer") with their text spans."""

    indices: list[int]  # token indices into the TokenStats, in text order
    starts: list[int]
    ends: list[int]

    def token_at(self, offset: int) -> int | None:
        """The token index whose text covers character ``offset``."""
        at = bisect_right(self.starts, offset) - 1
        if at < 0 or offset >= self.ends[at]:
            return None
        return self.indices[at]


def channel_tokens(stats: TokenStats, channel: str) -> ChannelTokens:
    """The tokens of ``channel`` with non-empty text (a tag or held-back text shows none)."""
    indices, starts, ends = [], [], []
    for index, (where, start, end) in enumerate(stats.spans()):
        if where == channel and end > start:
            indices.append(index)
            starts.append(start)
            ends.append(end)
    return ChannelTokens(indices, starts, ends)


def probability(stats: TokenStats, index: int) -> float:
    return math.exp(stats.logprob[index])


def uncertain_spots(stats: TokenStats, channel: str, limit: int = SPOT_LIMIT,
                    threshold: float = SPOT_THRESHOLD) -> list[int]:  # fmt: skip
    """Where the model hesitated most in ``channel``: the tokens it gave under
    ``threshold``, the ``limit`` least likely (ties: the higher entropy first), returned in
    text order so that "next" and "previous" walk through the text."""
    tokens = channel_tokens(stats, channel)
    doubtful = [i for i in tokens.indices if probability(stats, i) < threshold]
    doubtful.sort(key=lambda i: (stats.logprob[i], -stats.entropy_bits[i]))
    return sorted(doubtful[:limit])


def describe_token(stats: TokenStats, index: int) -> str:
    """Plain text for a tooltip: the token, its probability and entropy, its top-5
    alternatives with their probabilities, and the sampled figure where it differs."""
    chosen = stats.token_ids[index]
    p = probability(stats, index)
    lines = [
        f"{_shown(stats.texts.get(chosen, ''))}: {_percent(p)} "
        f"(entropy {stats.entropy_bits[index]:.2f} bits)",
        "Most likely next tokens (the model's own distribution, before sampling):",
    ]
    for token, logprob in zip(stats.top_ids[index], stats.top_logprobs[index], strict=True):
        mark = "  ← chosen" if token == chosen else ""
        lines.append(f"  {_shown(stats.texts.get(token, ''))}  {_percent(math.exp(logprob))}{mark}")
    if chosen not in stats.top_ids[index]:
        lines.append("  (the token written is not among these five)")
    sampled = stats.sampled_logprob[index]
    if sampled is None:
        lines.append("After the sampler chain: outside what it kept (penalties were on)")
    elif abs(math.exp(sampled) - p) >= SAMPLED_DIFFERS:
        drawn = _percent(math.exp(sampled))
        lines.append(f"After the sampler chain (what it was drawn from): {drawn}")
    return "\n".join(lines)


def _percent(p: float) -> str:
    return f"{p:.1%}" if p >= 0.001 else "<0.1%"


def _shown(text: str) -> str:
    """A token's text quoted, with its white space made visible."""
    return "“" + text.replace("\n", "⏎").replace("\t", "⇥") + "”"
