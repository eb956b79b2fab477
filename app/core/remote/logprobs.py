"""Per-token confidence from a server's own log-probabilities, as the local engine's TokenStats.

What servers return (checked against llama-server's source vendored with llama-cpp-python
0.3.36; OpenAI-style from the OpenAI and vLLM API shapes):

* llama-server ``/completion`` with ``n_probs``: each streamed event carries
  ``completion_probabilities``: ``[{"id", "token", "bytes", "logprob", "top_logprobs":
  [{"id", "token", "bytes", "logprob"}, ...]}]``. With ``post_sampling_probs`` off (its
  default, and what Quorum sends) these are a softmax of the raw logits over the whole
  vocabulary, temperature 1: the model's distribution before the sampler chain, the same
  basis as Quorum's own ``logprob`` and ``top``. (With it on the keys become ``prob`` and
  ``top_probs``, after the chain; Quorum does not ask for that.)
* OpenAI-style chat (``logprobs: true, top_logprobs: k``; OpenAI, vLLM, llama-server's
  /v1): ``choices[0].logprobs.content``: ``[{"token", "logprob", "bytes",
  "top_logprobs": [{"token", "logprob", "bytes"}]}]``, no token ids. Whether they are
  before or after the sampler is the server's choice (vLLM: its ``logprobs_mode``, raw
  model log-probabilities by default; OpenAI does not say), so the basis says so.

Only the top N_PROBS come back, so the entropy is a LOWER bound: -sum p log2 p over the
tokens returned (the rest of the distribution only adds to it). It is labelled as such
(``TokenStats.entropy_is_lower_bound``), never shown as the full entropy. The after-chain
figures are replayed on the returned tokens where that is exact (0 < top-k <= the tokens
returned, on a before-the-chain basis); otherwise they are unknown (null).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.core.inference.sampling import SamplingParams
from app.core.inference.token_stats import TOP_K, RowStats, TokenStats, after_chain

N_PROBS = 20  # asked for: the top 5 are shown, the rest tighten the entropy bound
_LN2 = math.log(2.0)

LLAMA_SERVER_BASIS = (
    "logprob and top: llama-server's n_probs, the model's distribution before the sampler "
    "chain (softmax of the raw logits, temperature 1); entropy_bits: a LOWER BOUND, "
    f"-sum p log2 p over the top {N_PROBS} tokens the server returned; sampled_logprob and "
    "sampled_entropy_bits: replayed on those tokens when top-k is 1 to "
    f"{N_PROBS}, else unknown (null)"
)
OPENAI_BASIS = (
    "logprob and top: the server's own log-probabilities (OpenAI-style top_logprobs), "
    "before or after its sampler as that server computes them (vLLM: raw model "
    f"log-probabilities unless its logprobs_mode says otherwise); entropy_bits: a LOWER "
    f"BOUND over the top {N_PROBS} tokens returned; sampled figures: unknown (null); "
    "token ids: the server sends none, so each distinct token text has its own negative id"
)


@dataclass(frozen=True)
class ServerToken:
    """One generated token as a server reported it: its id, text, logprob, alternatives."""

    token_id: int
    text: str
    logprob: float
    top: list[tuple[int, str, float]]  # (id, text, logprob), as returned


@dataclass
class TextIds:
    """Stand-in ids for a server that sends token texts without ids (-1, -2, ...)."""

    ids: dict[str, int] = field(default_factory=dict)

    def of(self, text: str, given: Any = None) -> int:
        """The server's own id where it sends one (llama-server's /v1 does), else a stand-in."""
        if isinstance(given, int) and not isinstance(given, bool) and given >= 0:
            return given
        return self.ids.setdefault(text, -1 - len(self.ids))


def read_llama_probs(entries: Any) -> list[ServerToken]:
    """llama-server's ``completion_probabilities`` (n_probs, before the chain)."""
    tokens = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not _number(entry.get("logprob")):
            continue  # e.g. post_sampling_probs' "prob": another basis, not read as this
        top = [(int(t.get("id", -1)), str(t.get("token", "")), float(t["logprob"]))
               for t in entry.get("top_logprobs") or []
               if isinstance(t, dict) and _number(t.get("logprob"))]  # fmt: skip
        tokens.append(ServerToken(int(entry.get("id", -1)), str(entry.get("token", "")),
                                  float(entry["logprob"]), top))  # fmt: skip
    return tokens


def read_openai_logprobs(choice: Any, ids: TextIds) -> list[ServerToken]:
    """An OpenAI-style choice's ``logprobs.content`` (token texts, no ids)."""
    logprobs = choice.get("logprobs") if isinstance(choice, dict) else None
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    tokens = []
    for entry in content if isinstance(content, list) else []:
        if not isinstance(entry, dict) or not _number(entry.get("logprob")):
            continue
        text = str(entry.get("token", ""))
        top = [(ids.of(str(t.get("token", "")), t.get("id")), str(t.get("token", "")),
                float(t["logprob"]))
               for t in entry.get("top_logprobs") or []
               if isinstance(t, dict) and _number(t.get("logprob"))]  # fmt: skip
        token_id = ids.of(text, entry.get("id"))
        tokens.append(ServerToken(token_id, text, float(entry["logprob"]), top))
    return tokens


def server_row(token: ServerToken, sampling: SamplingParams, *, replay: bool) -> RowStats:
    """The figures of one server token. ``replay``: the basis is before the chain, so the
    chain can be replayed on the returned tokens where top-k makes that exact."""
    top = sorted(token.top, key=lambda t: -t[2])
    known = {t[0]: t[2] for t in top}
    known.setdefault(token.token_id, token.logprob)  # the chosen one counts in the bound
    lp = np.array(list(known.values()), dtype=np.float64)
    p = np.exp(lp)
    bound = float(-(p * lp).sum() / _LN2)
    sampled_logprob: float | None = None
    sampled_entropy = math.nan
    k = sampling.top_k
    if replay and 0 < k <= len(top) and not sampling.deterministic:
        logits = np.array([[t[2] for t in top[:k]]], dtype=np.float32)
        keep, log_q, entropy = after_chain(logits, sampling)
        ids = [t[0] for t in top[: int(keep[0])]]
        if token.token_id in ids:
            sampled_logprob = float(log_q[0, ids.index(token.token_id)])
        sampled_entropy = float(entropy[0])
    return RowStats(
        logprob=token.logprob, entropy_bits=max(0.0, bound),
        top_ids=[t[0] for t in top[:TOP_K]], top_logprobs=[t[2] for t in top[:TOP_K]],
        sampled_logprob=sampled_logprob, sampled_entropy_bits=sampled_entropy,
    )  # fmt: skip


def new_stats(basis: str) -> TokenStats:
    return TokenStats(basis=basis, entropy_is_lower_bound=True)


def texts_of(token: ServerToken) -> dict[int, str]:
    """Every id this token names, with its text as the server sent it."""
    return {token.token_id: token.text, **{t[0]: t[1] for t in token.top}}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
