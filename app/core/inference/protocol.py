"""What a single-answer engine offers, wherever it runs: the answer-engine protocol.

``app.core.inference.engine.Engine`` (llama.cpp here) and
``app.core.remote.engine.ServerEngine`` (a server) both implement it, and yield the same
events with the same ``GenerationResult``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from app.core.inference.engine import EngineEvent, Message
from app.core.inference.sampling import SamplingParams


class AnswerEngine(Protocol):
    """Answers one question at a time as a stream of events; ``cancel`` from any thread."""

    supports_thinking: bool

    def default_sampling(self, thinking: bool | None = None) -> SamplingParams:
        """The sampling to use when the user chose none."""

    def generate(
        self,
        messages: Sequence[Message],
        sampling: SamplingParams | None = None,
        thinking: bool | None = None,
    ) -> Iterator[EngineEvent]:
        """Stream one answer; always ends with exactly one ``Finished`` event."""

    def cancel(self) -> None:
        """Stop the answer in progress."""

    def close(self) -> None:
        """Free what the engine holds (a model, or connections)."""
