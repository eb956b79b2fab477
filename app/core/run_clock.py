"""Timing of the run being streamed, measured on the GUI thread, and the figures shown.

The worker sends text in batches; `RunClock.record` turns each batch into a
`RunProgress` for the views: the new text, token counts, and the time to the first
token, the thinking time (known once the answer starts) and the speed so far.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class RunProgress:
    """What the views show after one streamed batch: new text, counts and timings."""

    trace_delta: str
    answer_delta: str
    tokens: int
    trace_tokens: int
    thought_seconds: float | None  # known once the answer starts
    elapsed: float
    time_to_first_token: float | None
    tokens_per_second: float


class RunClock:
    """Timing and streamed text of the run in progress."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.first_token_at: float | None = None
        self.answer_started_at: float | None = None
        self.trace_tokens = 0
        self.saw_trace = False
        self.trace = ""
        self.answer = ""

    def thought_seconds(self) -> float | None:
        if not self.saw_trace:
            return None
        end = self.answer_started_at if self.answer_started_at else time.monotonic()
        return end - self.started

    def record(self, trace: str, answer: str, tokens: int) -> RunProgress:
        """Take a batch of streamed text; the progress the views should show now."""
        now = time.monotonic()
        if self.first_token_at is None:
            self.first_token_at = now
        if trace:
            self.saw_trace, self.trace_tokens = True, tokens
            self.trace += trace
        if answer:
            self.answer += answer
            if self.answer_started_at is None:
                self.answer_started_at = now
        streaming = now - self.first_token_at
        return RunProgress(
            trace_delta=trace,
            answer_delta=answer,
            tokens=tokens,
            trace_tokens=self.trace_tokens,
            thought_seconds=self.thought_seconds(),
            elapsed=now - self.started,
            time_to_first_token=self.first_token_at - self.started,
            tokens_per_second=tokens / streaming if streaming > 0.05 else 0.0,
        )
