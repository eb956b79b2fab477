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
rows of a batch (StepStats: the single engine passes one row, the batched sampler every
row of a step at once). Tokens a thinking budget wrote rather than drew keep their
figures (the model's distribution at that point) and are listed in ``forced``.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import llama_cpp as llama
import numpy as np
import numpy.typing as npt

from app.core.history import token_blob
from app.core.inference.reasoning import Channel, ReasoningSplitter
from app.core.inference.sampling import SamplingParams

TOP_K = 5
_GROUP = 64  # logits per group when looking for a row's largest (StepStats)
_CHUNK_ROWS = 16  # rows computed at once: 16 x 150k floats is a 10 MB buffer
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
    # Positions of the tokens a thinking budget wrote (its closing tag) instead of drawing
    # them: their figures are still the model's distribution at that point, but the token
    # was not a choice, so a confidence summary should leave them out.
    forced: list[int] = field(default_factory=list)
    basis: str = BASIS  # what the figures are; a server's own figures say so here
    # A server returns only its top tokens: entropy_bits is then a lower bound (the
    # tokens not returned only add to it), never the full entropy.
    entropy_is_lower_bound: bool = False
    # Loaded from the history: what its size budget kept ("full" or "no alternatives",
    # app.core.history.token_blob), and why; None for figures fresh from a run.
    stored: str | None = None
    stored_note: str | None = None

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

    def record(
        self, token: int, pieces: Sequence[tuple[Channel, str]], splitter: ReasoningSplitter,
        row: RowStats, text_of: Callable[[int], str], *, forced: bool = False,
    ) -> None:  # fmt: skip
        """Record a token right after its text went through the splitter (``pieces`` is
        what ``feed`` returned): its channel is where its text went, else where the
        splitter stands (text held back, e.g. a possible tag)."""
        channel = pieces[-1][0] if pieces else splitter.channel
        if forced:
            self.forced.append(len(self.token_ids))
        self.add(token, channel.value, splitter.length(channel), row, text_of)

    def columns(self) -> dict[str, Any]:
        """Every field as plain lists, for app.core.history.token_blob.encode. The basis is
        None when it is the local engine's BASIS (no need to store that text each time)."""
        columns = {name: getattr(self, name) for name in self.__dataclass_fields__}
        columns["basis"] = None if self.basis == BASIS else self.basis
        return columns

    def to_blob(self, samples: int) -> bytes:
        """As the history stores it, within a run of ``samples`` samples' budget."""
        return token_blob.encode(self.columns(), token_blob.sample_budget(samples))

    @classmethod
    def from_blob(cls, blob: bytes | None) -> TokenStats | None:
        """Back from the history (float16-rounded; see token_blob); None when it kept no
        figures or cannot read them."""
        if blob is None:
            return None
        try:
            columns = token_blob.decode(blob)
        except token_blob.TokenBlobError:
            return None
        if not columns["token_ids"]:
            return None
        fields = {k: v for k, v in columns.items() if k in cls.__dataclass_fields__}
        fields["basis"] = fields["basis"] or BASIS
        return cls(**fields, stored_note=columns["note"])

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
            "basis": self.basis,
            "tokens": [piece(t, "") for t in self.token_ids],
            "channel": list(self.channels),
            "end": list(self.ends),
            "logprob": [round(v, 5) for v in self.logprob],
            "entropy_bits": [round(v, 5) for v in self.entropy_bits],
            "top": [
                [[piece(t, ""), round(lp, 5)] for t, lp in zip(ids, lps, strict=True)]
                for ids, lps in zip(self.top_ids, self.top_logprobs, strict=True)
            ],
            "sampled_logprob": [_rounded(v) for v in self.sampled_logprob],
            # NaN: not known (a server's figures past what it returned).
            "sampled_entropy_bits": [_rounded(v) for v in self.sampled_entropy_bits],
            "entropy_is_lower_bound": self.entropy_is_lower_bound,
            "forced": list(self.forced),
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else round(value, 5)


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


def row_stats(z: npt.NDArray[np.float32], chosen: int, sampling: SamplingParams) -> RowStats:
    """The figures of one logits row for the token chosen from it."""
    return StepStats(z[np.newaxis, :], sampling).row(0, chosen)


class _Workspace(threading.local):
    """Per thread, two reusable rows x width float buffers: a step then allocates no big
    array (a fresh few-MB array costs more in page faults than the sums done in it)."""

    padded: npt.NDArray[np.float32] | None = None
    weights: npt.NDArray[np.float32] | None = None

    def buffers(
        self, rows: int, width: int
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        padded, weights = self.padded, self.weights
        if padded is None or weights is None or padded.shape[1] != width or len(padded) < rows:
            padded = self.padded = np.empty((rows, width), dtype=np.float32)
            weights = self.weights = np.empty((rows, width), dtype=np.float32)
        return padded[:rows], weights[:rows]


_WORKSPACE = _Workspace()


class StepStats:
    """The figures of every logits row of one decode step, computed together.

    Built right after the decode; ``row(i, token)`` then gives row i's figures for the
    token drawn from it, and must be called before the next decode too (it reads that
    token's logit from llama.cpp's buffer). All rows share one sampling configuration (a
    consensus batch differs only in the seed). The work is a few passes over rows x
    n_vocab floats (one copy, one exp, one sum, one dot; the top candidates come from a
    partition of a fiftieth of them), vectorised along the rows, _CHUNK_ROWS at a time
    so the buffers stay small: measured on 2 cores, about 0.2 ms a row for a 49k
    vocabulary and 0.5 ms for 150k.
    """

    def __init__(self, logits: npt.NDArray[np.float32], sampling: SamplingParams) -> None:
        rows, n_vocab = logits.shape
        self._logits = logits
        # The candidates every figure needs: the top 5, and top-k's survivors (all, if off).
        k = sampling.top_k if 0 < sampling.top_k < n_vocab else n_vocab
        wanted = max(k, TOP_K) if k < n_vocab else n_vocab
        # Padded with -inf (which no figure counts) to _GROUP x groups columns: group g
        # holds ids g, g + groups, g + 2 groups, ... (strided, so one elementwise max
        # over _GROUP slices gives every group's largest logit).
        width = -(-n_vocab // _GROUP) * _GROUP
        peaks, log_totals, entropies, found, found_values = [], [], [], [], []
        for start in range(0, rows, _CHUNK_ROWS):
            part = logits[start : start + _CHUNK_ROWS]
            padded, weights = _WORKSPACE.buffers(len(part), width)
            padded[:, n_vocab:] = -np.inf
            padded[:, :n_vocab] = part
            groups = padded.reshape(len(part), _GROUP, width // _GROUP).max(axis=1)
            peak = groups.max(axis=1, keepdims=True)
            padded -= peak
            groups -= peak
            shifted, exp = padded[:, :n_vocab], weights[:, :n_vocab]
            np.exp(shifted, out=exp)
            total = exp.sum(axis=1).astype(np.float64)  # pairwise sums: float32 is enough
            log_total = np.log(total)
            # H = -sum p log p with p = w / total and log p = shifted - log_total.
            spread = np.vecdot(exp, shifted).astype(np.float64) / total
            entropies.append(np.maximum(0.0, (log_total - spread) / _LN2))
            peaks.append(peak[:, 0].astype(np.float64))
            log_totals.append(log_total)
            ids = (
                _best(padded, groups, wanted)
                if wanted < groups.shape[1]
                else np.broadcast_to(np.arange(n_vocab), shifted.shape)
            )
            found.append(ids)
            found_values.append(np.take_along_axis(shifted, ids, axis=1))
        self._peak, self._log_total = np.concatenate(peaks), np.concatenate(log_totals)
        self._entropy = np.concatenate(entropies)
        candidates, values = np.concatenate(found), np.concatenate(found_values)
        order = np.argsort(-values, axis=1, kind="stable")
        self._candidates = np.take_along_axis(candidates, order, axis=1)
        values = np.take_along_axis(values, order, axis=1)
        self._top_ids = self._candidates[:, :TOP_K].tolist()
        self._top_logprobs = (values[:, :TOP_K] - self._log_total[:, None]).tolist()
        self._keep, self._log_q, self._sampled_entropy = after_chain(values[:, :k], sampling)

    def row(self, i: int, chosen: int) -> RowStats:
        """Row i's figures for the token drawn (or written) from it."""
        keep = int(self._keep[i])
        where = np.nonzero(self._candidates[i, :keep] == chosen)[0]
        # None: the replayed chain would not have kept the token (penalties were on, or a
        # thinking budget wrote it).
        sampled = float(self._log_q[i, where[0]]) if where.size else None
        return RowStats(
            logprob=float(self._logits[i, chosen]) - self._peak[i] - self._log_total[i],
            entropy_bits=float(self._entropy[i]),
            top_ids=self._top_ids[i],
            top_logprobs=self._top_logprobs[i],
            sampled_logprob=sampled,
            sampled_entropy_bits=float(self._sampled_entropy[i]),
        )


def _best(
    padded: npt.NDArray[np.float32], blocks: npt.NDArray[np.float32], wanted: int
) -> npt.NDArray[np.intp]:
    """The ids of each row's ``wanted`` largest logits, in no order. They lie in the
    ``wanted`` groups with the largest maxima (a token outside them has ``wanted`` larger
    group maxima above it), so the partition runs on wanted x _GROUP values, not n_vocab:
    for top-k 40 of 150k, a fifth of the work of partitioning the whole row."""
    n_blocks = blocks.shape[1]
    chosen_blocks = np.argpartition(blocks, n_blocks - wanted, axis=1)[:, n_blocks - wanted :]
    members = np.arange(_GROUP) * n_blocks
    ids = (chosen_blocks[:, :, np.newaxis] + members).reshape(len(blocks), -1)
    values = np.take_along_axis(padded, ids, axis=1)
    best = np.argpartition(values, values.shape[1] - wanted, axis=1)[:, values.shape[1] - wanted :]
    return np.take_along_axis(ids, best, axis=1)


def step_stats(
    ctx: Any, rows: int, n_vocab: int, sampling: SamplingParams, *, on: bool
) -> StepStats | None:
    """The batch step just decoded on ``ctx`` (None when ``on`` is false), whose first
    ``rows`` batch rows all asked for logits, so output row i is batch row i. Call it
    before the next decode reuses llama.cpp's buffer."""
    if not on:
        return None
    return StepStats(logits_view(llama.llama_get_logits(ctx), rows, n_vocab), sampling)


def record_row(
    stats: TokenStats | None, rows: StepStats | None, i: int, token: int,
    pieces: Sequence[tuple[Channel, str]], splitter: ReasoningSplitter,
    text_of: Callable[[int], str], forced: bool,
) -> None:  # fmt: skip
    """Record batch row i's token in its sample's stats (nothing when either is None)."""
    if stats is not None and rows is not None:
        stats.record(token, pieces, splitter, rows.row(i, token), text_of, forced=forced)


def after_chain(
    logits: npt.NDArray[np.float32], sampling: SamplingParams
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The distributions the sampler chain drew from, replayed on top-k's survivors (rows
    x k, sorted best first): top-p and min-p on their softmax, then temperature. Per row:
    how many tokens it keeps, their log-probabilities (rows x k; only the first keep are
    meaningful) and its entropy in bits."""
    rows, k = logits.shape
    if sampling.deterministic:  # greedy: the top token, with certainty
        return np.ones(rows, np.int64), np.zeros((rows, k)), np.zeros(rows)
    p = np.exp(logits - logits[:, :1])
    p /= p.sum(axis=1, keepdims=True)
    keep = np.full(rows, k, dtype=np.int64)
    if sampling.top_p < 1.0:  # keep tokens until their total reaches top_p
        reached = (np.cumsum(p, axis=1) < sampling.top_p).sum(axis=1) + 1
        keep = np.minimum(keep, reached)
    if sampling.min_p > 0.0:
        above = (p >= sampling.min_p * p[:, :1]).sum(axis=1)
        keep = np.minimum(keep, np.maximum(1, above))
    kept = np.arange(k)[np.newaxis, :] < keep[:, np.newaxis]
    scaled = logits.astype(np.float64) / sampling.temperature
    scaled -= scaled[:, :1]
    weights = np.where(kept, np.exp(scaled), 0.0)
    log_q = scaled - np.log(weights.sum(axis=1, keepdims=True))
    entropy = -np.where(kept, weights / weights.sum(axis=1, keepdims=True) * log_q, 0.0)
    return keep, log_q, np.maximum(0.0, entropy.sum(axis=1) / _LN2)
