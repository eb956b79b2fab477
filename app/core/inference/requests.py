"""Plain data that crosses the inference thread: what the GUI asks for and is told.

Nothing here holds a llama.cpp handle, so these objects may be read on any thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.core.inference.cpu_probe import ProbeVerdict
from app.core.inference.engine import Engine, FinishReason, GenerationResult, Message
from app.core.inference.sampling import RuntimeParams, SamplingParams
from app.core.models.gguf import GGUFInfo


@dataclass(frozen=True)
class ModelDescription:
    """What the GUI may know about the model the worker holds (plain data, no handles)."""

    path: Path
    info: GGUFInfo
    supports_thinking: bool
    n_ctx: int
    runtime: RuntimeParams
    defaults_thinking: SamplingParams
    defaults_plain: SamplingParams
    llama_config: ProbeVerdict  # how llama.cpp runs on this CPU, and why

    @classmethod
    def of(cls, engine: Engine) -> ModelDescription:
        """Describe a loaded engine (read on the thread that owns it)."""
        return cls(
            path=Path(engine.path),
            info=engine.info,
            supports_thinking=engine.supports_thinking,
            n_ctx=engine.n_ctx,
            runtime=engine.runtime,
            defaults_thinking=engine.default_sampling(True),
            defaults_plain=engine.default_sampling(False),
            llama_config=engine.llama_config,
        )

    @property
    def display_name(self) -> str:
        return self.info.name or self.path.stem

    def defaults(self, thinking: bool) -> SamplingParams:
        return self.defaults_thinking if thinking else self.defaults_plain


@dataclass(frozen=True)
class GenerationRequest:
    """One single-answer question for the worker: the chat, its sampling and thinking."""

    messages: list[Message]
    sampling: SamplingParams
    thinking: bool | None


def failed_result(
    request: GenerationRequest, reason: FinishReason, error: str | None
) -> GenerationResult:
    """A result for a run that never reached the engine (cancelled first, or it raised)."""
    return GenerationResult(
        trace="", answer="", extracted=None, prompt_tokens=0, completion_tokens=0,
        seconds=0.0, time_to_first_token=None, finish_reason=reason,
        sampling=request.sampling.with_seed(), thinking=request.thinking, error=error,
    )  # fmt: skip
