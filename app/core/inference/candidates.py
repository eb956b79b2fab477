"""One candidate array for many sampler chains: the memory of a 256-slot batch.

``llama_sampler_sample`` builds its candidates (one ``llama_token_data`` of 12 bytes per
vocabulary entry) in a buffer each sampler *chain* keeps for its lifetime. A batch
keeps one chain per slot, so the buffers add up: measured on SmolLM2-135M (49,152
tokens), 256 slots held 144 MiB of them beside a 1,440 MiB KV cache, which took the
run's peak RSS past model + KV + 300 MiB; a 150k vocabulary would hold 460 MiB. Chains
made and freed as slots refill also churned the allocator (more RSS again).

This buffer does what ``llama_sampler_sample`` does (fill every candidate from the
logits row, apply the chain, accept the selected token) in one array the caller shares
between its chains, so the draws are the same token for token and the memory is paid
once. Filling costs a few tens of microseconds a draw more than llama.cpp's own C loop,
under 1% of a batch step that samples that many slots. Not thread-safe: one buffer
belongs to the one worker thread that decodes.
"""

from __future__ import annotations

import ctypes
from typing import Any

import llama_cpp as llama
import numpy as np

_FIELDS = 3  # llama_token_data: id (int32), logit (float32), p (float32)


class CandidateBuffer:
    """An n_vocab ``llama_token_data_array`` refilled from a context's logits per draw."""

    def __init__(self, n_vocab: int) -> None:
        if ctypes.sizeof(llama.llama_token_data) != _FIELDS * 4:
            raise RuntimeError("llama_token_data is not (id, logit, p): update CandidateBuffer")
        self.n_vocab = n_vocab
        self._data = (llama.llama_token_data * n_vocab)()
        words = np.ctypeslib.as_array(self._data).view(np.int32).reshape(n_vocab, _FIELDS)
        self._ids = words[:, 0]
        self._logits = words.view(np.float32)[:, 1]
        self._probs = words.view(np.float32)[:, 2]
        self._all_ids = np.arange(n_vocab, dtype=np.int32)
        self._array = llama.llama_token_data_array(
            data=self._data, size=n_vocab, selected=-1, sorted=False
        )

    def draw(self, chain: Any, ctx: Any, index: int) -> int:
        """Sample the token at batch position ``index`` with ``chain``, and accept it."""
        row = llama.llama_get_logits_ith(ctx, index)
        if not row:
            raise RuntimeError(f"llama.cpp has no logits for batch position {index}")
        # Samplers sort and cut the array in place, so every field is written afresh.
        self._ids[:] = self._all_ids
        self._logits[:] = np.ctypeslib.as_array(row, shape=(self.n_vocab,))
        self._probs[:] = 0.0
        self._array.size = self.n_vocab
        self._array.selected = -1
        self._array.sorted = False
        llama.llama_sampler_apply(chain, ctypes.byref(self._array))
        selected = int(self._array.selected)
        if not 0 <= selected < self._array.size:
            raise RuntimeError("the sampler chain selected no token")
        token = int(self._array.data[selected].id)
        llama.llama_sampler_accept(chain, token)
        return token
