"""One llama.cpp model answering one question at a time, as a stream of events.

``Engine.generate`` is a plain generator: the CLI iterates it directly, the GUI wraps
it in one worker thread. ``Engine.cancel`` is the only method meant to be called
from another thread; it stops a run within one decode step, including a long
prompt evaluation, and leaves the engine ready for the next question.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import llama_cpp as llama

from app.core.answers.extract import ExtractedAnswer, extract_answer
from app.core.inference.backend import (
    AbortSwitch,
    ContextSpec,
    LlamaError,
    LoadedModel,
    SamplerChain,
    cpu_flash_attention,
    utf8_decoder,
)
from app.core.inference.chat_template import render_chat, supports_thinking_toggle
from app.core.inference.contexts import ContextHolder, kv_bytes_per_token
from app.core.inference.cpu_probe import ProbeError, ProbeVerdict, choose_config
from app.core.inference.reasoning import Channel, ReasoningSplitter, template_opens_trace
from app.core.inference.sampling import MIN_CTX, RuntimeParams, SamplingParams, default_sampling
from app.core.inference.think_budget import ThinkBudget, check_budget, closing_text, next_token
from app.core.inference.token_stats import TokenStats, logits_view, row_stats
from app.core.models.gguf import GGUFError, GGUFInfo, read_gguf_info


class FinishReason(enum.StrEnum):
    """Why a generation ended, as recorded in history and printed by the CLI (the values
    are the stored and JSON text, so they never change)."""

    STOP = "stop"  # the model ended its answer
    LENGTH = "length"  # max tokens reached
    CONTEXT_FULL = "context_full"  # generation filled the context window
    PROMPT_TOO_LONG = "prompt_too_long"  # the question does not fit the context window
    CANCELLED = "cancelled"
    ERROR = "error"


# A decode step slower than this gets the abort callback, so cancel stays prompt
# even on big models; faster steps are cancelled between tokens at no cost.
SLOW_STEP_S = 0.1

Message = dict[str, str]


class ModelLoadError(RuntimeError):
    """The file could not be used as a model; the message is meant for a user."""


@dataclass(frozen=True)
class PromptEvaluated:
    """The prompt is in the KV cache: how many tokens, and the seconds it took."""

    prompt_tokens: int
    seconds: float


@dataclass(frozen=True)
class TextChunk:
    """New text for one pane (trace or answer), and the completion tokens so far."""

    channel: Channel
    text: str
    completion_tokens: int


@dataclass(frozen=True)
class GenerationResult:
    """One finished sample: its text split in two, its answer, counts, timing and why it ended."""

    trace: str
    answer: str
    extracted: ExtractedAnswer | None
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    time_to_first_token: float | None
    finish_reason: FinishReason
    sampling: SamplingParams
    thinking: bool | None
    error: str | None = None
    token_stats: TokenStats | None = None  # asked for with generate(token_stats=True)
    trace_cut_at: int | None = None  # trace tokens when a thinking budget closed the trace

    @property
    def seed(self) -> int:
        return seed_of(self.sampling)

    @property
    def tokens_per_second(self) -> float:
        return self.completion_tokens / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class Finished:
    """The last event of every generate() call, whatever the ending."""

    result: GenerationResult


EngineEvent = PromptEvaluated | TextChunk | Finished


@dataclass
class _Run:
    """Mutable bookkeeping of one generate() call."""

    sampling: SamplingParams
    thinking: bool | None
    started: float = field(default_factory=time.perf_counter)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    first_token_at: float | None = None
    token_stats: TokenStats | None = None
    budget: ThinkBudget | None = None

    def result(
        self, splitter: ReasoningSplitter, reason: FinishReason, error: str | None = None
    ) -> GenerationResult:
        ttft = self.first_token_at - self.started if self.first_token_at else None
        answer = splitter.answer
        return GenerationResult(
            trace=splitter.trace,
            answer=answer,
            extracted=extract_answer(answer, complete=reason == FinishReason.STOP),
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            seconds=time.perf_counter() - self.started,
            time_to_first_token=ttft,
            finish_reason=reason,
            sampling=self.sampling,
            thinking=self.thinking,
            error=error,
            token_stats=self.token_stats,
            trace_cut_at=self.budget.cut_at if self.budget else None,
        )


def seed_of(params: SamplingParams) -> int:
    if params.seed is None:
        raise ValueError("sampling parameters have no seed yet")
    return params.seed


def load_model_file(
    path: str | Path, n_gpu_layers: int = 0
) -> tuple[GGUFInfo, LoadedModel, ProbeVerdict]:
    """Validate a GGUF file ourselves, try it in a child process, then load it here."""
    try:
        info = read_gguf_info(path)
    except GGUFError as exc:
        raise ModelLoadError(str(exc)) from exc
    try:
        verdict = choose_config(path)
    except ProbeError as exc:
        raise ModelLoadError(str(exc)) from exc
    try:
        model = LoadedModel(path, n_gpu_layers, use_extra_bufts=verdict.config.use_extra_bufts)
    except LlamaError as exc:
        raise ModelLoadError(str(exc)) from exc
    return info, model, verdict


class Engine:
    """One model loaded in llama.cpp, answering one question at a time as a stream of events.

    Build it (the GGUF is checked, then tried in a probe child), call ``generate`` from one
    thread, ``cancel`` from any; ``close`` frees the model.
    """

    def __init__(self, model_path: str | Path, runtime: RuntimeParams | None = None) -> None:
        self.runtime = runtime or RuntimeParams()
        self.info, self.model, self.llama_config = load_model_file(
            model_path, self.runtime.n_gpu_layers
        )
        train_ctx = self.model.n_ctx_train or self.runtime.n_ctx
        self.n_ctx = max(MIN_CTX, min(self.runtime.n_ctx, train_ctx))
        self._spec = ContextSpec(
            n_ctx=self.n_ctx,
            n_batch=self.runtime.n_batch,
            n_threads=self.runtime.n_threads,
            flash_attention=cpu_flash_attention(self.runtime.n_gpu_layers),
        )
        self._cancel = threading.Event()
        # Shared with this model's consensus batches (contexts.py): one KV cache at a time.
        self.contexts = ContextHolder(
            self.model, idle_cells=self.n_ctx, cell_bytes=kv_bytes_per_token(self.info)
        )
        self._ctx: Any = None
        try:
            self._open_context()
        except LlamaError as exc:
            self.model.close()
            raise ModelLoadError(str(exc)) from exc
        self.supports_thinking = supports_thinking_toggle(self.info.chat_template)

    @property
    def path(self) -> Path:
        return self.model.path

    def default_sampling(self, thinking: bool | None = None) -> SamplingParams:
        return default_sampling(
            self.info.architecture, self.info.chat_template, self.info.sampling_defaults, thinking
        )

    def render_prompt(self, messages: Sequence[Message], thinking: bool | None) -> str:
        toggle = thinking if self.supports_thinking else None
        eos = self.info.metadata.get("tokenizer.ggml.eos_token_id")
        bos_text = self.model.piece(self.model.bos).decode("utf-8", "replace")
        eos_text = self.model.piece(int(eos)).decode("utf-8", "replace") if eos is not None else ""
        return render_chat(
            self.info.chat_template,
            messages,
            enable_thinking=toggle,
            bos_token=bos_text,
            eos_token=eos_text,
        ).text

    def think_budget(self, budget: int | None, starts_in_trace: bool) -> ThinkBudget | None:
        """A fresh budget for one sample; None when thinking is unlimited."""
        if check_budget(budget) is None:
            return None
        close = self.model.tokenize(closing_text(self.info.chat_template), add_special=False)
        return ThinkBudget(budget or 0, close, starts_in_trace=starts_in_trace)

    def _open_context(self) -> None:
        # Empty, and new if a consensus batch has replaced it since the last answer.
        ctx = self.contexts.open(self._spec)
        if ctx is not self._ctx:
            self._ctx = ctx
            self._abort = AbortSwitch(ctx, self._cancel.is_set)

    def release_context(self) -> None:
        """Free the model's open context, KV cache included, until the next answer opens
        it again (90 MiB for the test model's 4096 tokens, 576 MiB for a 4B model's)."""
        self.contexts.release()
        self._ctx = None

    def cancel(self) -> None:
        """Stop the run in progress (callable from any thread)."""
        self._cancel.set()

    def generate(
        self,
        messages: Sequence[Message],
        sampling: SamplingParams | None = None,
        thinking: bool | None = None,
        think_budget: int | None = None,
        *,
        token_stats: bool = False,
    ) -> Iterator[EngineEvent]:
        """Stream one answer. Always ends with exactly one ``Finished`` event.

        think_budget: close the trace after this many trace tokens (0: no thinking;
        None: unlimited); see app.core.inference.think_budget.
        token_stats: also record each token's confidence (app.core.inference.token_stats)
        from the logits already computed; off, the loop does no extra work at all."""
        self._cancel.clear()
        params = (sampling or self.default_sampling(thinking)).with_seed().validated()
        run = _Run(params, thinking if self.supports_thinking else None)
        run.token_stats = TokenStats() if token_stats else None
        prompt = self.render_prompt(messages, thinking)
        opens_trace = template_opens_trace(prompt)
        splitter = ReasoningSplitter(starts_in_trace=opens_trace)
        run.budget = self.think_budget(think_budget, opens_trace)
        tokens = self.model.tokenize(prompt)
        run.prompt_tokens = len(tokens)
        if len(tokens) >= self.n_ctx:
            yield Finished(
                run.result(
                    splitter,
                    FinishReason.PROMPT_TOO_LONG,
                    (
                        f"The conversation is {len(tokens)} tokens but the context holds "
                        f"{self.n_ctx}; "
                        "shorten it, start a new conversation, or raise the context size."
                    ),
                )
            )
            return
        try:
            self._open_context()
        except LlamaError as exc:
            yield Finished(run.result(splitter, FinishReason.ERROR, str(exc)))
            return
        reason = self._evaluate_prompt(tokens)
        if reason is not None:
            yield Finished(run.result(splitter, reason, self._error_text(reason)))
            return
        yield PromptEvaluated(len(tokens), time.perf_counter() - run.started)
        yield from self._sample_loop(run, splitter, len(tokens))

    def _evaluate_prompt(self, tokens: list[int]) -> FinishReason | None:
        self._abort.set(True)
        step = self.runtime.n_batch
        for start in range(0, len(tokens), step):
            chunk = tokens[start : start + step]
            rc = self._decode(chunk)
            if self._cancel.is_set() or rc == 2:
                return FinishReason.CANCELLED
            if rc != 0:
                return FinishReason.ERROR
        return None

    def _decode(self, tokens: list[int]) -> int:
        array = (llama.llama_token * len(tokens))(*tokens)
        return int(llama.llama_decode(self._ctx, llama.llama_batch_get_one(array, len(tokens))))

    def _sample_loop(
        self, run: _Run, splitter: ReasoningSplitter, n_past: int
    ) -> Iterator[EngineEvent]:
        n_vocab = self._n_vocab()
        chain = SamplerChain(run.sampling, seed_of(run.sampling), n_vocab)
        stats = run.token_stats
        decoder = utf8_decoder()
        one = (llama.llama_token * 1)()
        batch = llama.llama_batch_get_one(one, 1)
        reason = FinishReason.STOP
        try:
            while True:
                if self._cancel.is_set():
                    reason = FinishReason.CANCELLED
                    break
                sample = lambda: chain.sample(self._ctx, -1)  # noqa: E731
                token, forced = next_token(run.budget, sample, chain.accept)
                if self.model.is_eog(token):
                    break
                run.completion_tokens += 1
                if run.first_token_at is None:
                    run.first_token_at = time.perf_counter()
                pieces = splitter.feed(decoder.decode(self.model.piece(token)))
                if stats is not None:  # read before the next decode reuses the buffer
                    logits = logits_view(llama.llama_get_logits_ith(self._ctx, -1), 1, n_vocab)
                    row = row_stats(logits[0], token, run.sampling)
                    stats.record(token, pieces, splitter, row, self.model.piece_text,
                                 forced=forced)  # fmt: skip
                for channel, text in pieces:
                    yield TextChunk(channel, text, run.completion_tokens)
                if run.budget:
                    run.budget.observe(splitter.channel)
                if run.completion_tokens >= run.sampling.max_tokens:
                    reason = FinishReason.LENGTH
                    break
                if n_past >= self.n_ctx:
                    reason = FinishReason.CONTEXT_FULL
                    break
                one[0] = token
                step_started = time.perf_counter()
                rc = int(llama.llama_decode(self._ctx, batch))
                n_past += 1
                if rc != 0:
                    reason = (
                        FinishReason.CANCELLED
                        if rc == 2 or self._cancel.is_set()
                        else FinishReason.ERROR
                    )
                    break
                self._abort.set(time.perf_counter() - step_started > SLOW_STEP_S)
        finally:
            chain.close()
        for channel, text in splitter.feed(decoder.decode(b"", final=True)) + splitter.finish():
            yield TextChunk(channel, text, run.completion_tokens)
        yield Finished(run.result(splitter, reason, self._error_text(reason)))

    def _n_vocab(self) -> int:
        return int(llama.llama_vocab_n_tokens(self.model.vocab))

    def _error_text(self, reason: FinishReason) -> str | None:
        if reason == FinishReason.ERROR:
            return "llama.cpp failed while decoding; see the log for details"
        return None

    def close(self) -> None:
        self.release_context()
        self.model.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
