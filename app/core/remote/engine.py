"""A server engine: single answers from an OpenAI-compatible server, as the local engine's events.

``ServerEngine.generate`` yields the same ``TextChunk`` and ``Finished`` events as
``app.core.inference.engine.Engine.generate``, with the same ``GenerationResult``, so a
view or the CLI does not care where the answer was computed. Opening one probes the
server (``app.core.remote.probe``); nothing is sent anywhere until a user configured it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from app.core.inference.chat_template import supports_thinking_toggle
from app.core.inference.engine import EngineEvent, Finished, FinishReason, Message, TextChunk
from app.core.inference.sampling import SamplingParams
from app.core.remote.client import ServerClient, ServerError
from app.core.remote.config import ServerConfig
from app.core.remote.logprobs import N_PROBS, new_stats
from app.core.remote.probe import ServerCapabilities, ServerKind, probe
from app.core.remote.protocol import chat_body, read_chat_chunk
from app.core.remote.sample import StreamedSample

# llama-server's /props lists its defaults under these names.
_SERVER_SAMPLING_KEYS = {
    "temperature": "temperature", "top_k": "top_k", "top_p": "top_p", "min_p": "min_p",
    "repeat_penalty": "repeat_penalty", "presence_penalty": "presence_penalty",
}  # fmt: skip


class ServerEngine:
    """One configured server and model, answering one question at a time as a stream of events.

    ``generate`` runs on one thread; ``cancel`` may be called from any and cuts the
    connection at once. ``close`` ends every connection.
    """

    def __init__(
        self, config: ServerConfig, capabilities: ServerCapabilities | None = None
    ) -> None:
        self.config = config
        self.client = ServerClient(config)
        try:
            self.capabilities = capabilities or probe(self.client, config.model)
        except BaseException:
            self.client.close()
            raise
        self.model_id = self.capabilities.model
        self.supports_thinking = supports_thinking_toggle(self.capabilities.chat_template)
        self._cancel = threading.Event()
        self._server_defaults: dict[str, Any] | None = None

    @property
    def display_name(self) -> str:
        return f"{self.model_id or 'model'} on {self.config.public_url}"

    def identity(self) -> dict[str, Any]:
        """What a run's record says about the engine: server, version, model, path. No key."""
        caps = self.capabilities
        return {
            "engine": "server",
            "url": self.config.public_url,
            "kind": caps.kind.value,
            "version": caps.version,
            "model": self.model_id,
            "consensus_path": caps.path.value,
            "capabilities": caps.to_record(),
        }

    def default_sampling(self, thinking: bool | None = None) -> SamplingParams:
        """The server's own defaults where it publishes them (llama-server), else generic ones."""
        del thinking  # the server's operator chose one set for the model it serves
        if self._server_defaults is None:
            self._server_defaults = self._read_server_defaults()
        return replace(SamplingParams(), **self._server_defaults)

    def _read_server_defaults(self) -> dict[str, Any]:
        if not self.capabilities.slots:  # not llama-server: no published defaults
            return {}
        try:
            props = self.client.get_json("/props")
        except ServerError:
            return {}
        params = (props.get("default_generation_settings") or {}).get("params") or {}
        found: dict[str, Any] = {}
        for key, name in _SERVER_SAMPLING_KEYS.items():
            value = params.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                found[name] = type(getattr(SamplingParams(), name))(value)
        return found

    def render_prompt(self, messages: Sequence[Message], thinking: bool | None) -> str:
        """The chat rendered by the server's own template (llama-server's /apply-template)."""
        body: dict[str, Any] = {"messages": list(messages)}
        if thinking is not None and self.supports_thinking:
            body["chat_template_kwargs"] = {"enable_thinking": thinking}
        answer = self.client.post_json("/apply-template", body)
        return str(answer.get("prompt") or "")

    def tokenize(self, text: str) -> list[int]:
        """Tokens as the server's /completion would read ``text`` (special tokens parsed)."""
        body = {"content": text, "add_special": True, "parse_special": True}
        answer = self.client.post_json("/tokenize", body)
        return [int(t) for t in answer.get("tokens") or []]

    def cancel(self) -> None:
        """Stop the answer in progress now (any thread): its connection is cut."""
        self._cancel.set()
        self.client.abort_streams()

    def generate(
        self,
        messages: Sequence[Message],
        sampling: SamplingParams | None = None,
        thinking: bool | None = None,
        *,
        token_stats: bool = False,
    ) -> Iterator[EngineEvent]:
        """Stream one answer. Always ends with exactly one ``Finished`` event.
        token_stats: each token's confidence where the server gives log-probabilities
        (app.core.remote.logprobs); where it gives none the result's stay None and
        ``capabilities.token_stats_reason`` says why."""
        self._cancel.clear()
        params = (sampling or self.default_sampling(thinking)).with_seed().validated()
        toggle = thinking if self.supports_thinking else None
        caps = self.capabilities
        wanted = token_stats and caps.token_stats_reason is None
        sample = StreamedSample(params, toggle,
                                stats=new_stats(caps.token_stats_basis) if wanted else None,
                                replay_chain=caps.kind is ServerKind.LLAMA_SERVER)  # fmt: skip
        body = chat_body(
            self.model_id, list(messages), params, params.seed or 0,
            extended=caps.extended_sampling, thinking=toggle,
            top_logprobs=N_PROBS if wanted else 0,
        )  # fmt: skip
        reason: FinishReason | None = None
        error = None
        try:
            with self.client.stream("/v1/chat/completions", body, self._cancel) as (_, events):
                for payload in events:
                    chunk = read_chat_chunk(payload, sample.text_ids if wanted else None)
                    for channel, text in sample.feed(chunk.reasoning, chunk.text, None,
                                                     chunk.probs):  # fmt: skip
                        yield TextChunk(channel, text, sample.tokens)
                    if chunk.completion_tokens is not None:
                        sample.tokens = chunk.completion_tokens
                    if chunk.prompt_tokens is not None:
                        sample.prompt_tokens = chunk.prompt_tokens
                    reason = chunk.finish or reason
        except ServerError as exc:
            reason, error = FinishReason.ERROR, str(exc)
        if self._cancel.is_set():
            reason, error = FinishReason.CANCELLED, None
        elif reason is None:
            reason = FinishReason.ERROR
            error = f"the server at {self.config.public_url} ended the answer without finishing it"
        for channel, text in sample.finish():
            yield TextChunk(channel, text, sample.tokens)
        yield Finished(sample.result(reason, error))

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> ServerEngine:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
