"""Consensus samples from a server, as the same events the local BatchSampler yields.

``ServerSampler`` implements ``app.core.consensus.sampler.ConsensusSampler``, so
``ConsensusRunner`` drives it unchanged (``app.core.remote.runner`` sets it up). Two
paths, chosen by the probe and recorded:

* llama-server with ``n_cmpl``: the first wave is one ``/completion`` request whose
  completions share one prompt evaluation; each later sample is its own request with
  ``cache_prompt``, sent as a slot frees (refill), so the server's slots stay full.
  Completion ``i`` of a request samples with ``seed + i``, so this path uses
  consecutive seeds (``sample_seeds``) and each sample's seed is the one it really had.
* any other server: one streamed chat request per sample, each with its own seed,
  at most ``plan.parallel`` at once.

Every stream is read on its own thread into one queue; ``run`` (the caller's thread)
takes the events in order, so the statistics see finished samples one at a time.
Cancel and an early stop cut every connection in flight at once. A server that goes
away ends the run with its finished samples kept and a message saying what happened.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from app.core.consensus.batch import sample_seeds as spaced_seeds
from app.core.consensus.memory_plan import ConsensusPlan
from app.core.consensus.runner import ConsensusError
from app.core.consensus.sampler import (
    BatchEvent,
    BatchFinished,
    BatchStep,
    SampleFinished,
    WatchedSample,
)
from app.core.inference.engine import FinishReason, GenerationResult, Message
from app.core.inference.sampling import SamplingParams
from app.core.inference.think_budget import ThinkBudget
from app.core.remote.client import ServerError
from app.core.remote.engine import ServerEngine
from app.core.remote.logprobs import N_PROBS, new_stats
from app.core.remote.probe import RunPath, ServerKind
from app.core.remote.protocol import (
    chat_body,
    completion_body,
    read_chat_chunk,
    read_completion_chunk,
)
from app.core.remote.sample import StreamedSample

_SEED_SPACE = 2**32  # llama-server adds to the seed as a uint32


@dataclass(frozen=True)
class _Update:
    """What a reader thread saw: one event of request ``request`` (or its end)."""

    request: int
    payload: dict[str, Any] | None = None  # None: the stream ended
    error: str | None = None


@dataclass
class _Request:
    """One HTTP stream: samples first..first+count-1, and the thread reading it."""

    first: int
    count: int
    thread: threading.Thread | None = None
    open_samples: set[int] = field(default_factory=set)
    # Chat streams: finish_reason arrives one event before the usage (token counts),
    # so a sample is retired when its stream ends.
    finish: dict[int, FinishReason] = field(default_factory=dict)


@dataclass
class _Run:
    """The state of one ServerSampler.run call."""

    prompt: Sequence[int]
    sampling: SamplingParams
    seeds: Sequence[int]
    starts_in_trace: bool
    thinking: bool | None
    capacity: int
    results: list[GenerationResult | None]
    token_stats: bool = False  # asked for, and the server gives them (remote.logprobs)
    samples: dict[int, StreamedSample] = field(default_factory=dict)
    requests: dict[int, _Request] = field(default_factory=dict)
    updates: queue.Queue[_Update] = field(default_factory=queue.Queue)
    next_index: int = 0
    tokens_done: int = 0  # completion tokens of finished samples
    error: str | None = None
    started: float = field(default_factory=time.perf_counter)

    @property
    def tokens(self) -> int:
        return self.tokens_done + sum(s.tokens for s in self.samples.values())

    def progress(self, watched: int | None = None) -> BatchStep:
        finished = sum(r is not None for r in self.results)
        sample = self.samples.get(watched) if watched is not None else None
        text = None
        if watched is not None and sample is not None:
            text = WatchedSample(watched, sample.trace, sample.splitter.answer, sample.tokens)
        return BatchStep(len(self.samples), finished, len(self.seeds), self.tokens, text)

    def finished(self, *, stopped: bool = False, cancelled: bool = False) -> BatchFinished:
        return BatchFinished(
            self.results, stopped_early=stopped, cancelled=cancelled,
            seconds=time.perf_counter() - self.started, tokens=self.tokens,
            error=None if stopped or cancelled else self.error, started=self.next_index,
        )  # fmt: skip


class ServerSampler:
    """Runs one consensus batch on a server (``run`` on one thread, ``cancel`` from any)."""

    def __init__(self, engine: ServerEngine) -> None:
        self.engine = engine
        self.path = engine.capabilities.path
        # The chat path sends messages, not tokens: the runner's prepare() sets them.
        self.messages: list[Message] = []
        self._cancel = threading.Event()
        self._watched: int | None = None  # one reference, set from any thread
        self._request_ids = iter(range(1, 2**62))
        # The last run's requests as (first sample, samples carried), in the order sent:
        # the record of the path it took ((0, 8) then (8, 1), ... on the n_cmpl path).
        self.requests_sent: list[tuple[int, int]] = []

    def cancel(self) -> None:
        """Stop now, keeping every finished sample: every connection is cut at once."""
        self._cancel.set()
        self.engine.client.abort_streams()

    def watch(self, index: int | None) -> None:
        """Each BatchStep carries this sample's streamed text while it runs (any thread)."""
        self._watched = index

    def sample_seeds(self, base_seed: int, n: int) -> list[int]:
        """Consecutive seeds on the n_cmpl path (the server's rule), else the local rule."""
        if self.path is RunPath.N_CMPL:
            return [(base_seed + i) % _SEED_SPACE for i in range(n)]
        return spaced_seeds(base_seed, n)

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
        """Sample ``len(seeds)`` answers; ``should_stop`` is asked after each one finishes."""
        if make_budget is not None:
            # The budget writes the closing tag into the sequence itself; a server's
            # sequence is out of reach (llama-server has a server-wide --reasoning-budget).
            raise ConsensusError("a thinking budget needs the local engine, not a server")
        self._cancel.clear()
        self.requests_sent = []
        run = _Run(
            prompt=prompt_tokens, sampling=sampling, seeds=seeds,
            starts_in_trace=starts_in_trace, thinking=thinking,
            capacity=max(1, min(plan.parallel, max_in_flight or plan.parallel)),
            results=[None] * len(seeds),
            token_stats=token_stats and self.engine.capabilities.token_stats_reason is None,
        )  # fmt: skip
        try:
            self._fill(run, first_wave=True)
            while run.samples:
                ending = yield from self._take_updates(run, should_stop)
                if ending is not None:
                    yield ending
                    return
                self._fill(run)
                yield run.progress(self._watched)
            yield run.finished()
        finally:
            self.engine.client.abort_streams()
            for request in run.requests.values():
                if request.thread is not None:
                    request.thread.join(timeout=10)

    def _take_updates(
        self, run: _Run, should_stop: Callable[[], bool] | None
    ) -> Generator[SampleFinished, None, BatchFinished | None]:
        """Wait for the next stream events; the ending if the run ended."""
        updates = [self._next_update(run)]
        while True:  # take everything already there, then report once
            try:
                updates.append(run.updates.get_nowait())
            except queue.Empty:
                break
        for update in updates:
            if self._cancel.is_set():
                return run.finished(cancelled=True)
            for index, result in self._apply(run, update):
                yield SampleFinished(index, result)
                if should_stop is not None and should_stop():
                    self.engine.client.abort_streams()
                    run.samples.clear()
                    return run.finished(stopped=True)
            if run.error is not None:
                self.engine.client.abort_streams()
                run.samples.clear()
                return run.finished()
        return None

    def _next_update(self, run: _Run) -> _Update:
        while True:
            try:
                return run.updates.get(timeout=0.25)
            except queue.Empty:
                if self._cancel.is_set():
                    return _Update(request=0)

    def _apply(self, run: _Run, update: _Update) -> list[tuple[int, GenerationResult]]:
        """Feed one update into its samples; the (index, result) of those it finished."""
        request = run.requests.get(update.request)
        if request is None:
            return []
        if update.error is not None:
            run.error = self._gone_message(run, update.error)
            return []
        if update.payload is None:  # the stream ended
            done = [i for i in sorted(request.open_samples) if i in request.finish]
            retired = [self._retire(run, request, i, request.finish[i]) for i in done]
            if request.open_samples and not self._cancel.is_set():
                run.error = self._gone_message(
                    run, f"the server at {self.engine.config.public_url} ended a stream "
                    f"before sample {min(request.open_samples) + 1} finished",
                )  # fmt: skip
            return retired
        return self._feed(run, request, update.payload)

    def _feed(
        self, run: _Run, request: _Request, payload: dict[str, Any]
    ) -> list[tuple[int, GenerationResult]]:
        if self.path is RunPath.N_CMPL:
            chunk = read_completion_chunk(payload)
            index = request.first + chunk.index
            sample = run.samples.get(index)
            if sample is None:
                return []
            sample.feed("", chunk.text, chunk.completion_tokens, chunk.probs)
            if chunk.prompt_tokens is not None:
                sample.prompt_tokens = chunk.prompt_tokens
            return [self._retire(run, request, index, chunk.finish)] if chunk.finish else []
        sample = run.samples.get(request.first)
        ids = sample.text_ids if sample is not None and sample.stats is not None else None
        chat = read_chat_chunk(payload, ids)
        if sample is not None:
            sample.feed(chat.reasoning, chat.text, chat.completion_tokens, chat.probs)
            if chat.prompt_tokens is not None:
                sample.prompt_tokens = chat.prompt_tokens
            if chat.finish is not None:
                request.finish[request.first] = chat.finish
        return []

    def _retire(
        self, run: _Run, request: _Request, index: int, reason: FinishReason
    ) -> tuple[int, GenerationResult]:
        sample = run.samples.pop(index)
        request.open_samples.discard(index)
        result = sample.result(reason)
        run.results[index] = result
        run.tokens_done += result.completion_tokens
        return index, result

    def _gone_message(self, run: _Run, reason: str) -> str:
        kept = sum(r is not None for r in run.results)
        return f"{reason}; the {kept} finished samples are kept"

    def _fill(self, run: _Run, first_wave: bool = False) -> None:
        """Start samples in index order while the server has room for them."""
        while run.next_index < len(run.seeds) and len(run.samples) < run.capacity:
            first = run.next_index
            count = 1
            if first_wave and self.path is RunPath.N_CMPL:
                count = self._consecutive(run, first, run.capacity)
            self._start(run, first, count)

    def _consecutive(self, run: _Run, first: int, most: int) -> int:
        """How many samples from ``first`` one n_cmpl request can carry (seeds in a row)."""
        count = 1
        while (
            count < most
            and first + count < len(run.seeds)
            and run.seeds[first + count] == (run.seeds[first] + count) % _SEED_SPACE
        ):
            count += 1
        return count

    def _start(self, run: _Run, first: int, count: int) -> None:
        request = _Request(first, count, open_samples=set(range(first, first + count)))
        caps = self.engine.capabilities
        for index in request.open_samples:
            run.samples[index] = StreamedSample(
                replace(run.sampling, seed=run.seeds[index]), run.thinking,
                starts_in_trace=run.starts_in_trace and self.path is RunPath.N_CMPL,
                prompt_tokens=len(run.prompt),
                stats=new_stats(caps.token_stats_basis) if run.token_stats else None,
                replay_chain=caps.kind is ServerKind.LLAMA_SERVER,
            )  # fmt: skip
        run.next_index = first + count
        probs = N_PROBS if run.token_stats else 0
        if self.path is RunPath.N_CMPL:
            path = "/completion"
            body = completion_body(list(run.prompt), run.sampling, run.seeds[first], count,
                                   probs)  # fmt: skip
        else:
            path = "/v1/chat/completions"
            body = chat_body(
                self.engine.model_id, self.messages, run.sampling, run.seeds[first],
                extended=caps.extended_sampling, thinking=run.thinking, top_logprobs=probs,
            )  # fmt: skip
        request_id = next(self._request_ids)
        run.requests[request_id] = request
        self.requests_sent.append((first, count))
        request.thread = threading.Thread(
            target=self._read, args=(request_id, path, body, run.updates),
            name=f"quorum-server-sample-{first}", daemon=True,
        )  # fmt: skip
        request.thread.start()

    def _read(
        self, request_id: int, path: str, body: dict[str, Any], updates: queue.Queue[_Update]
    ) -> None:
        try:
            with self.engine.client.stream(path, body, self._cancel) as (_, events):
                for payload in events:
                    updates.put(_Update(request_id, payload))
        except ServerError as exc:
            updates.put(_Update(request_id, error=str(exc)))
            return
        updates.put(_Update(request_id))
