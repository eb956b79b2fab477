"""One candidate buffer for many sampler chains: the memory of a 256-slot batch.

``llama_sampler_sample`` builds its candidates (one ``llama_token_data`` of 12 bytes per
vocabulary entry) in a buffer each sampler *chain* keeps for its lifetime. A batch
keeps one chain per slot, so the buffers add up: measured on SmolLM2-135M (49,152
tokens), 256 slots held 144 MiB of them beside a 1,440 MiB KV cache, which took the
run's peak RSS past model + KV + 300 MiB; a 150k vocabulary would hold 460 MiB. Chains
made and freed as slots refill also churned the allocator (more RSS again).

So one *carrier* chain keeps the only buffer: to draw for a slot, the slot's chain is
added to the carrier as its one member, ``llama_sampler_sample`` runs on the carrier
(which fills its buffer from the logits, applies the member chain, and passes the
accepted token on to it), and the member is taken out again. The draws are llama.cpp's
own code on the same candidates, so they are the same token for token, at the same
speed (two more calls into the library a draw). Not thread-safe: one buffer belongs to
the one worker thread that decodes.
"""

from __future__ import annotations

from typing import Any

import llama_cpp as llama


class CandidateBuffer:
    """A sampler chain that lends its candidate buffer to other chains, one draw at a time."""

    def __init__(self) -> None:
        self._carrier = llama.llama_sampler_chain_init(llama.llama_sampler_chain_default_params())

    def draw(self, chain: Any, ctx: Any, index: int) -> int:
        """Sample the token at batch position ``index`` with ``chain``, and accept it."""
        if not self._carrier:
            raise RuntimeError("this candidate buffer is closed")
        # llama_sampler_sample aborts the process on a position without logits.
        if not llama.llama_get_logits_ith(ctx, index):
            raise RuntimeError(f"llama.cpp has no logits for batch position {index}")
        llama.llama_sampler_chain_add(self._carrier, chain)
        try:
            return int(llama.llama_sampler_sample(self._carrier, ctx, index))
        finally:
            # Taken out before anything else: the carrier frees whatever it holds.
            llama.llama_sampler_chain_remove(self._carrier, 0)

    def close(self) -> None:
        if self._carrier:
            llama.llama_sampler_free(self._carrier)
            self._carrier = None
