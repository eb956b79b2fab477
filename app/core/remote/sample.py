"""One sample's text as it streams from a server, split into trace and answer.

A server that splits the reasoning itself (``reasoning_content``) sends the trace apart;
anything else goes through the same ``ReasoningSplitter`` the local engine uses, so a
``<think>`` block in plain text is split the same way on either engine.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from app.core.answers.extract import extract_answer
from app.core.inference.engine import FinishReason, GenerationResult
from app.core.inference.reasoning import Channel, Piece, ReasoningSplitter
from app.core.inference.sampling import SamplingParams
from app.core.inference.token_stats import TokenStats
from app.core.remote.logprobs import ServerToken, TextIds, server_row, texts_of


@dataclass
class StreamedSample:
    """The text, token count and timing of one sample while its stream runs."""

    sampling: SamplingParams  # seed included: the one this sample was sent with
    thinking: bool | None
    starts_in_trace: bool = False
    started: float = field(default_factory=time.perf_counter)
    tokens: int = 0
    prompt_tokens: int = 0
    first_token_at: float | None = None
    # Each token's confidence, where the server sends log-probabilities (remote.logprobs).
    stats: TokenStats | None = None
    replay_chain: bool = False  # the server's figures are before its sampler chain
    text_ids: TextIds = field(default_factory=TextIds)  # for servers that send no ids
    _server_trace: list[str] = field(default_factory=list)
    _server_trace_length: int = 0
    _ends: dict[Channel, int] = field(default_factory=dict)
    _splitter: ReasoningSplitter | None = None
    _finished: bool = False

    def __post_init__(self) -> None:
        self._splitter = ReasoningSplitter(starts_in_trace=self.starts_in_trace)

    @property
    def splitter(self) -> ReasoningSplitter:
        assert self._splitter is not None
        return self._splitter

    def feed(
        self, reasoning: str, text: str, tokens: int | None = None,
        probs: Sequence[ServerToken] = (),
    ) -> list[Piece]:  # fmt: skip
        """Add one event's text; ``tokens``: the server's running count, where it sends one;
        ``probs``: the event's tokens with their log-probabilities, where it sends them."""
        pieces: list[Piece] = []
        if reasoning:
            self._server_trace.append(reasoning)
            self._server_trace_length += len(reasoning)
            pieces.append((Channel.TRACE, reasoning))
        if text:
            pieces += self.splitter.feed(text)
        if reasoning or text:
            if self.first_token_at is None:
                self.first_token_at = time.perf_counter()
            # One event is one token on llama-server, vLLM and SGLang; the server's own
            # count (tokens_predicted, or usage at the end) replaces this where it sends one.
            self.tokens += 1
        if tokens is not None:
            self.tokens = tokens
        if self.stats is not None and probs:
            self._record(probs, bool(reasoning), pieces)
        return pieces

    def _record(
        self, probs: Sequence[ServerToken], server_trace: bool, pieces: list[Piece]
    ) -> None:
        """The event's tokens, each ending where its text does in its channel. A server
        that splits the reasoning itself may drop tag tokens from the text: ends are then
        clamped to the event's text (best effort; the figures themselves are exact)."""
        assert self.stats is not None
        if server_trace:
            channel, end = Channel.TRACE, self._server_trace_length
        else:
            channel = pieces[-1][0] if pieces else self.splitter.channel
            end = self.splitter.length(channel)
        at = self._ends.get(channel, 0)
        for i, token in enumerate(probs):
            at = end if i == len(probs) - 1 else min(end, at + len(token.text))
            row = server_row(token, self.sampling, replay=self.replay_chain)
            texts = texts_of(token)
            self.stats.add(token.token_id, channel.value, at, row, texts.__getitem__)
        self._ends[channel] = end

    def finish(self) -> list[Piece]:
        """Flush the text the splitter held back (once; later calls give nothing)."""
        if self._finished:
            return []
        self._finished = True
        return self.splitter.finish()

    @property
    def trace(self) -> str:
        """The reasoning so far: the server's own, then any the splitter found in the text."""
        server_trace = "".join(self._server_trace).strip("\r\n")
        return "\n\n".join(part for part in (server_trace, self.splitter.trace) if part)

    def result(self, reason: FinishReason, error: str | None = None) -> GenerationResult:
        self.finish()
        splitter = self.splitter
        trace = self.trace
        ttft = self.first_token_at - self.started if self.first_token_at else None
        return GenerationResult(
            trace=trace,
            answer=splitter.answer,
            extracted=extract_answer(splitter.answer, complete=reason == FinishReason.STOP),
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.tokens,
            seconds=time.perf_counter() - self.started,
            time_to_first_token=ttft,
            finish_reason=reason,
            sampling=self.sampling,
            thinking=self.thinking,
            error=error,
            token_stats=self.stats if self.stats is not None and len(self.stats) else None,
        )
