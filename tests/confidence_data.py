"""Scripted token statistics for tests that need known probabilities without a model:
the same TokenStats type the engine fills, built from (channel, text, probability)."""

from __future__ import annotations

import math

from app.core.inference.token_stats import TokenStats

OTHERS = 4  # alternatives beside the chosen token, sharing what it leaves


def scripted_stats(pieces: list[tuple[str, str, float]]) -> TokenStats:
    """One token per (channel, text, p): the chosen token gets probability p, four
    alternatives "alt-N" share 1 - p; after the sampler chain it had sqrt(p)."""
    stats = TokenStats()
    ids: dict[str, int] = {}

    def id_of(text: str) -> int:
        return ids.setdefault(text, len(ids) + 1)

    length = {"trace": 0, "answer": 0}
    for position, (channel, text, p) in enumerate(pieces):
        length[channel] += len(text)
        rest = (1.0 - p) / OTHERS
        top = [(id_of(text), p)] + [(id_of(f"alt-{position}-{n}"), rest) for n in range(OTHERS)]
        top.sort(key=lambda pair: -pair[1])
        token = id_of(text)
        stats.token_ids.append(token)
        stats.channels.append(channel)
        stats.ends.append(length[channel])
        stats.logprob.append(math.log(p))
        probabilities = [q for _, q in top if q > 0]
        stats.entropy_bits.append(-sum(q * math.log2(q) for q in probabilities))
        stats.top_ids.append([t for t, _ in top])
        stats.top_logprobs.append([math.log(q) if q > 0 else -30.0 for _, q in top])
        stats.sampled_logprob.append(0.5 * math.log(p))
        stats.sampled_entropy_bits.append(0.0)
    stats.texts = {token: text for text, token in ids.items()}
    return stats


def with_ids(token_ids: list[int]) -> TokenStats:
    """A sample that generated exactly these token ids (token n's text is "tN ")."""
    stats = scripted_stats([("trace", f"t{t} ", 0.9) for t in token_ids])
    stats.token_ids = list(token_ids)
    stats.texts = {t: f"t{t} " for t in token_ids}
    return stats
