"""What the inference worker needs to run consensus, beyond the ConsensusRunner itself.

Plain Python (no Qt), used on the inference thread: the job the GUI sends, a record of
the events so far (so a run that raises halfway is still saved with its finished samples),
a clock that spaces out progress signals, and the report data built once the run ends.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from app.core.consensus.batch import sample_seeds
from app.core.consensus.memory_plan import ConsensusPlan
from app.core.consensus.report import build_report
from app.core.consensus.runner import (
    ConsensusEvent,
    ConsensusReport,
    ConsensusRequest,
    ConsensusSample,
    ConsensusStarted,
)
from app.core.consensus.stats import ConsensusStats, compute_stats
from app.core.inference.engine import Engine, GenerationResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConsensusJob:
    """A consensus run as the GUI asks for it; request.sampling already has its seed, so
    the seed recorded when the run begins is the one the samples' seeds derive from."""

    request: ConsensusRequest
    question: str
    created_at: float = field(default_factory=time.time)
    model_sha256: str | None = None  # known for library models: saves hashing the file


class ProgressThrottle:
    """True at most once per interval: a small model finishes a decode step every few
    milliseconds, far more often than a progress line needs repainting."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._last = float("-inf")

    def due(self) -> bool:
        now = time.monotonic()
        if now - self._last < self.interval_s:
            return False
        self._last = now
        return True


class ConsensusSoFar:
    """The samples and figures a run had reached, to report it when it raises instead of
    finishing (llama.cpp failing to allocate the batch context, for example)."""

    def __init__(self, request: ConsensusRequest, plan: ConsensusPlan, thinking: bool | None):
        self.request = request
        self.plan = plan
        self.thinking = thinking
        self.started = time.perf_counter()
        self.seeds = sample_seeds(request.sampling.seed or 0, request.samples)
        self.results: list[GenerationResult | None] = [None] * request.samples
        self.groups: dict[int, str] = {}
        self.stats: ConsensusStats | None = None

    def add(self, event: ConsensusEvent) -> None:
        if isinstance(event, ConsensusStarted):
            self.plan, self.seeds = event.plan, list(event.seeds)

        elif isinstance(event, ConsensusSample):
            self.results[event.index] = event.result
            self.groups[event.index] = event.group
            self.stats = event.stats

    def report(self, error: str) -> ConsensusReport:
        sampling = self.request.sampling
        stats = self.stats or compute_stats([], deterministic=sampling.deterministic)
        return ConsensusReport(
            samples=list(self.results), groups=dict(self.groups), stats=stats,
            seeds=self.seeds, plan=self.plan, sampling=sampling, thinking=self.thinking,
            stopped_early=False, early_stop_reason=None, cancelled=False,
            seconds=time.perf_counter() - self.started,
            tokens=sum(r.completion_tokens for r in self.results if r is not None),
            error=error,
        )  # fmt: skip


def report_data(
    engine: Engine, job: ConsensusJob, report: ConsensusReport, *, hash_model: bool
) -> dict[str, Any] | None:
    """build_report for the run (hashing the model file unless hash_model is False);
    None, logged, if it fails: the run is then saved from the report alone."""
    try:
        return build_report(
            report, question=job.question, model_path=engine.path, model_info=engine.info,
            runtime=engine.runtime, early_stop=job.request.early_stop,
            model_sha256=job.model_sha256, hash_model=hash_model, created_at=job.created_at,
        )  # fmt: skip
    except Exception:
        log.exception("could not build the consensus report")
        return None
