"""Render a model's chat template into the prompt text llama.cpp will tokenize.

GGUF chat templates are Jinja programs written by whoever made the file, so they are
untrusted input (CVE-2024-34359): they run only inside Jinja's immutable sandbox,
which blocks attribute tricks that reach Python internals.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

log = logging.getLogger(__name__)

# ChatML: what SmolLM2 and Qwen use, and the fallback for files that carry no template.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


class ChatTemplateError(ValueError):
    """The model's chat template could not be rendered."""


@dataclass(frozen=True)
class RenderedPrompt:
    """A chat rendered by the model's own template, and how it was rendered."""

    text: str
    used_fallback: bool  # True when the model's own template was missing or broken


def _raise_exception(message: str) -> None:
    # Templates call raise_exception() to reject message layouts they don't support.
    raise ChatTemplateError(message)


def _tojson(
    value: Any,
    ensure_ascii: bool = False,
    indent: int | None = None,
    separators: tuple[str, str] | None = None,
    sort_keys: bool = False,
) -> str:
    # Hugging Face templates expect tojson to keep non-ASCII text as it is.
    return json.dumps(
        value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


def _environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env


def supports_thinking_toggle(template: str | None) -> bool:
    """Hybrid models (Qwen3) read an ``enable_thinking`` variable in their template."""
    return bool(template) and "enable_thinking" in (template or "")


def render_chat(
    template: str | None,
    messages: Sequence[dict[str, str]],
    *,
    enable_thinking: bool | None = None,
    bos_token: str = "",
    eos_token: str = "",
) -> RenderedPrompt:
    """Render ``messages`` with ``template`` (ChatML when the model has none or it fails)."""
    context: dict[str, Any] = {
        "messages": [dict(m) for m in messages],
        "add_generation_prompt": True,
        "bos_token": bos_token,
        "eos_token": eos_token,
    }
    if enable_thinking is not None:
        context["enable_thinking"] = enable_thinking
    env = _environment()
    if template:
        try:
            return RenderedPrompt(env.from_string(template).render(**context), False)
        except (TemplateError, ChatTemplateError, TypeError, ValueError, KeyError) as exc:
            # A broken template should not make a model unusable; ChatML is what most
            # instruct models were tuned on, and the fallback is reported to the caller.
            log.warning("chat template failed (%s); using ChatML", exc)
    return RenderedPrompt(env.from_string(CHATML_TEMPLATE).render(**context), True)
