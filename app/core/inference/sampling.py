"""Sampling and runtime parameters, and where their defaults come from.

Order of authority for defaults: the model file's own ``general.sampling.*`` keys
(the author's choice), then the published recommendation for the model's family,
then generic values that suit most instruct models.
"""

from __future__ import annotations

import math
import os
import secrets
from dataclasses import asdict, dataclass, field, replace
from typing import Any

# Qwen's published recommendations (model cards of Qwen3 and Qwen3-2507).
QWEN3_THINKING = {"temperature": 0.6, "top_p": 0.95, "top_k": 20, "min_p": 0.0}
QWEN3_NON_THINKING = {"temperature": 0.7, "top_p": 0.8, "top_k": 20, "min_p": 0.0}
# DeepSeek-R1 distills: T 0.6, top-p 0.95 per their model card.
R1_DISTILL = {"temperature": 0.6, "top_p": 0.95, "top_k": 40, "min_p": 0.0}
GENERIC = {"temperature": 0.7, "top_p": 0.9, "top_k": 40, "min_p": 0.05}

# GGUF general.sampling.* key -> our field name.
_METADATA_KEYS = {
    "temp": "temperature",
    "top_k": "top_k",
    "top_p": "top_p",
    "min_p": "min_p",
    "penalty_repeat": "repeat_penalty",
    "penalty_present": "presence_penalty",
}


def new_seed() -> int:
    """A fresh seed; recorded with every run so it can be reproduced."""
    return secrets.randbits(31)


@dataclass(frozen=True)
class SamplingParams:
    """How the next token is drawn (and how many): recorded with every run, seed included."""

    temperature: float = 0.7
    top_p: float = 0.9
    top_k: int = 40
    min_p: float = 0.05
    repeat_penalty: float = 1.0
    presence_penalty: float = 0.0
    max_tokens: int = 2048
    seed: int | None = None  # None: a fresh seed is drawn and recorded

    @property
    def deterministic(self) -> bool:
        """Greedy decoding: every sample is the same by construction."""
        return self.temperature <= 0.0 or self.top_k == 1

    @property
    def penalised(self) -> bool:
        """Whether repetition penalties move logits before any other cut."""
        return self.repeat_penalty != 1.0 or self.presence_penalty != 0.0

    def with_seed(self) -> SamplingParams:
        return self if self.seed is not None else replace(self, seed=new_seed())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def validated(self) -> SamplingParams:
        """Raise ValueError with a readable message for values llama.cpp would misuse."""
        for name in ("temperature", "top_p", "min_p", "repeat_penalty", "presence_penalty"):
            value = getattr(self, name)
            if not math.isfinite(value):  # nan slips past every range check below
                raise ValueError(f"{name.replace('_', '-')} must be a finite number, not {value}")
        checks = [
            (self.temperature >= 0, "temperature must be 0 or more"),
            (0.0 < self.top_p <= 1.0, "top-p must be in (0, 1]"),
            (self.top_k >= 0, "top-k must be 0 (off) or more"),
            (0.0 <= self.min_p < 1.0, "min-p must be in [0, 1)"),
            (self.repeat_penalty > 0, "repeat penalty must be above 0"),
            (-2.0 <= self.presence_penalty <= 2.0, "presence penalty must be in [-2, 2]"),
            (self.max_tokens >= 1, "max tokens must be at least 1"),
            (self.seed is None or 0 <= self.seed < 2**32, "seed must be in [0, 2^32)"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        return self


def default_threads() -> int:
    """Threads for llama.cpp: the cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS and Windows have no sched_getaffinity
        return max(1, os.cpu_count() or 1)


# The smallest context the engine allocates: less leaves no room for a chat template.
MIN_CTX = 256


@dataclass(frozen=True)
class RuntimeParams:
    """How llama.cpp runs the model: context size, threads, batch, GPU layers."""

    n_ctx: int = 4096
    n_threads: int = field(default_factory=default_threads)
    n_gpu_layers: int = 0  # -1: every layer
    n_batch: int = 512

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def validated(self) -> RuntimeParams:
        """Raise ValueError with a readable message; cheap, so callers check before loading."""
        checks = [
            (self.n_ctx >= MIN_CTX, f"the context size must be at least {MIN_CTX} tokens"),
            (self.n_threads >= 1, "the number of threads must be at least 1"),
            (self.n_gpu_layers >= -1, "GPU layers must be 0 or more (-1 for all)"),
            (self.n_batch >= 1, "the batch size must be at least 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        return self


def family_defaults(
    architecture: str | None, chat_template: str | None, thinking: bool | None
) -> dict[str, float]:
    """The published recommendation for the model's family, else generic values."""
    template = chat_template or ""
    if architecture in ("qwen3", "qwen3moe"):
        return QWEN3_NON_THINKING if thinking is False else QWEN3_THINKING
    if architecture == "qwen2" and "<think>" in template:
        return R1_DISTILL  # DeepSeek-R1 distills are qwen2-architecture files that think
    return GENERIC


def default_sampling(
    architecture: str | None,
    chat_template: str | None,
    metadata_sampling: dict[str, float | int],
    thinking: bool | None,
    max_tokens: int = 2048,
) -> SamplingParams:
    values: dict[str, Any] = dict(family_defaults(architecture, chat_template, thinking))
    for key, name in _METADATA_KEYS.items():
        if key in metadata_sampling:
            values[name] = type(getattr(SamplingParams, name))(metadata_sampling[key])
    return SamplingParams(max_tokens=max_tokens, **values)
