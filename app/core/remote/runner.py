"""Consensus on a server: the local ConsensusRunner with a server sampler and prompt.

``ConsensusRunner`` does the grouping, statistics and early stop; this class gives it
a ``ServerSampler`` and replaces ``prepare`` (which tokenizes and plans memory on the
local model) with the server's own template, tokenizer and slots.
"""

from __future__ import annotations

from app.core.consensus.memory_plan import ConsensusPlan
from app.core.consensus.runner import (
    MAX_SAMPLES,
    MIN_SAMPLES,
    ConsensusError,
    ConsensusRequest,
    ConsensusRunner,
)
from app.core.inference.reasoning import template_opens_trace
from app.core.remote.client import ServerError
from app.core.remote.engine import ServerEngine
from app.core.remote.probe import RunPath
from app.core.remote.sampler import ServerSampler

# A server that does not say how many sequences it decodes at once (vLLM, SGLang and
# plain OpenAI-compatible ones batch dynamically) gets this many requests in flight.
DEFAULT_CONCURRENCY = 16


class ServerConsensusRunner(ConsensusRunner):
    """Runs consensus on a ServerEngine (on one thread; ``cancel`` from any)."""

    def __init__(self, server: ServerEngine) -> None:
        self.server = server
        self.server_sampler = ServerSampler(server)
        # ConsensusRunner reads only ``engine.supports_thinking`` outside prepare(), which
        # this class replaces; a ServerEngine has it.
        self.engine = server  # type: ignore[assignment]
        self._sampler = self.server_sampler
        self._init_watch()

    @property
    def path(self) -> RunPath:
        return self.server_sampler.path

    def prepare(self, request: ConsensusRequest) -> tuple[list[int], ConsensusPlan, bool]:
        """The prompt as the server will read it, the server's slots, and the trace flag."""
        if not MIN_SAMPLES <= request.samples <= MAX_SAMPLES:
            raise ConsensusError(f"samples must be between {MIN_SAMPLES} and {MAX_SAMPLES}")
        caps = self.server.capabilities
        thinking = request.thinking if self.server.supports_thinking else None
        tokens: list[int] = []
        opens_trace = False
        self.server_sampler.messages = list(request.messages)
        if self.path is RunPath.N_CMPL:
            try:
                text = self.server.render_prompt(request.messages, thinking)
                tokens = self.server.tokenize(text)
            except ServerError as exc:
                raise ConsensusError(str(exc)) from exc
            opens_trace = template_opens_trace(text)
            if caps.n_ctx and len(tokens) + request.sampling.max_tokens > caps.n_ctx:
                raise ConsensusError(
                    f"the question ({len(tokens)} tokens) plus {request.sampling.max_tokens} "
                    f"tokens per sample exceeds the server's context of {caps.n_ctx} per "
                    "slot; lower max tokens, or start the server with a larger -c"
                )
        parallel = caps.slots or DEFAULT_CONCURRENCY
        plan = ConsensusPlan(
            samples=request.samples,
            parallel=min(parallel, request.samples),
            tokens_per_sample=len(tokens) + request.sampling.max_tokens,
            n_ctx=caps.n_ctx or 0,
            kv_bytes=0,  # the server holds the KV cache
            kv_unified=False,
            limited_by="the server's slots" if parallel < request.samples else None,
        )
        return tokens, plan, opens_trace

    def describe(self, plan: ConsensusPlan) -> str:
        """The plan in words (ConsensusPlan.describe speaks of local KV memory)."""
        return (
            f"{plan.samples} samples on {self.server.config.public_url}, "
            f"{plan.parallel} at a time, via {self.path.value}"
        )
