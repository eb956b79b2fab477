"""The wire protocol, written down: what Quorum sends to each kind of server and reads back.

llama-server (llama.cpp's own server; checked against the source vendored with
llama-cpp-python 0.3.36):

* ``GET /v1/models`` -> ``{"data": [{"id", "owned_by": "llamacpp", ...}]}``.
* ``GET /props`` -> ``total_slots`` (``-np``), ``build_info``, ``chat_template``,
  ``model_path``, ``default_generation_settings`` (``n_ctx`` per slot, ``params``).
* ``POST /apply-template {"messages", "chat_template_kwargs"}`` -> ``{"prompt": text}``;
  ``POST /tokenize {"content", "add_special", "parse_special"}`` -> ``{"tokens": [...]}``.
* ``POST /completion`` with ``prompt`` (tokens), ``n_predict``, the samplers, ``seed``,
  ``cache_prompt``, ``n_probs`` and ``n_cmpl``: N completions that share one prompt
  evaluation (the server needs ``-np`` >= N free slots). Completion ``i`` of a request
  samples with ``seed + i`` (the server adds the child's number to the seed). Streamed
  as server-sent events, one JSON object per token:
  ``{"index": i, "content": text, "stop": false, "tokens_predicted": n}``, and per
  completion a last one with ``"stop": true``, ``stop_type`` (``eos``, ``word``:
  finished; ``limit``: out of tokens), ``truncated`` (the context filled),
  ``tokens_evaluated`` (prompt tokens) and ``timings``. With ``n_probs`` each event also
  has ``completion_probabilities`` (see app.core.remote.logprobs).

OpenAI-compatible chat (vLLM, SGLang, llama-server, others):

* ``POST /v1/chat/completions`` with ``model``, ``messages``, ``max_tokens``,
  ``temperature``, ``top_p``, ``seed``, ``stream: true`` and
  ``stream_options: {"include_usage": true}``; vLLM, SGLang and llama-server also take
  ``top_k``, ``min_p`` and ``chat_template_kwargs: {"enable_thinking": bool}`` (a plain
  server is sent only the standard fields). Each event is
  ``{"choices": [{"index", "delta": {"content", "reasoning_content"}, "finish_reason"}]}``
  (vLLM 0.10+ names the reasoning field ``reasoning``); ``finish_reason`` is ``stop`` or
  ``length``; a last event carries ``usage`` (``prompt_tokens``, ``completion_tokens``).
* ``POST /v1/completions`` with ``n``, ``seed``, ``logprobs``: the probe's test of
  whether the server returns ``n`` choices (llama-server answers with one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.core.inference.engine import FinishReason, Message
from app.core.inference.sampling import SamplingParams
from app.core.remote.logprobs import (
    ServerToken,
    TextIds,
    read_llama_probs,
    read_openai_logprobs,
)

# Sampling fields only some servers take; a plain OpenAI-compatible server may reject them.
EXTENDED_FIELDS = ("top_k", "min_p")


def completion_body(
    prompt: list[int], sampling: SamplingParams, seed: int, n_cmpl: int, n_probs: int = 0
) -> dict[str, Any]:
    """llama-server ``/completion``: ``n_cmpl`` samples from one prompt evaluation;
    ``n_probs``: each token's top alternatives (before the sampler chain; remote.logprobs)."""
    body: dict[str, Any] = {
        "prompt": prompt,
        "n_predict": sampling.max_tokens,
        "temperature": sampling.temperature,
        "top_k": sampling.top_k,
        "top_p": sampling.top_p,
        "min_p": sampling.min_p,
        "repeat_penalty": sampling.repeat_penalty,
        "presence_penalty": sampling.presence_penalty,
        "seed": seed,
        "cache_prompt": True,
    }
    if n_cmpl > 1:
        body["n_cmpl"] = n_cmpl
    if n_probs:
        body["n_probs"] = n_probs
    return body


def chat_body(
    model: str | None,
    messages: list[Message],
    sampling: SamplingParams,
    seed: int,
    *,
    extended: bool,
    thinking: bool | None,
    top_logprobs: int = 0,
) -> dict[str, Any]:
    """``/v1/chat/completions`` for one sample; ``extended``: the server takes top_k/min_p;
    ``top_logprobs``: ask for each token's log-probability and that many alternatives."""
    body: dict[str, Any] = {
        "messages": messages,
        "max_tokens": sampling.max_tokens,
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "presence_penalty": sampling.presence_penalty,
        "seed": seed,
        "stream_options": {"include_usage": True},
    }
    if model:
        body["model"] = model
    if top_logprobs:
        body["logprobs"] = True
        body["top_logprobs"] = top_logprobs
    if extended:
        body["top_k"] = sampling.top_k
        body["min_p"] = sampling.min_p
        if sampling.repeat_penalty != 1.0:
            body["repetition_penalty"] = sampling.repeat_penalty
        if thinking is not None:
            body["chat_template_kwargs"] = {"enable_thinking": thinking}
    return body


@dataclass(frozen=True)
class CompletionChunk:
    """One llama-server ``/completion`` stream event, for completion ``index`` of a request."""

    index: int
    text: str
    final: bool
    finish: FinishReason | None = None
    completion_tokens: int | None = None
    prompt_tokens: int | None = None
    probs: list[ServerToken] = field(default_factory=list)  # with n_probs


def read_completion_chunk(payload: dict[str, Any]) -> CompletionChunk:
    final = bool(payload.get("stop"))
    finish = None
    if final:
        if payload.get("truncated"):
            finish = FinishReason.CONTEXT_FULL
        elif payload.get("stop_type") == "limit":
            finish = FinishReason.LENGTH
        else:
            finish = FinishReason.STOP
    return CompletionChunk(
        index=int(payload.get("index") or 0),
        text=str(payload.get("content") or ""),
        final=final,
        finish=finish,
        completion_tokens=_int_or_none(payload.get("tokens_predicted")),
        prompt_tokens=_int_or_none(payload.get("tokens_evaluated")),
        probs=read_llama_probs(payload.get("completion_probabilities")),
    )


@dataclass(frozen=True)
class ChatChunk:
    """One ``/v1/chat/completions`` stream event (one choice; Quorum asks for one)."""

    reasoning: str
    text: str
    finish: FinishReason | None
    completion_tokens: int | None
    prompt_tokens: int | None
    probs: list[ServerToken] = field(default_factory=list)  # with top_logprobs


def read_chat_chunk(payload: dict[str, Any], ids: TextIds | None = None) -> ChatChunk:
    """``ids``: where to keep stand-in token ids (one per sample); None: ignore logprobs."""
    reasoning = text = ""
    finish = None
    probs: list[ServerToken] = []
    for choice in payload.get("choices") or []:
        if ids is not None:
            probs += read_openai_logprobs(choice, ids)
        delta = choice.get("delta") or choice.get("message") or {}
        reasoning += str(delta.get("reasoning_content") or delta.get("reasoning") or "")
        text += str(delta.get("content") or "")
        reason = choice.get("finish_reason")
        if reason:
            finish = FinishReason.LENGTH if reason == "length" else FinishReason.STOP
    usage = payload.get("usage") or {}
    return ChatChunk(
        reasoning,
        text,
        finish,
        _int_or_none(usage.get("completion_tokens")),
        _int_or_none(usage.get("prompt_tokens")),
        probs,
    )


def _int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
