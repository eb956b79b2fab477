"""A thin, typed layer over llama-cpp-python's low-level API.

Quorum drives llama.cpp directly rather than through ``llama_cpp.Llama`` because it
needs what the high-level class does not offer: an abort callback for long prompt
evaluation, several sequences decoded together for consensus, and one sampler chain
per sequence. Nothing here is thread-safe: one model and its contexts belong to one
worker thread.
"""

from __future__ import annotations

import codecs
import collections
import ctypes
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import llama_cpp as llama

from app.core.inference.candidates import CandidateBuffer, top_k_first
from app.core.inference.sampling import SamplingParams

log = logging.getLogger("llama.cpp")

_init_lock = threading.Lock()
_initialised = False

# ggml_log_level: NONE 0, DEBUG 1, INFO 2, WARN 3, ERROR 4, CONT 5 (continues the last line)
_LEVELS = {1: logging.DEBUG, 2: logging.INFO, 3: logging.WARNING, 4: logging.ERROR}
_last_level = logging.DEBUG
# llama.cpp's own words for its latest failures, so an error shown to a user can say
# why without asking them to dig through a log.
_recent_errors: collections.deque[str] = collections.deque(maxlen=4)


@llama.llama_log_callback
def _route_log(level: int, text: bytes, _user_data: ctypes.c_void_p) -> None:
    # llama.cpp writes straight to stderr by default; route it into Python logging
    # so the CLI and the GUI decide what a user sees.
    global _last_level
    lvl = _last_level if level == 5 else _LEVELS.get(level, logging.DEBUG)
    _last_level = lvl
    if lvl >= logging.ERROR:
        _recent_errors.append(text.decode("utf-8", errors="replace").strip())
    if log.isEnabledFor(lvl):
        message = text.decode("utf-8", errors="replace").rstrip("\n")
        if message:
            log.log(lvl, "%s", message)


def _latest_reason() -> str:
    # llama.cpp logs the cause first and a generic "failed to load model" after it;
    # each line starts with the C function's name, which means nothing to a user.
    reason = next((line for line in _recent_errors if line), "")
    _recent_errors.clear()
    reason = re.sub(r"^(\w+: )+", "", reason)
    return f": {reason}" if reason else " (see the log for why)"


def ensure_backend() -> None:
    """Initialise llama.cpp once per process and take over its log."""
    global _initialised
    with _init_lock:
        if not _initialised:
            llama.llama_log_set(_route_log, ctypes.c_void_p(0))
            llama.llama_backend_init()
            _initialised = True


def system_info() -> str:
    ensure_backend()
    return bytes(llama.llama_print_system_info()).decode("utf-8", errors="replace")


def library_version() -> str:
    return str(getattr(llama, "__version__", "unknown"))


class LlamaError(RuntimeError):
    """llama.cpp refused to do something; the message is meant for a user."""


def _set_param(params: Any, name: str, value: object) -> None:
    # Setting a field a ctypes struct lacks silently makes a Python attribute instead
    # (0.3.36 has no use_mmap, for one): refuse to pretend a setting took effect.
    if name not in {field[0] for field in type(params)._fields_}:
        if value == getattr(params, name, value):
            return
        raise LlamaError(f"this llama.cpp build has no {name} setting; update llama-cpp-python")
    setattr(params, name, value)


class LoadedModel:
    """One llama.cpp model in memory, with its vocabulary helpers."""

    def __init__(
        self, path: str | Path, n_gpu_layers: int = 0, *, use_extra_bufts: bool = True
    ) -> None:
        ensure_backend()
        params = llama.llama_model_default_params()
        params.n_gpu_layers = n_gpu_layers
        # Repacked weights ("extra buffer types") feed the CPU's fastest kernels; the
        # CPU probe turns them off where those kernels crash (app.core.inference.cpu_probe).
        _set_param(params, "use_extra_bufts", use_extra_bufts)
        path = Path(path)
        self.path = path
        _recent_errors.clear()
        self._model = llama.llama_model_load_from_file(str(path).encode("utf-8"), params)
        if not self._model:
            raise LlamaError(f"llama.cpp could not load {path.name}{_latest_reason()}")
        self.vocab = llama.llama_model_get_vocab(self._model)
        self.n_ctx_train = int(llama.llama_model_n_ctx_train(self._model))
        self.size_bytes = int(llama.llama_model_size(self._model))
        self.n_params = int(llama.llama_model_n_params(self._model))
        self.bos = int(llama.llama_vocab_bos(self.vocab))
        self._piece_buf = ctypes.create_string_buffer(256)

    @property
    def handle(self) -> Any:
        if not self._model:
            raise LlamaError("the model has been closed")
        return self._model

    def tokenize(self, text: str, *, add_special: bool = True) -> list[int]:
        data = text.encode("utf-8")
        capacity = len(data) + 16
        for _ in range(2):
            buf = (llama.llama_token * capacity)()
            n = llama.llama_tokenize(self.vocab, data, len(data), buf, capacity, add_special, True)
            if n >= 0:
                tokens = list(buf[:n])
                # Templates often write the BOS text themselves; avoid a doubled BOS.
                if len(tokens) >= 2 and tokens[0] == tokens[1] == self.bos:
                    tokens = tokens[1:]
                return tokens
            capacity = -n
        raise LlamaError("tokenizer failed")

    def piece(self, token: int) -> bytes:
        n = llama.llama_token_to_piece(self.vocab, token, self._piece_buf, 256, 0, False)
        if n < 0:  # piece longer than the buffer
            buf = ctypes.create_string_buffer(-n)
            n = llama.llama_token_to_piece(self.vocab, token, buf, -n, 0, False)
            return buf.raw[:n]
        return self._piece_buf.raw[:n]

    def piece_text(self, token: int) -> str:
        """The token's text; a piece that is part of a character shows U+FFFD."""
        return self.piece(token).decode("utf-8", "replace")

    def is_eog(self, token: int) -> bool:
        return bool(llama.llama_vocab_is_eog(self.vocab, token))

    def close(self) -> None:
        if self._model:
            llama.llama_model_free(self._model)
            self._model = None


@dataclass(frozen=True)
class ContextSpec:
    """The size and shape of one llama.cpp context: tokens, batch, threads, sequences."""

    n_ctx: int
    n_batch: int
    n_threads: int
    n_seq_max: int = 1
    kv_unified: bool = True
    # None lets llama.cpp decide ("auto", which turns it on for the CPU too).
    flash_attention: bool | None = None
    # Most logits rows one decode returns; 0: n_batch (llama.cpp's default). The compute
    # buffer holds this many rows of n_vocab floats, so a context that never asks for
    # more rows than it has sequences says so (a 150k vocabulary: 0.6 MB a row).
    n_outputs_max: int = 0


def cpu_flash_attention(n_gpu_layers: int) -> bool | None:
    """Flash attention off when the model runs on the CPU alone, else llama.cpp's choice.

    Measured on a 2-core x86-64 (SmolLM2-135M, 256 tokens, no repacking): llama.cpp's
    "auto" turns it on for the CPU and single-stream decoding ran 0.83x of the same
    model through llama-cpp-python's Llama, which turns it off; with it off the engine
    matched Llama again. On a GPU flash attention is the faster kernel, so it is left
    to llama.cpp there.
    """
    return False if n_gpu_layers == 0 else None


def new_context(model: LoadedModel, spec: ContextSpec) -> Any:
    params = llama.llama_context_default_params()
    params.n_ctx = spec.n_ctx
    params.n_batch = spec.n_batch
    params.n_ubatch = min(spec.n_batch, 512)
    params.n_seq_max = spec.n_seq_max
    params.n_threads = spec.n_threads
    params.n_threads_batch = spec.n_threads
    params.kv_unified = spec.kv_unified
    if spec.n_outputs_max:
        _set_param(params, "n_outputs_max", spec.n_outputs_max)
    if spec.flash_attention is not None:
        params.flash_attn_type = (
            llama.LLAMA_FLASH_ATTN_TYPE_ENABLED
            if spec.flash_attention
            else llama.LLAMA_FLASH_ATTN_TYPE_DISABLED
        )
    params.no_perf = True
    _recent_errors.clear()
    ctx = llama.llama_init_from_model(model.handle, params)
    if not ctx:
        advice = (
            "try fewer samples or fewer max tokens"
            if spec.n_seq_max > 1
            else "try a smaller context size"
        )
        raise LlamaError(
            f"llama.cpp could not create a context of {spec.n_ctx} tokens "
            f"for {spec.n_seq_max} sequence(s){_latest_reason()}; {advice}"
        )
    return ctx


def free_context(ctx: Any) -> None:
    if ctx:
        llama.llama_free(ctx)


class AbortSwitch:
    """Lets llama_decode stop mid-computation when a cancel flag is set.

    llama.cpp calls the callback between graph nodes, from the decoding thread. That
    costs a Python call per node, so callers switch it on only where a single decode
    may run long (prompt evaluation, slow models) and otherwise check the flag
    between tokens.
    """

    def __init__(self, ctx: Any, should_abort: Callable[[], bool]) -> None:
        self._ctx = ctx
        self._callback = llama.ggml_abort_callback(lambda _data: bool(should_abort()))
        self._null = llama.ggml_abort_callback()
        # A context reused from an earlier run may still point at that run's callback,
        # which Python has freed since: start from none.
        llama.llama_set_abort_callback(ctx, self._null, None)
        self.active = False

    def set(self, active: bool) -> None:
        if active != self.active:
            callback = self._callback if active else self._null
            llama.llama_set_abort_callback(self._ctx, callback, None)
            self.active = active


class SamplerChain:
    """top-k -> top-p -> min-p -> temperature -> seeded draw, with penalties first.

    With ``candidates`` the chain draws in that shared buffer instead of keeping its own
    n_vocab candidates (llama_sampler_sample's), as one slot of a large batch should.
    """

    def __init__(
        self,
        params: SamplingParams,
        seed: int,
        n_vocab: int,
        candidates: CandidateBuffer | None = None,
    ) -> None:
        self._candidates = candidates
        self._first_cut = top_k_first(params, n_vocab)  # which prepared steps fit it
        self._chain = llama.llama_sampler_chain_init(llama.llama_sampler_chain_default_params())
        add = lambda sampler: llama.llama_sampler_chain_add(self._chain, sampler)  # noqa: E731
        if params.penalised:
            add(
                llama.llama_sampler_init_penalties(
                    n_vocab, 64, params.repeat_penalty, 0.0, params.presence_penalty
                )
            )
        if params.deterministic:
            add(llama.llama_sampler_init_greedy())
            return
        if params.top_k > 0:
            add(llama.llama_sampler_init_top_k(params.top_k))
        add(llama.llama_sampler_init_top_p(params.top_p, 1))
        if params.min_p > 0:
            add(llama.llama_sampler_init_min_p(params.min_p, 1))
        add(llama.llama_sampler_init_temp(params.temperature))
        add(llama.llama_sampler_init_dist(seed))

    def sample(self, ctx: Any, index: int) -> int:
        """Draw the next token from the logits at batch position ``index`` (and accept it)."""
        if self._candidates is not None:
            return self._candidates.draw(self._chain, ctx, index, self._first_cut)
        return int(llama.llama_sampler_sample(self._chain, ctx, index))

    def accept(self, token: int) -> None:
        """Tell the chain about a token written without sampling (a forced closing tag),
        so repetition penalties count it."""
        llama.llama_sampler_accept(self._chain, token)

    def close(self) -> None:
        if self._chain:
            llama.llama_sampler_free(self._chain)
            self._chain = None


def utf8_decoder() -> codecs.IncrementalDecoder:
    """Token pieces can split a UTF-8 character; emit only complete characters."""
    return codecs.getincrementaldecoder("utf-8")(errors="replace")
