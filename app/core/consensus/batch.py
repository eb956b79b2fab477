"""N samples of one question decoded together in one llama.cpp context.

The prompt is evaluated once, into the first slot's sequence, and shared with the
other slots through the KV cache (``llama_memory_seq_cp``), each the first time it is
used. Each slot has its own sampler chain and seed. A slot whose sample ends is cut
back to the shared prompt (``llama_memory_seq_rm`` from the prompt's last position
on) and takes the next sample, so N may exceed the number of slots (llama.cpp's
parallel-sequence cap, or the memory budget) without waiting for a whole wave to
finish, and without copying the prompt again: with split KV caches a copy moves a
whole sequence's buffer (every cell the plan gave it, not just the prompt's).

Every sample starts by decoding the prompt's *last* token in its own slot. That
costs one token per sample, balanced by never decoding a sample's last token, and
buys a simple invariant: a slot always samples from its own logits, whether it
started at the beginning or was refilled halfway through.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import llama_cpp as llama

from app.core.answers.extract import extract_answer
from app.core.consensus.memory_plan import ConsensusPlan, context_spec
from app.core.consensus.sampler import (
    BatchEvent,
    BatchFinished,
    BatchStep,
    SampleFinished,
    WatchedSample,
)
from app.core.inference.backend import (
    AbortSwitch,
    LlamaError,
    LoadedModel,
    SamplerChain,
    utf8_decoder,
)
from app.core.inference.candidates import CandidateBuffer, top_k_first
from app.core.inference.contexts import ContextHolder
from app.core.inference.engine import FinishReason, GenerationResult
from app.core.inference.reasoning import ReasoningSplitter
from app.core.inference.sampling import SamplingParams
from app.core.inference.sequences import SequencePool
from app.core.inference.think_budget import ThinkBudget, next_token
from app.core.inference.token_stats import StepStats, TokenStats, record_row, step_stats

# A batch step slower than this gets llama.cpp's abort callback for the next step. The
# callback is a Python call after every graph node, on the thread that computes it,
# while the other threads wait at the node's barrier: a fixed cost per step that a
# many-slot step of a small model (a tenth of a second or more, every step) would pay
# in full. Past a second per step the cost is under 1% and cancel stays within a
# step; below it, cancel waits for the step to end.
SLOW_BATCH_STEP_S = 1.0


def sample_seeds(base_seed: int, n: int) -> list[int]:
    """One distinct, reproducible seed per sample."""
    return [(base_seed + i * 7919) % 2**31 for i in range(n)]


@dataclass
class _Slot:
    """One KV-cache sequence and the sample decoding in it."""

    seq_id: int
    index: int
    chain: SamplerChain
    sampling: SamplingParams
    splitter: ReasoningSplitter
    started: float = field(default_factory=time.perf_counter)
    decoder: Any = field(default_factory=utf8_decoder)
    tokens: int = 0
    first_token_at: float | None = None
    next_token: int = 0
    pos: int = 0
    budget: ThinkBudget | None = None  # the thinking budget's hook (think_budget.py)
    stats: TokenStats | None = None  # each token's confidence, when asked for

    def result(
        self, prompt_tokens: int, reason: FinishReason, thinking: bool | None
    ) -> GenerationResult:
        self.splitter.feed(self.decoder.decode(b"", final=True))
        self.splitter.finish()
        ttft = self.first_token_at - self.started if self.first_token_at else None
        return GenerationResult(
            trace=self.splitter.trace,
            answer=self.splitter.answer,
            extracted=extract_answer(self.splitter.answer, complete=reason == FinishReason.STOP),
            prompt_tokens=prompt_tokens,
            completion_tokens=self.tokens,
            seconds=time.perf_counter() - self.started,
            time_to_first_token=ttft,
            finish_reason=reason,
            sampling=self.sampling,
            thinking=thinking,
            trace_cut_at=self.budget.cut_at if self.budget else None,
            token_stats=self.stats,
        )


class _Ending(enum.Enum):
    """How a batch run ended, for BatchFinished's flags."""

    COMPLETE = "complete"  # every sample finished
    STOPPED_EARLY = "stopped_early"  # should_stop said the rest cannot change the outcome
    CANCELLED = "cancelled"
    FAILED = "failed"  # llama_decode returned an error


@dataclass
class _BatchRun:
    """The state of one BatchSampler.run call: the samples in flight and those done."""

    prompt: Sequence[int]
    sampling: SamplingParams
    seeds: Sequence[int]
    n_vocab: int
    starts_in_trace: bool
    thinking: bool | None
    results: list[GenerationResult | None]
    max_in_flight: int
    make_budget: Callable[[], ThinkBudget | None] | None = None
    token_stats: bool = False
    # Every slot's chain draws here, not in n_vocab candidates of its own (candidates.py).
    candidates: CandidateBuffer = field(default_factory=CandidateBuffer)
    first_cut: int = field(init=False)  # every slot's chain's top_k_first (candidates.py)
    seqs: SequencePool = field(init=False)  # set once the context exists
    slots: dict[int, _Slot] = field(default_factory=dict)  # by sequence, in order
    next_index: int = 0  # the next sample to start
    tokens: int = 0  # completion tokens, all samples together
    error: str | None = None
    started: float = field(default_factory=time.perf_counter)

    def __post_init__(self) -> None:
        self.first_cut = top_k_first(self.sampling, self.n_vocab)

    @property
    def n_prompt(self) -> int:
        return len(self.prompt)

    def fill(self) -> None:
        """Start the next samples in the free slots, each from a copy of the shared prompt.

        The slots stay in sequence order, packed low once nothing is left to start, so
        each step is one llama.cpp micro-batch (sequences.py says why)."""
        while (
            self.seqs.has_free
            and len(self.slots) < self.max_in_flight
            and self.next_index < len(self.seeds)
        ):
            seq = self.seqs.take()
            seed = self.seeds[self.next_index]
            params = replace(self.sampling, seed=seed)
            self.slots[seq] = _Slot(
                seq,
                self.next_index,
                SamplerChain(params, seed, self.n_vocab, self.candidates),
                params,
                ReasoningSplitter(starts_in_trace=self.starts_in_trace),
                next_token=self.prompt[-1],
                pos=self.n_prompt - 1,
                budget=self.make_budget() if self.make_budget else None,
                stats=TokenStats() if self.token_stats else None,
            )
            self.next_index += 1
        while (
            self.next_index >= len(self.seeds)
            and self.slots
            and (hole := self.seqs.hole_below(max(self.slots))) is not None
        ):
            slot = self.slots.pop(max(self.slots))
            self.seqs.move(slot.seq_id, hole)
            slot.seq_id = hole
            self.slots[hole] = slot
        self.slots = dict(sorted(self.slots.items()))

    def retire(self, slot: _Slot, reason: FinishReason) -> GenerationResult:
        """Record the slot's finished sample and free its sequence for the next one."""
        result = slot.result(self.n_prompt, reason, self.thinking)
        self.results[slot.index] = result
        slot.chain.close()
        del self.slots[slot.seq_id]
        self.seqs.release(slot.seq_id)
        return result

    def drop_all(self) -> None:
        """Abandon the samples still in flight (they stay unfinished: None in results)."""
        for slot in self.slots.values():
            slot.chain.close()
        self.slots.clear()

    def progress(self, watched: int | None = None) -> BatchStep:
        finished = sum(r is not None for r in self.results)
        slot = next((s for s in self.slots.values() if s.index == watched), None)
        text = None
        if slot is not None:
            splitter = slot.splitter
            text = WatchedSample(slot.index, splitter.trace, splitter.answer, slot.tokens)
        return BatchStep(len(self.slots), finished, len(self.seeds), self.tokens, text)

    def finished(self, ending: _Ending) -> BatchFinished:
        return BatchFinished(
            self.results,
            stopped_early=ending is _Ending.STOPPED_EARLY,
            cancelled=ending is _Ending.CANCELLED,
            seconds=time.perf_counter() - self.started,
            tokens=self.tokens,
            error=self.error if ending is _Ending.FAILED else None,
            started=self.next_index,
        )


class BatchSampler:
    """Runs one consensus batch on an already loaded model (one worker thread only).

    Given the model's engine's ``contexts``, a batch replaces the engine's context
    instead of sitting beside it, and a small one stays open for the next batch of the
    same shape (contexts.py); without, each run makes its own context and frees it.
    """

    def __init__(
        self, model: LoadedModel, n_threads: int, contexts: ContextHolder | None = None
    ) -> None:
        self.model = model
        self.n_threads = n_threads
        self.contexts = contexts or ContextHolder(model)
        self._cancel = threading.Event()
        self._watched: int | None = None  # one reference, set from any thread

    def cancel(self) -> None:
        """Stop now, keeping every finished sample (callable from any thread)."""
        self._cancel.set()

    def sample_seeds(self, base_seed: int, n: int) -> list[int]:
        """One seed per sample (the ConsensusSampler protocol asks each sampler)."""
        return sample_seeds(base_seed, n)

    def watch(self, index: int | None) -> None:
        """Each BatchStep carries this sample's text while it decodes (any thread)."""
        self._watched = index

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
        """Decode ``len(seeds)`` samples; ``should_stop`` is asked after each one finishes.

        Samples start in index order, at most ``max_in_flight`` at once (default: every
        slot), so a stop skips the samples not yet started. token_stats: see token_stats.py.
        """
        self._cancel.clear()
        n_vocab = int(llama.llama_vocab_n_tokens(self.model.vocab))
        run = _BatchRun(
            prompt=prompt_tokens,
            sampling=sampling,
            seeds=seeds,
            n_vocab=n_vocab,
            starts_in_trace=starts_in_trace,
            thinking=thinking,
            results=[None] * len(seeds),
            max_in_flight=max(1, min(plan.parallel, max_in_flight or plan.parallel)),
            make_budget=make_budget,
            token_stats=token_stats,
        )
        ctx = self.contexts.open(context_spec(plan, self.n_threads))
        batch = llama.llama_batch_init(max(512, plan.parallel), 0, 1)
        abort = AbortSwitch(ctx, self._cancel.is_set)
        try:
            run.seqs = SequencePool(
                llama.llama_get_memory(ctx), plan.parallel, len(prompt_tokens), not plan.kv_unified
            )
            abort.set(True)
            if not self._decode_prompt(ctx, batch, prompt_tokens[:-1], 0):
                yield run.finished(_Ending.CANCELLED)
                return
            run.fill()
            while run.slots:
                ending = yield from self._step(ctx, batch, abort, run, should_stop)
                if ending is not None:
                    yield run.finished(ending)
                    return
                run.fill()
                yield run.progress(self._watched)
            yield run.finished(_Ending.COMPLETE)
        finally:
            abort.set(False)  # the context may outlive this run's callback
            run.drop_all()
            run.candidates.close()
            llama.llama_batch_free(batch)
            self.contexts.done(ctx)

    def _step(
        self,
        ctx: Any,
        batch: Any,
        abort: AbortSwitch,
        run: _BatchRun,
        should_stop: Callable[[], bool] | None,
    ) -> Generator[SampleFinished, None, _Ending | None]:
        """Decode one token of every sample in flight; how the run ended, if it did."""
        order = list(run.slots.values())
        self._load_batch(batch, order)
        step_started = time.perf_counter()
        rc = int(llama.llama_decode(ctx, batch))
        abort.set(time.perf_counter() - step_started > SLOW_BATCH_STEP_S)
        cancelled = rc == 2 or self._cancel.is_set()
        if rc != 0 or cancelled:
            run.drop_all()
            if cancelled:
                return _Ending.CANCELLED
            run.error = f"llama_decode returned {rc}"
            return _Ending.FAILED
        run.candidates.prepare(ctx, len(order), run.n_vocab, run.first_cut)
        rows = step_stats(ctx, len(order), run.n_vocab, run.sampling, on=run.token_stats)
        for i, slot in enumerate(order):
            reason = self._advance(ctx, slot, i, run, rows)
            if reason is None:
                continue
            yield SampleFinished(slot.index, run.retire(slot, reason))
            if should_stop is not None and should_stop():
                # Slots later in this step are dropped unfinished: the decision was made
                # on the samples finished so far.
                run.drop_all()
                return _Ending.STOPPED_EARLY
        return None

    def _decode_prompt(self, ctx: Any, batch: Any, tokens: Sequence[int], seq: int) -> bool:
        step = max(512, int(llama.llama_n_batch(ctx)))
        for start in range(0, len(tokens), step):
            chunk = tokens[start : start + step]
            for i, token in enumerate(chunk):
                self._put(batch, i, token, start + i, seq, False)
            batch.n_tokens = len(chunk)
            rc = int(llama.llama_decode(ctx, batch))
            if rc != 0 or self._cancel.is_set():
                if rc not in (0, 2):
                    raise LlamaError(f"llama.cpp could not evaluate the prompt (code {rc})")
                return False
        return True

    @staticmethod
    def _put(batch: Any, i: int, token: int, pos: int, seq: int, logits: bool) -> None:
        batch.token[i] = token
        batch.pos[i] = pos
        batch.n_seq_id[i] = 1
        batch.seq_id[i][0] = seq
        batch.logits[i] = logits

    def _load_batch(self, batch: Any, order: list[_Slot]) -> None:
        for i, slot in enumerate(order):
            self._put(batch, i, slot.next_token, slot.pos, slot.seq_id, True)
        batch.n_tokens = len(order)

    def _advance(
        self, ctx: Any, slot: _Slot, batch_index: int, run: _BatchRun, rows: StepStats | None
    ) -> FinishReason | None:
        """Sample the slot's next token; return a finish reason when its sample ends."""
        sample = lambda: slot.chain.sample(ctx, batch_index)  # noqa: E731
        token, forced = next_token(slot.budget, sample, slot.chain.accept)
        if self.model.is_eog(token):
            return FinishReason.STOP
        slot.tokens += 1
        run.tokens += 1
        if slot.first_token_at is None:
            slot.first_token_at = time.perf_counter()
        pieces = slot.splitter.feed(slot.decoder.decode(self.model.piece(token)))
        record_row(slot.stats, rows, batch_index, token, pieces, slot.splitter,
                   self.model.piece_text, forced)  # fmt: skip
        if slot.budget:
            slot.budget.observe(slot.splitter.channel)
        slot.next_token = token
        slot.pos += 1
        if slot.tokens >= slot.sampling.max_tokens:
            return FinishReason.LENGTH
        if slot.pos + 1 >= run.n_prompt + slot.sampling.max_tokens + 1:
            return FinishReason.CONTEXT_FULL
        return None
