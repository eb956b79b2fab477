"""Which sequences of a batch context hold what: the shared prompt, a sample, or nothing.

A batch context has one llama.cpp sequence per slot. The prompt is evaluated into
sequence 0 and shared into the others (``llama_memory_seq_cp``) the first time each is
used; a slot whose sample ends is cut back to the prompt and can take the next one.

Where a sample goes matters for speed. With split KV caches (one stream per sequence,
the faster layout on a CPU) llama.cpp cuts each batch into micro-batches of
*consecutive, increasing* sequence ids (``llama_batch_allocr::split_equal``, sequential),
and each micro-batch is a graph computation of its own: one more pass over all the
weights. Measured on SmolLM2-135M with 32 slots, the same 32 tokens listed in
decreasing sequence order decoded 2.5x slower than in increasing order, and a 512-sample
run through 256 slots refilled them in decreasing order. So a sample takes the lowest
free sequence, the caller lists its slots in sequence order, and once no sample is left
to start, the sample in the highest sequence moves down into a hole an ended one left:
one stream copy, once, instead of an extra pass over the weights every step after.
"""

from __future__ import annotations

import heapq
from typing import Any

import llama_cpp as llama

from app.core.inference.backend import LlamaError


class SequencePool:
    """The sequences of one batch context; sequence 0 holds the prompt from the start."""

    def __init__(self, memory: Any, n_sequences: int, n_prompt: int, split_streams: bool) -> None:
        self.memory = memory
        self.n_prompt = n_prompt
        self.split_streams = split_streams
        self._free = list(range(n_sequences))  # a heap: the lowest free sequence first
        # Sequences whose cache holds the prompt (and nothing of a finished sample).
        self._primed = {0}

    @property
    def has_free(self) -> bool:
        return bool(self._free)

    def take(self) -> int:
        """The lowest free sequence, holding the shared prompt, for a new sample."""
        seq = heapq.heappop(self._free)
        if seq not in self._primed:
            if self.n_prompt > 1:
                # With split caches this copies sequence 0's whole stream, which may hold
                # a sample in flight beyond the prompt: cut the copy back to the prompt.
                llama.llama_memory_seq_cp(self.memory, 0, seq, -1, -1)
                self._cut_to_prompt(seq)
            self._primed.add(seq)
        return seq

    def release(self, seq: int) -> None:
        """A sample in ``seq`` ended: keep only the prompt there, and free it."""
        self._cut_to_prompt(seq)
        heapq.heappush(self._free, seq)

    def hole_below(self, seq: int) -> int | None:
        """A free sequence below ``seq`` to move its sample into, where moving pays."""
        if self.split_streams and self._free and self._free[0] < seq:
            return self._free[0]
        return None

    def move(self, source: int, target: int) -> None:
        """Move a sample in flight from ``source`` into the free ``target`` (below it)."""
        if not self._free or self._free[0] != target:
            raise ValueError(f"sequence {target} is not the lowest free sequence")
        heapq.heappop(self._free)
        # Across streams llama.cpp copies the whole stream (before the next decode),
        # replacing what the target held.
        llama.llama_memory_seq_cp(self.memory, source, target, -1, -1)
        self.release(source)

    def _cut_to_prompt(self, seq: int) -> None:
        if not llama.llama_memory_seq_rm(self.memory, seq, self.n_prompt - 1, -1):
            # Recurrent models keep one state per sequence and cannot drop a tail.
            raise LlamaError("this model's memory cannot share a prompt between samples")
