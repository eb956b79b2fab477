"""A consensus run: N samples of one question, grouped and measured as they finish.

Glue between the batch decoder, the answer grouper and the statistics. Like
``Engine.generate`` it is a plain generator of events, so the CLI iterates it and the
GUI wraps it in its worker thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from app.core.answers.grouping import NO_ANSWER, AnswerGrouper
from app.core.consensus.batch import (
    BatchFinished,
    BatchSampler,
    BatchStep,
    SampleFinished,
)
from app.core.consensus.memory_plan import ConsensusPlan, plan_consensus
from app.core.consensus.resume import result_of
from app.core.consensus.sampler import ConsensusSampler, WatchedSample
from app.core.consensus.stats import ConsensusStats, compute_stats
from app.core.consensus.stopping import EarlyStopChoice, PrefixStopper, complete_prefix
from app.core.history.records import SampleRecord
from app.core.inference.engine import Engine, GenerationResult, Message
from app.core.inference.reasoning import template_opens_trace
from app.core.inference.sampling import SamplingParams

MIN_SAMPLES, MAX_SAMPLES = 2, 512


class ConsensusError(ValueError):
    """The run cannot start as asked; the message is meant for a user."""


@dataclass(frozen=True)
class ConsensusRequest:
    """One question to ask N times, and how (sampling, thinking, early stop, memory)."""

    messages: Sequence[Message]
    sampling: SamplingParams
    samples: int
    thinking: bool | None = None
    # Every rule decides on the complete prefix by index; "beta" and "window" are the
    # core's only (Adaptive-Consistency, ESC; see app.core.consensus.stopping).
    early_stop: EarlyStopChoice | Literal["window"] = "off"
    budget_bytes: int | None = None  # KV memory budget; None: a share of physical memory
    # Split KV streams: each sample attends over its own cells only. A unified cache
    # makes every token attend over all samples' cells (masked), which grows with N x
    # trace length; measured on 2 cores, split was as fast at N=8..32 on short answers.
    kv_unified: bool = False
    # Resuming an interrupted run: its saved samples by index. Only the other indices
    # are decoded, each with the seed it had from the start (app.core.consensus.resume).
    kept: Mapping[int, SampleRecord] = field(default_factory=dict)
    # Close each sample's trace after this many trace tokens (0: no thinking); None: no cap.
    think_budget: int | None = None
    # Each sample's result also carries its tokens' confidence (GenerationResult.token_stats).
    token_stats: bool = False


@dataclass(frozen=True)
class ConsensusStarted:
    """The run is planned and its prompt evaluated; the samples start."""

    plan: ConsensusPlan
    seeds: list[int]
    prompt_tokens: int


@dataclass(frozen=True)
class ConsensusSample:
    """One sample finished; ``stats`` covers every sample finished so far."""

    index: int
    result: GenerationResult
    group: str
    stats: ConsensusStats
    kept: bool = False  # saved by the interrupted run this one resumes, not decoded now


@dataclass(frozen=True)
class ConsensusProgress:
    """After a decode step: samples in flight, finished, asked for, and tokens so far;
    and the text so far of the sample ``ConsensusRunner.watch`` named, while it runs."""

    active: int
    finished: int
    total: int
    tokens: int
    watched: WatchedSample | None = None


@dataclass(frozen=True)
class ConsensusReport:
    """A finished run: every sample by index, its groups and statistics, how it ended."""

    samples: list[GenerationResult | None]  # by index; None: not finished (stopped early)
    groups: dict[int, str]  # sample index -> group label
    stats: ConsensusStats
    seeds: list[int]
    plan: ConsensusPlan
    sampling: SamplingParams
    thinking: bool | None
    stopped_early: bool
    early_stop_reason: str | None
    cancelled: bool
    seconds: float
    tokens: int
    error: str | None = None
    # Stopped early: the complete prefix by index (samples 0..decided_on-1) that the stop
    # rule and ``stats`` used; samples past it that finished are kept in ``samples``.
    decided_on: int | None = None
    # Stopped early: samples never started x the run's mean wall seconds per finished
    # sample. An estimate from the run's own throughput, not a measurement.
    seconds_saved_estimate: float | None = None
    resumed: int = 0  # samples kept from the interrupted run this one resumed

    @property
    def saved(self) -> int:
        """Samples that early stopping made unnecessary."""
        return sum(r is None for r in self.samples) if self.stopped_early else 0

    @property
    def finished(self) -> list[tuple[int, GenerationResult]]:
        return [(i, r) for i, r in enumerate(self.samples) if r is not None]


@dataclass(frozen=True)
class ConsensusFinished:
    """The run ended (done, stopped early, cancelled or failed); the report says which."""

    report: ConsensusReport


ConsensusEvent = ConsensusStarted | ConsensusSample | ConsensusProgress | ConsensusFinished


@dataclass
class _Tally:
    """Groups the answers as samples finish, and remembers each sample's group label."""

    grouper: AnswerGrouper = field(default_factory=AnswerGrouper)
    labels: dict[int, str] = field(default_factory=dict)

    def add(self, index: int, result: GenerationResult) -> str:
        answer = result.extracted.text if result.extracted else None
        group = self.grouper.add(index, answer)
        label = NO_ANSWER if group.is_no_answer else group.label
        self.labels[index] = label
        return label


class ConsensusRunner:
    """Runs consensus on an Engine's already loaded model (on the engine's thread)."""

    def __init__(self, engine: Engine, sampler: ConsensusSampler | None = None) -> None:
        self.engine = engine
        # A server engine brings its own sampler (app.core.remote.runner).
        self._sampler = sampler or BatchSampler(
            engine.model, engine.runtime.n_threads, engine.contexts
        )
        self._init_watch()

    def _init_watch(self) -> None:
        # The sampler knows the samples it decodes by position in its seed list, which
        # skips the ones a resumed run kept: sample index -> position, for watch().
        self._watch_lock = threading.Lock()
        self._watched: int | None = None
        self._positions: dict[int, int] = {}

    def cancel(self) -> None:
        """Stop now and keep every finished sample (callable from any thread)."""
        self._sampler.cancel()

    def watch(self, index: int | None) -> None:
        """Follow this sample's text in each ConsensusProgress while it decodes (None:
        none). Callable from any thread, before or during a run."""
        with self._watch_lock:
            self._watched = index
            self._sampler.watch(None if index is None else self._positions.get(index))

    def _decode_only(self, missing: list[int]) -> None:
        with self._watch_lock:
            self._positions = {index: position for position, index in enumerate(missing)}
        self.watch(self._watched)

    def prepare(self, request: ConsensusRequest) -> tuple[list[int], ConsensusPlan, bool]:
        """Tokens, memory plan and whether the template opened a think block."""
        if not MIN_SAMPLES <= request.samples <= MAX_SAMPLES:
            raise ConsensusError(f"samples must be between {MIN_SAMPLES} and {MAX_SAMPLES}")
        prompt = self.engine.render_prompt(request.messages, request.thinking)
        tokens = self.engine.model.tokenize(prompt)
        train_ctx = self.engine.model.n_ctx_train or self.engine.n_ctx
        if len(tokens) + request.sampling.max_tokens > train_ctx:
            raise ConsensusError(
                f"the question ({len(tokens)} tokens) plus {request.sampling.max_tokens} "
                f"tokens per sample exceeds the model's context of {train_ctx}; "
                "lower max tokens or shorten the question"
            )
        plan = plan_consensus(
            self.engine.info,
            samples=request.samples,
            prompt_tokens=len(tokens),
            max_tokens=request.sampling.max_tokens,
            budget_bytes=request.budget_bytes,
            kv_unified=request.kv_unified,
        )
        return tokens, plan, template_opens_trace(prompt)

    def run(self, request: ConsensusRequest) -> Iterator[ConsensusEvent]:
        started = time.perf_counter()
        sampling = request.sampling.with_seed().validated()
        tokens, plan, opens_trace = self.prepare(request)
        seeds = self._sampler.sample_seeds(sampling.seed or 0, request.samples)
        thinking = request.thinking if self.engine.supports_thinking else None
        yield ConsensusStarted(plan, seeds, len(tokens))
        run = _Run(request, sampling, thinking, seeds, plan, started)
        for index, sample in sorted(request.kept.items()):
            if 0 <= index < request.samples:
                result = result_of(sample, sampling, thinking, len(tokens))
                label = run.keep(index, result)
                stats = compute_stats(
                    run.tally.grouper.groups, deterministic=sampling.deterministic
                )
                yield ConsensusSample(index, result, label, stats, kept=True)
        missing = [i for i, r in enumerate(run.results) if r is None]
        if not missing:  # every sample was saved; only the run's end was lost
            yield run.finished(BatchFinished([], stopped_early=False, cancelled=False,
                                             seconds=0.0, tokens=0))  # fmt: skip
            return
        self._decode_only(missing)
        for event in self._sampler.run(
            tokens,
            sampling,
            [seeds[i] for i in missing],  # the batch knows samples by position in this list
            plan,
            starts_in_trace=opens_trace,
            thinking=thinking,
            should_stop=run.should_stop,
            max_in_flight=in_flight_limit(len(missing), plan.parallel, request.early_stop),
            make_budget=(
                (lambda: self.engine.think_budget(request.think_budget, opens_trace))
                if request.think_budget is not None
                else None
            ),
            token_stats=request.token_stats,
        ):
            if isinstance(event, SampleFinished):
                index = missing[event.index]
                label = run.add(index, event.result)
                stats = compute_stats(
                    run.tally.grouper.groups, deterministic=sampling.deterministic
                )
                yield ConsensusSample(index, event.result, label, stats)
            elif isinstance(event, BatchStep):
                done = event.finished + run.resumed
                watched = event.watched and replace(event.watched,
                                                    index=missing[event.watched.index])  # fmt: skip
                yield ConsensusProgress(event.active, done, request.samples, event.tokens,
                                        watched)  # fmt: skip
            elif isinstance(event, BatchFinished):
                yield run.finished(event)


@dataclass
class _Run:
    """One run in progress: every sample's result by index, kept ones included."""

    request: ConsensusRequest
    sampling: SamplingParams
    thinking: bool | None
    seeds: list[int]
    plan: ConsensusPlan
    started: float
    tally: _Tally = field(default_factory=_Tally)
    results: list[GenerationResult | None] = field(default_factory=list)
    resumed: int = 0

    def __post_init__(self) -> None:
        self.results = [None] * self.request.samples
        self.stopper = PrefixStopper(self.request.early_stop, self.request.samples)

    def keep(self, index: int, result: GenerationResult) -> str:
        """A sample saved by the interrupted run this one resumes."""
        self.resumed += 1
        return self.add(index, result)

    def add(self, index: int, result: GenerationResult) -> str:
        self.results[index] = result
        return self.tally.add(index, result)

    def prefix(self) -> list[int]:
        done = [i in self.tally.labels for i in range(self.request.samples)]
        return list(range(complete_prefix(done)))

    def should_stop(self) -> bool:
        return self.stopper.should_stop([self.tally.labels[i] for i in self.prefix()])

    def finished(self, event: BatchFinished) -> ConsensusFinished:
        decided = self.prefix() if event.stopped_early else sorted(self.tally.labels)
        return ConsensusFinished(
            ConsensusReport(
                samples=self.results,
                groups=dict(self.tally.labels),
                stats=_stats_of(self.results, decided, self.sampling.deterministic),
                seeds=self.seeds,
                plan=self.plan,
                sampling=self.sampling,
                thinking=self.thinking,
                stopped_early=event.stopped_early,
                early_stop_reason=self.stopper.reason if event.stopped_early else None,
                cancelled=event.cancelled,
                seconds=time.perf_counter() - self.started,
                tokens=event.tokens,
                error=event.error,
                decided_on=len(decided) if event.stopped_early else None,
                seconds_saved_estimate=_seconds_saved(event) if event.stopped_early else None,
                resumed=self.resumed,
            )
        )


def in_flight_limit(samples: int, parallel: int, early_stop: str) -> int | None:
    """How many samples decode at once; None: every slot (no early stop).

    A stop may only use the complete prefix by index, and it saves time only on samples
    not yet started. With all N in flight the prefix waits on its longest sample and a
    stop skips nothing. A quarter of N (at least 4) keeps the batch wide enough for
    batched decoding to pay on a few cores, keeps the prefix close behind the fastest
    samples, and leaves three quarters of the run unstarted; in benchmarks/early_stop.py
    the Beta rule decides on 5-18 samples when the leader's share is 0.6 or more.
    """
    if early_stop == "off":
        return None
    return min(parallel, max(4, samples // 4))


def _stats_of(
    results: Sequence[GenerationResult | None], indices: Sequence[int], deterministic: bool
) -> ConsensusStats:
    """Statistics over the given finished samples, grouped afresh in index order."""
    grouper = AnswerGrouper()
    for i in indices:
        result = results[i]
        if result is not None:
            grouper.add(i, result.extracted.text if result.extracted else None)
    return compute_stats(grouper.groups, deterministic=deterministic)


def _seconds_saved(event: BatchFinished) -> float | None:
    finished = sum(r is not None for r in event.results)
    if finished == 0:
        return None
    return (len(event.results) - event.started) * event.seconds / finished
