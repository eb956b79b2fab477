"""How much KV-cache memory a consensus run takes, and how many samples run at once.

The user is told this before a run starts: 512 samples of a 4B model cannot all be
decoded side by side on a laptop, so samples run in as many parallel slots as the
memory budget and llama.cpp's parallel-sequence cap allow, and slots are refilled.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from app.core.inference.backend import ContextSpec
from app.core.inference.contexts import kv_bytes_per_token
from app.core.models.gguf import GGUFInfo

# Each slot's logits row (n_vocab f32) is held twice: in the compute buffer, where the
# output layer writes it, and in the context's output buffer it is copied to.
LOGITS_COPIES = 2
DEFAULT_BUDGET_FRACTION = 0.4  # of physical memory, leaving room for the weights and the OS


def physical_memory_bytes() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # Windows has no sysconf
        return 8 * 1024**3


def vocab_size(info: GGUFInfo) -> int:
    """Tokens in the model's vocabulary, from the GGUF header (0 when it does not say)."""
    tokens = info.metadata.get("tokenizer.ggml.tokens")
    if isinstance(tokens, dict) and isinstance(tokens.get("length"), int):
        return int(tokens["length"])
    if isinstance(tokens, list):
        return len(tokens)
    value = info.metadata.get(f"{info.architecture or ''}.vocab_size")
    return int(value) if isinstance(value, int) else 0


def logits_bytes_per_slot(info: GGUFInfo) -> int:
    return vocab_size(info) * 4 * LOGITS_COPIES


@dataclass(frozen=True)
class ConsensusPlan:
    """How a consensus run will use memory: slots side by side, context and KV size."""

    samples: int
    parallel: int  # slots decoded side by side
    tokens_per_sample: int  # prompt + max tokens
    n_ctx: int  # context cells to allocate
    kv_bytes: int  # KV cache the run will allocate
    kv_unified: bool
    limited_by: str | None  # "memory" or "llama.cpp" when fewer slots than samples
    logits_bytes: int = 0  # logits buffers for every slot, beside the KV cache

    @property
    def waves(self) -> int:
        return -(-self.samples // self.parallel)

    def describe(self) -> str:
        mib = self.kv_bytes / 1024**2
        text = f"{self.samples} samples, {self.parallel} at a time"
        if self.kv_bytes:  # 0: a server holds the cache (app.core.remote.runner)
            text += f", about {mib:,.0f} MiB of KV cache"
        if self.logits_bytes >= 1024**2:
            text += f" and {self.logits_bytes / 1024**2:,.0f} MiB of logits"
        if self.limited_by:
            text += f" (parallel slots limited by {self.limited_by})"
        return text


def plan_consensus(
    info: GGUFInfo,
    *,
    samples: int,
    prompt_tokens: int,
    max_tokens: int,
    budget_bytes: int | None = None,
    max_parallel: int = 256,
    kv_unified: bool = False,
) -> ConsensusPlan:
    """Choose the number of parallel slots and the context size for a consensus run.

    With a unified cache the prompt's cells are shared by every slot; with split
    caches each slot keeps a whole copy of the prompt. Every slot is a llama.cpp
    sequence (the prompt is evaluated into the first slot, not a sequence of its own),
    so ``max_parallel`` slots fit llama.cpp's parallel-sequence cap. The budget pays
    for each slot's logits too: with a 150k vocabulary, 256 slots hold 300 MiB of them.
    """
    if samples < 1:
        raise ValueError("a consensus run needs at least one sample")
    per_token = kv_bytes_per_token(info)
    budget = (
        budget_bytes
        if budget_bytes is not None
        else int(physical_memory_bytes() * DEFAULT_BUDGET_FRACTION)
    )
    per_seq = prompt_tokens + max_tokens + 1
    per_slot_logits = logits_bytes_per_slot(info)
    cap = max(1, min(samples, max_parallel))
    if kv_unified:
        slot_bytes = (max_tokens + 1) * per_token + per_slot_logits
        by_memory = max(1, (budget - prompt_tokens * per_token) // slot_bytes)
    else:
        slot_bytes = _round_up(per_seq, 256) * per_token + per_slot_logits
        by_memory = max(1, budget // slot_bytes)
    parallel = min(cap, by_memory)
    limited_by = None
    if parallel < samples:
        limited_by = "memory" if by_memory < cap else "llama.cpp"
    if kv_unified:
        n_ctx = _round_up(prompt_tokens + parallel * (max_tokens + 1), 256)
    else:
        # Split caches give each sequence n_ctx / n_seq_max cells, padded to 256.
        n_ctx = parallel * _round_up(per_seq, 256)
    return ConsensusPlan(
        samples,
        parallel,
        prompt_tokens + max_tokens,
        n_ctx,
        n_ctx * per_token,
        kv_unified,
        limited_by,
        parallel * per_slot_logits,
    )


def _round_up(value: int, step: int) -> int:
    return -(-value // step) * step


def context_spec(plan: ConsensusPlan, n_threads: int) -> ContextSpec:
    """The llama.cpp context a batch of this plan runs in: one sequence per slot."""
    return ContextSpec(
        n_ctx=plan.n_ctx,
        n_batch=max(512, plan.parallel),
        n_threads=n_threads,
        n_seq_max=plan.parallel,
        kv_unified=plan.kv_unified,
        # A step asks for one logits row per slot in flight, never more.
        n_outputs_max=plan.parallel,
    )
