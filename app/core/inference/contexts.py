"""The one llama.cpp context a model has open at a time, reused while its shape holds.

Creating a context costs more than it looks: llama.cpp allocates the KV cache and clears
it, and the first touch of each fresh page is a page fault. Measured on a 2-core x86-64
VM with SmolLM2-135M, a context of 2,048 cells (8 sequences of 256) took 40 ms to
create and 4 ms to free, 8,192 cells 140 ms: 1.6% of an 8-sample, 32-token consensus
run, paid again by every question of an audit, which asks each question in a batch
of the same shape.

So a model's engine and its consensus batches share one holder. Opening a context of
the shape already open empties it and hands it back; any other shape frees the open
one *first*, so a model never holds two KV caches at once (a batch's memory plan
counts only its own). When a batch is done, its context stays open for the next batch
if it is no larger than the engine's own, or if its KV cache is small
(SMALL_KV_BYTES): idle memory never exceeds the larger of what a model holds between
single answers and 512 MiB. Remaking a context costs about 0.6 ms per MiB of KV cache
(230 ms for the 360 MiB of 64 test-model samples of 256 cells, 1.5% of that run);
below 512 MiB that time is worth more than the memory on any machine that runs the
model. A 4B model's own context is larger than that anyway (144 KiB a cell for
Qwen3-4B), so there the rule is the engine's size.
"""

from __future__ import annotations

from typing import Any

import llama_cpp as llama

from app.core.inference.backend import ContextSpec, LoadedModel, free_context, new_context
from app.core.models.gguf import GGUFInfo

KV_BYTES_PER_ELEMENT = 2  # llama.cpp's default K and V cache type is f16
SMALL_KV_BYTES = 512 * 1024**2  # a context whose KV cache is no larger may idle


def kv_bytes_per_token(info: GGUFInfo) -> int:
    """K and V for every layer, from the model's own hyper-parameters: one cell's bytes."""
    meta = info.metadata
    arch = info.architecture or ""

    def number(key: str, default: int) -> int:
        value = meta.get(f"{arch}.{key}", default)
        return int(value) if isinstance(value, int | float) else default

    layers = number("block_count", 32)
    heads = max(1, number("attention.head_count", 32))
    kv_heads = number("attention.head_count_kv", heads)
    head_dim = number("attention.key_length", number("embedding_length", 4096) // heads)
    value_dim = number("attention.value_length", head_dim)
    return layers * kv_heads * (head_dim + value_dim) * KV_BYTES_PER_ELEMENT


class ContextHolder:
    """At most one open context of one model, kept for the next use of the same shape.

    Not thread-safe: it belongs to the model's one worker thread.
    """

    def __init__(
        self, model: LoadedModel, idle_cells: int = 0, cell_bytes: int | None = None
    ) -> None:
        self.model = model
        self.idle_cells = idle_cells  # a context no larger stays open when idle
        # One cell's KV bytes, for the small-cache rule; None: the cell count alone rules.
        self.cell_bytes = cell_bytes
        self._ctx: Any = None
        self._spec: ContextSpec | None = None

    @property
    def spec(self) -> ContextSpec | None:
        """The shape of the open context, if one is open (set and cleared with it)."""
        return self._spec

    def open(self, spec: ContextSpec) -> Any:
        """An empty context of this shape: the open one when it fits, else a new one.

        Raises LlamaError (after freeing the old context) when llama.cpp cannot make it.
        """
        if self._ctx and self._spec == spec:
            # Metadata only: the cells become free. Their old values are finite numbers
            # that the attention mask hides, so clearing them too would only cost time.
            llama.llama_memory_clear(llama.llama_get_memory(self._ctx), False)
            return self._ctx
        self.release()
        self._ctx = new_context(self.model, spec)
        self._spec = spec
        return self._ctx

    def done(self, ctx: Any) -> None:
        """A user of ``ctx`` has finished: keep it open if it is small enough to idle."""
        if ctx is self._ctx and self._spec is not None and not self.keeps(self._spec):
            self.release()

    def keeps(self, spec: ContextSpec) -> bool:
        """Whether a context of this shape stays open when its user is done."""
        if spec.n_ctx <= self.idle_cells:
            return True
        return self.cell_bytes is not None and spec.n_ctx * self.cell_bytes <= SMALL_KV_BYTES

    def release(self) -> None:
        """Free the open context, KV cache included."""
        free_context(self._ctx)
        self._ctx = None
        self._spec = None
