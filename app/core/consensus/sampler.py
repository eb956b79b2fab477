"""What ConsensusRunner needs from whatever decodes the samples: the sampler protocol.

``BatchSampler`` (here, in llama.cpp) and ``app.core.remote.sampler.ServerSampler`` (on a
server) both implement it, so one runner, with its early stop and statistics, drives
either.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

from app.core.consensus.batch import BatchEvent
from app.core.consensus.memory_plan import ConsensusPlan
from app.core.inference.sampling import SamplingParams
from app.core.inference.think_budget import ThinkBudget


class ConsensusSampler(Protocol):
    """Decodes N samples of one prompt and reports them as BatchEvents."""

    def cancel(self) -> None:
        """Stop now, keeping every finished sample (callable from any thread)."""

    def sample_seeds(self, base_seed: int, n: int) -> list[int]:
        """One distinct, reproducible seed per sample, as this sampler can honour them."""

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
