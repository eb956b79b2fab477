"""One sample's text as it streams from a server, split into trace and answer.

A server that splits the reasoning itself (``reasoning_content``) sends the trace apart;
anything else goes through the same ``ReasoningSplitter`` the local engine uses, so a
``<think>`` block in plain text is split the same way on either engine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from app.core.answers.extract import extract_answer
from app.core.inference.engine import FinishReason, GenerationResult
from app.core.inference.reasoning import Channel, Piece, ReasoningSplitter
from app.core.inference.sampling import SamplingParams


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
    _server_trace: list[str] = field(default_factory=list)
    _splitter: ReasoningSplitter | None = None
    _finished: bool = False

    def __post_init__(self) -> None:
        self._splitter = ReasoningSplitter(starts_in_trace=self.starts_in_trace)

    @property
    def splitter(self) -> ReasoningSplitter:
        assert self._splitter is not None
        return self._splitter

    def feed(self, reasoning: str, text: str, tokens: int | None = None) -> list[Piece]:
        """Add one event's text; ``tokens``: the server's running count, where it sends one."""
        pieces: list[Piece] = []
        if reasoning:
            self._server_trace.append(reasoning)
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
        return pieces

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
        )
