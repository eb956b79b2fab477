"""How sure the model was of each token it wrote, from the logits llama.cpp already computed.

For every generated token, with no extra forward pass:

- ``logprob``: the chosen token's natural-log probability under the *model's* distribution,
  softmax of the raw logits (temperature 1, no top-k/top-p/min-p): what the model believed.
- ``entropy_bits``: the entropy of that distribution, in bits: how spread its belief was.
- ``top``: the 5 most likely tokens under it, with their log-probabilities.
- ``sampled_logprob`` / ``sampled_entropy_bits``: the same two figures for the distribution
  the token was actually drawn from, after the sampler chain (top-k, then top-p and min-p
  on the survivors, then temperature), as backend.SamplerChain builds it. They differ in
  meaning: at temperature 0.6 with top-k 20 a token the model gave 40% can be drawn with
  70%. Penalties (repeat, presence) are not replayed; with them on the figures are
  labelled as before penalties.

Computed with numpy on a view of llama.cpp's logits buffer (no copy), vectorised over the
rows of a batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from app.core.inference.sampling import SamplingParams

TOP_K = 5
_LN2 = math.log(2.0)
BASIS = (
    "logprob, entropy_bits and top: the model's own distribution (softmax of the raw "
    "logits, temperature 1, before the sampler chain); sampled_logprob and "
    "sampled_entropy_bits: the distribution the token was drawn from (after top-k, top-p, "
    "min-p and temperature)"
)


@dataclass
class TokenStats:
    """Per generated token, in order: its id, channel, where its text ends, and its
    confidence figures; plus the text of every token id named (chosen or alternative),
    so a view or an export needs no model to show them."""

    token_ids: list[int] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)  # "trace" or "answer", as streamed
    # After the token, the length of its channel's text: the token's text ends there, so
    # token i covers [the previous end in that channel, ends[i]). Text the reasoning
    # splitter held back (a possible tag) shows with a later token; a tag shows nowhere.
    ends: list[int] = field(default_factory=list)
    logprob: list[float] = field(default_factory=list)
    entropy_bits: list[float] = field(default_factory=list)
    top_ids: list[list[int]] = field(default_factory=list)
    top_logprobs: list[list[float]] = field(default_factory=list)
    sampled_logprob: list[float | None] = field(default_factory=list)
    sampled_entropy_bits: list[float] = field(default_factory=list)
    texts: dict[int, str] = field(default_factory=dict)  # token id -> its text

    def add(
        self, token: int, channel: str, end: int, row: RowStats, text_of: Callable[[int], str]
    ) -> None:
        """Record one token; ``text_of(id)`` gives a token's text (asked once per id)."""
        self.token_ids.append(token)
        self.channels.append(channel)
        self.ends.append(end)
        for known in (token, *row.top_ids):
            if known not in self.texts:
                self.texts[known] = text_of(known)
        self.logprob.append(row.logprob)
        self.entropy_bits.append(row.entropy_bits)
        self.top_ids.append(row.top_ids)
        self.top_logprobs.append(row.top_logprobs)
        self.sampled_logprob.append(row.sampled_logprob)
        self.sampled_entropy_bits.append(row.sampled_entropy_bits)

    def __len__(self) -> int:
        return len(self.token_ids)

    def spans(self) -> list[tuple[str, int, int]]:
        """Per token: its channel and the [start, end) of its text in that channel."""
        last = {"trace": 0, "answer": 0}
        out = []
        for channel, end in zip(self.channels, self.ends, strict=True):
            start = min(last.get(channel, 0), end)
            out.append((channel, start, end))
            last[channel] = end
        return out

    def to_json(self) -> dict[str, Any]:
        """The ``token_stats`` of ``quorum solve --json``."""
        piece = self.texts.get
        return {
            "basis": BASIS,
            "tokens": [piece(t, "") for t in self.token_ids],
            "channel": list(self.channels),
            "end": list(self.ends),
            "logprob": [round(v, 5) for v in self.logprob],
            "entropy_bits": [round(v, 5) for v in self.entropy_bits],
            "top": [
                [[piece(t, ""), round(lp, 5)] for t, lp in zip(ids, lps, strict=True)]
                for ids, lps in zip(self.top_ids, self.top_logprobs, strict=True)
            ],
            "sampled_logprob": [None if v is None else round(v, 5) for v in self.sampled_logprob],
            "sampled_entropy_bits": [round(v, 5) for v in self.sampled_entropy_bits],
        }


@dataclass(frozen=True)
class RowStats:
    """The figures of one logits row for the token drawn from it."""

    logprob: float
    entropy_bits: float
    top_ids: list[int]
    top_logprobs: list[float]
    sampled_logprob: float | None  # None: the replayed chain would not keep the token
    sampled_entropy_bits: float


def logits_view(pointer: Any, rows: int, n_vocab: int) -> npt.NDArray[np.float32]:
    """llama.cpp's logits buffer as a (rows, n_vocab) array, without a copy. Valid only
    until the next decode on that context."""
    return np.ctypeslib.as_array(pointer, shape=(rows, n_vocab))


def rows_stats(
    logits: npt.NDArray[np.float32], chosen: npt.ArrayLike, sampling: SamplingParams
) -> list[RowStats]:
    """The figures of each row of ``logits`` (rows x n_vocab) for the token chosen from it."""
    ids = np.asarray(chosen, dtype=np.int64)
    return [row_stats(logits[i], int(ids[i]), sampling) for i in range(logits.shape[0])]


def row_stats(z: npt.NDArray[np.float32], chosen: int, sampling: SamplingParams) -> RowStats:
    """One row. A handful of passes over n_vocab floats (one exp, one dot, one partition):
    about 0.2 ms for a 150k vocabulary, against tens of ms for the decode that made it."""
    n_vocab = z.shape[0]
    peak = float(z.max())
    shifted = z - peak
    weights = np.exp(shifted)
    total = float(weights.sum(dtype=np.float64))
    log_total = math.log(total)
    # H = -sum p log p with p = w / total and log p = shifted - log_total.
    entropy = (log_total - float(np.dot(weights, shifted)) / total) / _LN2
    # The candidates every figure needs: the top 5, and top-k's survivors (all, if off).
    k = sampling.top_k if 0 < sampling.top_k < n_vocab else n_vocab
    wanted = max(k, TOP_K) if k < n_vocab else n_vocab
    if wanted < n_vocab:
        candidates = np.argpartition(shifted, n_vocab - wanted)[n_vocab - wanted :]
    else:
        candidates = np.arange(n_vocab)
    candidates = candidates[np.argsort(-shifted[candidates], kind="stable")]
    top = candidates[:TOP_K]
    sampled_logprob, sampled_entropy = _after_chain(
        shifted[candidates[:k]], candidates[:k], chosen, sampling
    )
    return RowStats(
        logprob=float(shifted[chosen]) - log_total,
        entropy_bits=max(0.0, entropy),
        top_ids=[int(t) for t in top],
        top_logprobs=[float(v) - log_total for v in shifted[top]],
        sampled_logprob=sampled_logprob,
        sampled_entropy_bits=sampled_entropy,
    )


def _after_chain(
    logits: npt.NDArray[np.float32], ids: npt.NDArray[np.int64], chosen: int,
    sampling: SamplingParams,
) -> tuple[float | None, float]:  # fmt: skip
    """The distribution the sampler chain drew from, replayed on top-k's survivors (sorted,
    best first): top-p and min-p on their softmax, then temperature."""
    if sampling.deterministic:  # greedy: the top token, with certainty
        return (0.0 if ids[0] == chosen else None), 0.0
    p = np.exp(logits - logits[0])
    p /= p.sum()
    keep = len(ids)
    if sampling.top_p < 1.0:  # keep tokens until their total reaches top_p
        keep = min(keep, int(np.searchsorted(np.cumsum(p), sampling.top_p)) + 1)
    if sampling.min_p > 0.0:
        keep = min(keep, max(1, int((p >= sampling.min_p * p[0]).sum())))
    scaled = logits[:keep].astype(np.float64) / sampling.temperature
    scaled -= scaled[0]
    log_q = scaled - math.log(float(np.exp(scaled).sum()))
    entropy = float(-(np.exp(log_q) * log_q).sum() / _LN2)
    where = np.nonzero(ids[:keep] == chosen)[0]
    # None: the replayed chain would not have kept the token (penalties were on).
    return (float(log_q[where[0]]) if where.size else None), max(0.0, entropy)
