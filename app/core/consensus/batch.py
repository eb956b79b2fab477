"""N samples of one question decoded together in one llama.cpp context.

The prompt is evaluated once into a *holder* sequence and shared with every slot
through the KV cache (``llama_memory_seq_cp``). Each slot has its own sampler chain
and seed. A slot whose sample ends is cleared and refilled with the next sample, so
N may exceed the number of slots (llama.cpp's parallel-sequence cap, or the memory
budget) without waiting for a whole wave to finish.

Every sample starts by decoding the prompt's *last* token in its own slot. That costs
one token per sample and buys a simple invariant: a slot always samples from its own
logits, whether it started at the beginning or was refilled halfway through.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import llama_cpp as llama

from app.core.answers.extract import extract_answer
from app.core.consensus.memory_plan import ConsensusPlan
from app.core.inference.backend import (
    AbortSwitch,
    ContextSpec,
    LlamaError,
    LoadedModel,
    SamplerChain,
    free_context,
    new_context,
    utf8_decoder,
)
from app.core.inference.engine import SLOW_STEP_S, FinishReason, GenerationResult
from app.core.inference.reasoning import ReasoningSplitter
from app.core.inference.sampling import SamplingParams


def sample_seeds(base_seed: int, n: int) -> list[int]:
    """One distinct, reproducible seed per sample."""
    return [(base_seed + i * 7919) % 2**31 for i in range(n)]


@dataclass(frozen=True)
class BatchStep:
    """Progress after one decode step."""

    active: int
    finished: int
    total: int
    tokens: int  # completion tokens generated so far, all samples together


@dataclass(frozen=True)
class SampleFinished:
    index: int
    result: GenerationResult


@dataclass(frozen=True)
class BatchFinished:
    results: list[GenerationResult | None]  # by sample index; None: never finished
    stopped_early: bool
    cancelled: bool
    seconds: float
    tokens: int
    error: str | None = None


BatchEvent = BatchStep | SampleFinished | BatchFinished


@dataclass
class _Slot:
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

    def result(
        self, prompt_tokens: int, reason: FinishReason, thinking: bool | None
    ) -> GenerationResult:
        self.splitter.feed(self.decoder.decode(b"", final=True))
        self.splitter.finish()
        ttft = self.first_token_at - self.started if self.first_token_at else None
        return GenerationResult(
            trace=self.splitter.trace,
            answer=self.splitter.answer,
            extracted=extract_answer(self.splitter.answer),
            prompt_tokens=prompt_tokens,
            completion_tokens=self.tokens,
            seconds=time.perf_counter() - self.started,
            time_to_first_token=ttft,
            finish_reason=reason,
            sampling=self.sampling,
            thinking=thinking,
        )


class BatchSampler:
    """Runs one consensus batch on an already loaded model (one worker thread only)."""

    def __init__(self, model: LoadedModel, n_threads: int) -> None:
        self.model = model
        self.n_threads = n_threads
        self._cancel = threading.Event()

    def cancel(self) -> None:
        """Stop now, keeping every finished sample (callable from any thread)."""
        self._cancel.set()

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
    ) -> Iterator[BatchEvent]:
        """Decode ``len(seeds)`` samples; ``should_stop`` is asked after each one finishes."""
        self._cancel.clear()
        started = time.perf_counter()
        total = len(seeds)
        holder = plan.parallel  # the sequence that keeps the shared prompt
        ctx = new_context(
            self.model,
            ContextSpec(
                n_ctx=plan.n_ctx,
                n_batch=max(512, plan.parallel),
                n_threads=self.n_threads,
                n_seq_max=plan.parallel + 1,
                kv_unified=plan.kv_unified,
            ),
        )
        batch = llama.llama_batch_init(max(512, plan.parallel), 0, 1)
        abort = AbortSwitch(ctx, self._cancel.is_set)
        results: list[GenerationResult | None] = [None] * total
        slots: dict[int, _Slot] = {}
        n_vocab = int(llama.llama_vocab_n_tokens(self.model.vocab))
        n_prompt = len(prompt_tokens)
        stopped_early = False
        tokens_total = 0
        try:
            memory = llama.llama_get_memory(ctx)
            abort.set(True)
            if not self._decode_prompt(ctx, batch, prompt_tokens[:-1], holder):
                yield self._finished(results, False, True, started, 0)
                return
            next_index = 0
            free_seqs = list(range(plan.parallel - 1, -1, -1))

            def fill() -> None:
                nonlocal next_index
                while free_seqs and next_index < total:
                    seq = free_seqs.pop()
                    if n_prompt > 1:
                        llama.llama_memory_seq_cp(memory, holder, seq, -1, -1)
                    params = replace(sampling, seed=seeds[next_index])
                    slots[seq] = _Slot(
                        seq,
                        next_index,
                        SamplerChain(params, seeds[next_index], n_vocab),
                        params,
                        ReasoningSplitter(starts_in_trace=starts_in_trace),
                        next_token=prompt_tokens[-1],
                        pos=n_prompt - 1,
                    )
                    next_index += 1

            fill()
            while slots:
                order = list(slots.values())
                self._load_batch(batch, order)
                step_started = time.perf_counter()
                rc = int(llama.llama_decode(ctx, batch))
                abort.set(time.perf_counter() - step_started > SLOW_STEP_S)
                if rc != 0 or self._cancel.is_set():
                    stop_reason = (
                        FinishReason.CANCELLED
                        if rc == 2 or self._cancel.is_set()
                        else FinishReason.ERROR
                    )
                    for slot in order:
                        slot.chain.close()
                    slots.clear()
                    yield self._finished(
                        results,
                        False,
                        stop_reason == FinishReason.CANCELLED,
                        started,
                        tokens_total,
                        error=None
                        if stop_reason == FinishReason.CANCELLED
                        else f"llama_decode returned {rc}",
                    )
                    return
                for i, slot in enumerate(order):
                    before = slot.tokens
                    reason = self._advance(ctx, slot, i, n_prompt)
                    tokens_total += slot.tokens - before
                    if reason is None:
                        continue
                    result = slot.result(n_prompt, reason, thinking)
                    results[slot.index] = result
                    slot.chain.close()
                    del slots[slot.seq_id]
                    llama.llama_memory_seq_rm(memory, slot.seq_id, -1, -1)
                    free_seqs.append(slot.seq_id)
                    yield SampleFinished(slot.index, result)
                    if should_stop is not None and should_stop():
                        # Slots later in this step are dropped unfinished: the decision
                        # was made on the samples finished so far.
                        stopped_early = True
                        break
                if stopped_early:
                    for slot in slots.values():
                        slot.chain.close()
                    slots.clear()
                    break
                fill()
                yield BatchStep(
                    len(slots), sum(r is not None for r in results), total, tokens_total
                )
            yield self._finished(results, stopped_early, False, started, tokens_total)
        finally:
            for slot in slots.values():
                slot.chain.close()
            llama.llama_batch_free(batch)
            free_context(ctx)

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
        self, ctx: Any, slot: _Slot, batch_index: int, n_prompt: int
    ) -> FinishReason | None:
        """Sample the slot's next token; return a finish reason when its sample ends."""
        token = slot.chain.sample(ctx, batch_index)
        if self.model.is_eog(token):
            return FinishReason.STOP
        slot.tokens += 1
        if slot.first_token_at is None:
            slot.first_token_at = time.perf_counter()
        slot.splitter.feed(slot.decoder.decode(self.model.piece(token)))
        slot.next_token = token
        slot.pos += 1
        if slot.tokens >= slot.sampling.max_tokens:
            return FinishReason.LENGTH
        if slot.pos + 1 >= n_prompt + slot.sampling.max_tokens + 1:
            return FinishReason.CONTEXT_FULL
        return None

    @staticmethod
    def _finished(
        results: list[GenerationResult | None],
        early: bool,
        cancelled: bool,
        started: float,
        tokens: int,
        error: str | None = None,
    ) -> BatchFinished:
        return BatchFinished(
            results, early, cancelled, time.perf_counter() - started, tokens, error
        )
