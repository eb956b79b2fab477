"""What ConsensusRunner needs from whatever decodes the samples: the sampler protocol.

``BatchSampler`` (here, in llama.cpp) and ``app.core.remote.sampler.ServerSampler`` (on a
server) both implement it, so one runner, with its early stop and statistics, drives
either. The events they yield are defined here, with the protocol they belong to.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from app.core.consensus.memory_plan import ConsensusPlan
from app.core.inference.engine import GenerationResult
from app.core.inference.sampling import SamplingParams
from app.core.inference.think_budget import ThinkBudget


@dataclass(frozen=True)
class WatchedSample:
    """The text so far of the sample a viewer watches (``ConsensusSampler.watch``).

    It only grows while the sample runs, except once if a stray close tag moves answer
    text into the trace (``ReasoningSplitter.answer_relabelled``). A splitter holds back
    the start of what may be a tag, so the finished result may end with a little more.
    """

    index: int
    trace: str
    answer: str
    tokens: int  # completion tokens so far


@dataclass(frozen=True)
class BatchStep:
    """Progress after one decode step."""

    active: int
    finished: int
    total: int
    tokens: int  # completion tokens generated so far, all samples together
    watched: WatchedSample | None = None  # the watched sample, while it is in flight


@dataclass(frozen=True)
class SampleFinished:
    """One sample ended (stop, length or a full context); its slot takes the next one."""

    index: int
    result: GenerationResult


@dataclass(frozen=True)
class BatchFinished:
    """The batch ended: every sample done, stopped early, cancelled, or failed (error)."""

    results: list[GenerationResult | None]  # by sample index; None: never finished
    stopped_early: bool
    cancelled: bool
    seconds: float
    tokens: int
    error: str | None = None
    started: int = 0  # samples that began decoding; the rest were skipped by the stop


BatchEvent = BatchStep | SampleFinished | BatchFinished


class ConsensusSampler(Protocol):
    """Decodes N samples of one prompt and reports them as BatchEvents."""

    def cancel(self) -> None:
        """Stop now, keeping every finished sample (callable from any thread)."""

    def sample_seeds(self, base_seed: int, n: int) -> list[int]:
        """One distinct, reproducible seed per sample, as this sampler can honour them."""

    def watch(self, index: int | None) -> None:
        """Carry this sample's text so far in each BatchStep while it is in flight (its
        position in ``seeds``; None: none). Callable from any thread, during a run too."""

    def run(
        self,
        prompt_tokens: Sequence[int],
        sampling: SamplingParams,
        seeds: Sequence[int],
        plan: ConsensusPlan,
        *,
        starts_in_trace: bool = False,
        thinking: bool | None = None,
        should_stop: Callable[[], bool] | None = None,
        max_in_flight: int | None = None,
        make_budget: Callable[[], ThinkBudget | None] | None = None,
        token_stats: bool = False,
    ) -> Iterator[BatchEvent]:
        """SampleFinished as each ends, BatchStep between, and one BatchFinished last.
        make_budget: a fresh thinking budget per sample (None: no cap). token_stats: fill
        each result's token_stats where the sampler can (a server may give none)."""
