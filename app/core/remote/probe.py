"""Find out what a server can do, once, and remember it.

The probe asks the server, it does not assume: llama-server's ``/v1/completions`` takes
``n`` and answers with one choice, so each ability is tried with a one-token request.
What it found decides the path a consensus run takes (``ServerCapabilities.path``) and
is written into every run's record.
"""

from __future__ import annotations

import enum
import json
import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from app.core import paths
from app.core.files import write_json_atomic
from app.core.remote.client import ServerClient, ServerError
from app.core.remote.logprobs import LLAMA_SERVER_BASIS, OPENAI_BASIS

log = logging.getLogger(__name__)

REMEMBERED_FILE = "servers.json"


class ServerKind(enum.StrEnum):
    """Which server software answered (the values are recorded text)."""

    LLAMA_SERVER = "llama-server"
    VLLM = "vllm"
    SGLANG = "sglang"
    OPENAI = "openai-compatible"


class RunPath(enum.StrEnum):
    """How a consensus run reaches the server (recorded with the run)."""

    N_CMPL = "llama-server n_cmpl"  # one request per wave, prompt evaluated once
    CONCURRENT = "concurrent requests"  # one chat request per sample, several at once


_OWNERS = {
    "llamacpp": ServerKind.LLAMA_SERVER,
    "vllm": ServerKind.VLLM,
    "sglang": ServerKind.SGLANG,
}


@dataclass(frozen=True)
class ServerCapabilities:
    """What the probe found on one server (plain data; never holds the API key)."""

    url: str
    kind: ServerKind
    models: tuple[str, ...]
    model: str | None  # the model runs will use
    version: str | None = None
    slots: int | None = None  # sequences decoded side by side (llama-server -np)
    n_ctx: int | None = None  # context per slot, where the server says
    chat_template: str | None = None
    n_cmpl: bool = False  # llama-server: N completions sharing one prompt evaluation
    n_probs: bool = False  # llama-server: per-token probabilities
    n_choices: bool = False  # /v1/completions returns n choices
    logprobs: bool = False
    seed: bool = False  # the server reports or accepts a per-request seed
    cache_prompt: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def path(self) -> RunPath:
        return RunPath.N_CMPL if self.n_cmpl else RunPath.CONCURRENT

    @property
    def extended_sampling(self) -> bool:
        """The server takes top_k and min_p beside the standard OpenAI fields."""
        return self.kind is not ServerKind.OPENAI

    @property
    def token_stats_reason(self) -> str | None:
        """Why this server gives no per-token confidence, for the window to show; None
        when it does (llama-server's n_probs, or OpenAI-style logprobs)."""
        if self.kind is ServerKind.LLAMA_SERVER:
            if self.slots and self.slots >= 2 and not self.n_probs:
                return "llama-server returned no completion_probabilities to the probe's n_probs"
            return None
        if self.logprobs:
            return None
        return (
            f"this {self.kind.value} server returned no log-probabilities to the probe's "
            "/v1/completions request with logprobs, so it gives no per-token confidence"
        )

    @property
    def token_stats_basis(self) -> str:
        """What its figures are (app.core.remote.logprobs)."""
        if self.kind is ServerKind.LLAMA_SERVER:
            return LLAMA_SERVER_BASIS
        return OPENAI_BASIS

    def lines(self) -> list[str]:
        """What a person reads after pressing Test (and ``quorum solve -v`` prints)."""
        found = [
            f"{self.kind.value}" + (f" {self.version}" if self.version else ""),
            f"model: {self.model or 'none listed'}"
            + (f" (of {len(self.models)})" if len(self.models) > 1 else ""),
        ]
        if self.slots:
            found.append(f"parallel slots: {self.slots}")
        if self.n_ctx:
            found.append(f"context per slot: {self.n_ctx} tokens")
        flags = {
            "n_cmpl": self.n_cmpl, "n_probs": self.n_probs, "n": self.n_choices,
            "logprobs": self.logprobs, "seed": self.seed, "cache_prompt": self.cache_prompt,
        }  # fmt: skip
        abilities = [name for name, ok in flags.items() if ok]
        found.append("supports: " + (", ".join(abilities) or "plain requests only"))
        found.append(f"consensus path: {self.path.value}")
        if self.token_stats_reason:
            found.append(f"token confidence: none ({self.token_stats_reason})")
        return found + list(self.notes)

    def to_record(self) -> dict[str, Any]:
        record = asdict(self)
        record.pop("chat_template")  # long, and in the model file anyway
        record["path"] = self.path.value
        return record


def probe(client: ServerClient, model: str | None = None) -> ServerCapabilities:
    """Ask the server what it is and what it can do (a few small requests)."""
    listing = client.get_json("/v1/models", missing_ok=True)
    if listing is None:
        raise ServerError(f"{client.url} has no /v1/models: it is not an OpenAI-compatible server")
    entries = [e for e in (listing.get("data") or []) if isinstance(e, dict) and e.get("id")]
    models = tuple(str(e["id"]) for e in entries)
    if model is not None and models and model not in models:
        raise ServerError(
            f"the server at {client.url} has no model {model!r}; it lists: {', '.join(models)}"
        )
    chosen = model or (models[0] if models else None)
    owners = {str(e.get("owned_by", "")).lower() for e in entries}
    kind = next((_OWNERS[o] for o in owners if o in _OWNERS), ServerKind.OPENAI)
    props = client.get_json("/props", missing_ok=True) if kind is ServerKind.OPENAI else None
    if isinstance(props, dict) and "total_slots" in props:
        kind = ServerKind.LLAMA_SERVER
    if kind is ServerKind.LLAMA_SERVER:
        found = _probe_llama_server(client, models, chosen)
    else:
        found = _probe_openai(client, kind, models, chosen)
    remember(found)
    return found


def _probe_llama_server(
    client: ServerClient, models: tuple[str, ...], model: str | None
) -> ServerCapabilities:
    props = client.get_json("/props")
    settings = props.get("default_generation_settings") or {}
    slots = int(props.get("total_slots") or 1)
    notes: list[str] = []
    n_cmpl = n_probs = seed = False
    if slots >= 2:
        test = {"prompt": "Hi", "n_predict": 1, "n_cmpl": 2, "n_probs": 2, "seed": 12345,
                "cache_prompt": True, "temperature": 1.0}  # fmt: skip
        answer = client.post_json("/completion", test)
        results = answer if isinstance(answer, list) else [answer]
        n_cmpl = len(results) == 2
        n_probs = all("completion_probabilities" in r for r in results)
        seeds = [(r.get("generation_settings") or {}).get("seed") for r in results]
        seed = seeds[0] == 12345
        if not n_cmpl:
            notes.append("n_cmpl was ignored: samples go as separate requests")
    else:
        notes.append("one slot (-np 1): samples queue one after another; start it with -np 8")
    version = str(props.get("build_info") or "") or None
    return ServerCapabilities(
        url=client.url, kind=ServerKind.LLAMA_SERVER, models=models, model=model,
        version=version, slots=slots, n_ctx=_int(settings.get("n_ctx")),
        chat_template=props.get("chat_template") or None, n_cmpl=n_cmpl, n_probs=n_probs,
        seed=seed, cache_prompt=True, notes=tuple(notes),
    )  # fmt: skip


def _probe_openai(
    client: ServerClient, kind: ServerKind, models: tuple[str, ...], model: str | None
) -> ServerCapabilities:
    version = None
    if kind is ServerKind.VLLM:
        version = (client.get_json("/version", missing_ok=True) or {}).get("version")
    elif kind is ServerKind.SGLANG:
        info = client.get_json("/get_server_info", missing_ok=True) or {}
        version = info.get("version")
    test: dict[str, Any] = {"prompt": "Hi", "max_tokens": 1, "n": 2, "seed": 12345, "logprobs": 1}
    if model:
        test["model"] = model
    notes: list[str] = []
    try:
        answer = client.post_json("/v1/completions", test, missing_ok=True)
    except ServerError as exc:
        if exc.status is None or exc.status < 400 or exc.status in (401, 403):
            raise
        answer = None
        notes.append(f"/v1/completions refused the test request (HTTP {exc.status})")
    choices = (answer or {}).get("choices") or []
    return ServerCapabilities(
        url=client.url, kind=kind, models=models, model=model,
        version=str(version) if version else None,
        n_choices=len(choices) >= 2,
        logprobs=any(c.get("logprobs") for c in choices if isinstance(c, dict)),
        seed=answer is not None, notes=tuple(notes),
    )  # fmt: skip


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) else None


def remembered() -> dict[str, dict[str, Any]]:
    """What earlier probes found, by server URL (shown before a new Test)."""
    try:
        data = json.loads((paths.cache_dir() / REMEMBERED_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def remember(found: ServerCapabilities) -> None:
    data = remembered()
    data[found.url] = found.to_record()
    try:
        write_json_atomic(paths.cache_dir() / REMEMBERED_FILE, data)
    except OSError as exc:  # a cache that cannot be written costs a probe next time
        log.warning("could not remember the probe of %s: %s", found.url, exc)
