"""Where a batch's sampler chains draw: one shared buffer, cut down to top-k's survivors.

One buffer for many chains. ``llama_sampler_sample`` builds its candidates (one
``llama_token_data`` of 12 bytes per vocabulary entry) in a buffer each sampler *chain*
keeps for its lifetime. A batch keeps one chain per slot, so the buffers add up:
measured on SmolLM2-135M (49,152 tokens), 256 slots held 144 MiB of them beside a
1,440 MiB KV cache, which took the run's peak RSS past model + KV + 300 MiB. So one
*carrier* chain keeps the only buffer: to draw for a slot, the slot's chain is added to
the carrier as its one member, ``llama_sampler_sample`` runs on the carrier, and the
member is taken out again.

Fewer candidates. Building n_vocab candidates and partially sorting them for top-k
cost 0.14 ms a draw: 1.8% of a 64-sample batch on 2 cores. Only tokens that can survive
top-k matter, and they are found for all of a step's rows at once (``prepare``): the
k-th largest logit of a sample of the row (an eighth of it) is a floor that at least k
tokens of the row reach, so every top-k survivor is at or above it; on the test model
about 3.5k tokens are. The chain then runs on those (``llama_sampler_apply``, the call
llama_sampler_sample makes on its full list): the same top-k, so the same draw. That
holds only when top-k is the chain's first cut; a chain with penalties (which move
logits first) draws from the full list as before.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any

import llama_cpp as llama
import numpy as np
import numpy.typing as npt

from app.core.inference.sampling import SamplingParams

FLOOR_SAMPLE = 8  # the floor is taken over 1/8 of the vocabulary, in FLOOR_BLOCKS blocks
FLOOR_BLOCKS = 8  # spread over the vocabulary: ids are not in random order
CHUNK_ROWS = 32  # rows compared at a time, bounding the mask at 32 x n_vocab bytes
TOKEN_DATA = np.dtype([("id", "<i4"), ("logit", "<f4"), ("p", "<f4")])  # llama_token_data


def top_k_first(params: SamplingParams, n_vocab: int) -> int:
    """k when the chain for ``params`` first keeps only the k largest logits, else 0.

    Greedy keeps one. Penalties change logits before any cut, so they rule it out; a k
    too close to the vocabulary would keep nearly every token anyway."""
    if params.penalised:
        return 0
    k = 1 if params.deterministic else params.top_k
    return k if _cuttable(k, n_vocab) else 0


def _cuttable(k: int, n_vocab: int) -> bool:
    """Whether the floor's sample holds enough logits to cut a row to top-``k``."""
    return 0 < 4 * k <= _sample_width(n_vocab)


def _sample_width(n_vocab: int) -> int:
    """How many logits of a row the floor is taken over (FLOOR_BLOCKS equal blocks)."""
    return FLOOR_BLOCKS * (n_vocab // (FLOOR_SAMPLE * FLOOR_BLOCKS))


def _spread_sample(rows: npt.NDArray[np.float32], out: npt.NDArray[np.float32]) -> None:
    """Copy 1/FLOOR_SAMPLE of each row's logits into ``out``: FLOOR_BLOCKS contiguous
    blocks spread over the vocabulary. Contiguous, so it reads 1/8 of the memory (every
    8th token would touch every cache line), and spread, so the floor is not that of
    one id range."""
    n_vocab = rows.shape[1]
    width = out.shape[1] // FLOOR_BLOCKS
    for b in range(FLOOR_BLOCKS):
        start = b * n_vocab // FLOOR_BLOCKS
        out[:, b * width : (b + 1) * width] = rows[:, start : start + width]


@dataclass
class _Step:
    """One decoded step's rows, cut to the tokens at or above each row's floor."""

    ctx: Any
    k: int
    data: npt.NDArray[np.void]  # TOKEN_DATA, row after row, ids ascending in each
    starts: npt.NDArray[np.intp]  # row i is data[starts[i]:starts[i + 1]]

    def serves(self, ctx: Any, k: int, index: int) -> bool:
        """Whether a chain cutting to top-``k`` can draw batch position ``index`` here."""
        return ctx is self.ctx and k == self.k and 0 <= index < len(self.starts) - 1


class CandidateBuffer:
    """A sampler chain that lends its candidate buffer to other chains, one draw at a time.

    Not thread-safe: one buffer belongs to the one worker thread that decodes."""

    def __init__(self) -> None:
        self._carrier = llama.llama_sampler_chain_init(llama.llama_sampler_chain_default_params())
        self._step: _Step | None = None
        self._array = llama.llama_token_data_array()
        self._scratch = np.empty(0, TOKEN_DATA)  # one row's list, as a chain draws from it
        self._mask = np.empty((0, 0), np.bool_)  # prepare's workspace, rows x n_vocab
        self._sample = np.empty((0, 0), np.float32)

    def prepare(self, ctx: Any, rows: int, n_vocab: int, k: int) -> None:
        """Cut the step just decoded on ``ctx`` (whose first ``rows`` batch positions all
        asked for logits, so output row i is batch position i) for chains whose first
        cut is top-``k`` (``top_k_first``; 0: none can use it). Valid until the next
        decode; call it after every one, or chains draw from a stale step."""
        self._step = None
        if rows <= 0 or not _cuttable(k, n_vocab):
            return
        logits = np.ctypeslib.as_array(llama.llama_get_logits(ctx), shape=(rows, n_vocab))
        if self._mask.shape != (CHUNK_ROWS, n_vocab):
            # Kept from step to step: fresh megabytes each step cost more in page faults
            # than the comparisons made in them.
            self._mask = np.empty((CHUNK_ROWS, n_vocab), np.bool_)
            self._sample = np.empty((CHUNK_ROWS, _sample_width(n_vocab)), np.float32)
        flat = []
        for start in range(0, rows, CHUNK_ROWS):
            part = logits[start : start + CHUNK_ROWS]
            sample, mask = self._sample[: len(part)], self._mask[: len(part)]
            _spread_sample(part, sample)
            # The k-th largest of a subset is at most the k-th largest of the whole row.
            sample.partition(-k, axis=1)
            np.greater_equal(part, sample[:, -k, None], out=mask)
            flat.append(np.flatnonzero(mask) + start * n_vocab)
        found = np.concatenate(flat)
        data = np.empty(len(found), TOKEN_DATA)
        data["id"] = found % n_vocab
        data["logit"] = logits.reshape(-1)[found]
        data["p"] = 0.0
        starts = np.searchsorted(found, np.arange(rows + 1) * n_vocab)
        self._step = _Step(ctx, k, data, starts)

    def draw(self, chain: Any, ctx: Any, index: int, k: int = 0) -> int:
        """Sample the token at batch position ``index`` with ``chain``, and accept it.
        ``k``: the chain's top_k_first, to draw from the prepared step where it fits."""
        if not self._carrier:
            raise RuntimeError("this candidate buffer is closed")
        step = self._step
        if step is not None and step.serves(ctx, k, index):
            return self._draw_prepared(chain, step, index)
        # llama_sampler_sample aborts the process on a position without logits.
        if not llama.llama_get_logits_ith(ctx, index):
            raise RuntimeError(f"llama.cpp has no logits for batch position {index}")
        llama.llama_sampler_chain_add(self._carrier, chain)
        try:
            return int(llama.llama_sampler_sample(self._carrier, ctx, index))
        finally:
            # Taken out before anything else: the carrier frees whatever it holds.
            llama.llama_sampler_chain_remove(self._carrier, 0)

    def _draw_prepared(self, chain: Any, step: _Step, index: int) -> int:
        # What llama_sampler_sample does after filling its list: apply, take, accept.
        # The chain sorts and rescales its list in place: it gets a copy, and the step
        # stays as decoded for the next chain that draws from this row.
        start, end = int(step.starts[index]), int(step.starts[index + 1])
        if len(self._scratch) < end - start:
            self._scratch = np.empty(2 * (end - start), TOKEN_DATA)
        self._scratch[: end - start] = step.data[start:end]
        array: Any = self._array  # its data field is typed as an array, set here as a pointer
        array.data = ctypes.cast(self._scratch.ctypes.data, ctypes.POINTER(llama.llama_token_data))
        array.size = end - start
        array.selected = -1
        array.sorted = False
        llama.llama_sampler_apply(chain, ctypes.byref(array))
        if not 0 <= array.selected < array.size:
            raise RuntimeError(f"the sampler chain chose no token at batch position {index}")
        token = int(array.data[array.selected].id)
        llama.llama_sampler_accept(chain, token)
        return token

    def close(self) -> None:
        self._step = None
        if self._carrier:
            llama.llama_sampler_free(self._carrier)
            self._carrier = None
