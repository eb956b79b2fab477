"""Chat templates: sandboxed rendering, the thinking toggle, and templates that open
<think> themselves, run end to end on the real weights with swapped templates."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.inference.chat_template import CHATML_TEMPLATE, render_chat, supports_thinking_toggle
from app.core.inference.engine import Engine, Finished
from app.core.inference.reasoning import template_opens_trace
from app.core.inference.sampling import (
    QWEN3_NON_THINKING,
    QWEN3_THINKING,
    RuntimeParams,
    SamplingParams,
)
from app.core.models.gguf import read_gguf_info
from tests.gguf_edit import copy_with_string

# Written for these tests: a hybrid template in the style Qwen3 uses (an empty think
# block when thinking is off) and one that opens the think block for the model.
HYBRID_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n"
    "{% if enable_thinking is defined and enable_thinking is false %}"
    "<think>\n\n</think>\n\n{% endif %}{% endif %}"
)
OPENS_THINK_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n<think>\n{% endif %}"
)
QUESTION = [{"role": "user", "content": "What is 3 + 4?"}]


def test_hybrid_template_toggles_an_empty_think_block() -> None:
    assert supports_thinking_toggle(HYBRID_TEMPLATE)
    off = render_chat(HYBRID_TEMPLATE, QUESTION, enable_thinking=False).text
    on = render_chat(HYBRID_TEMPLATE, QUESTION, enable_thinking=True).text
    assert off.endswith("<think>\n\n</think>\n\n") and not template_opens_trace(off)
    assert "<think>" not in on and not template_opens_trace(on)


def test_template_that_opens_think_is_detected_from_the_rendering() -> None:
    rendered = render_chat(OPENS_THINK_TEMPLATE, QUESTION).text
    assert template_opens_trace(rendered)
    assert not supports_thinking_toggle(OPENS_THINK_TEMPLATE)


def test_hostile_template_is_sandboxed() -> None:
    hostile = "{{ ''.__class__.__mro__[1].__subclasses__() }}"
    rendered = render_chat(hostile, QUESTION)
    assert rendered.used_fallback
    assert rendered.text == render_chat(CHATML_TEMPLATE, QUESTION).text


def test_template_raise_exception_falls_back_to_chatml() -> None:
    template = "{{ raise_exception('only user messages please') }}"
    assert render_chat(template, QUESTION).used_fallback


def test_missing_template_uses_chatml() -> None:
    rendered = render_chat(None, QUESTION)
    assert rendered.used_fallback and "<|im_start|>user\nWhat is 3 + 4?" in rendered.text


@pytest.mark.model
def test_hybrid_model_thinking_toggle_end_to_end(tmp_path: Path, test_model_path: Path) -> None:
    model = copy_with_string(
        test_model_path, tmp_path / "hybrid.gguf", "tokenizer.chat_template", HYBRID_TEMPLATE
    )
    assert read_gguf_info(model).chat_template == HYBRID_TEMPLATE
    with Engine(model, RuntimeParams(n_ctx=1024)) as eng:
        assert eng.supports_thinking
        assert "</think>" in eng.render_prompt(QUESTION, thinking=False)
        assert "<think>" not in eng.render_prompt(QUESTION, thinking=True)
        events = list(eng.generate(QUESTION, SamplingParams(seed=1, max_tokens=12), False))
        result = events[-1].result if isinstance(events[-1], Finished) else None
        assert result is not None and result.thinking is False
        assert result.trace == "" and result.answer


@pytest.mark.model
def test_template_opening_think_streams_everything_as_trace(
    tmp_path: Path, test_model_path: Path
) -> None:
    model = copy_with_string(
        test_model_path, tmp_path / "r1.gguf", "tokenizer.chat_template", OPENS_THINK_TEMPLATE
    )
    with Engine(model, RuntimeParams(n_ctx=1024)) as eng:
        final = list(eng.generate(QUESTION, SamplingParams(seed=2, max_tokens=16)))[-1]
    assert isinstance(final, Finished)
    # SmolLM2 never writes </think>, so the whole cut-off output is reasoning.
    assert final.result.trace and final.result.answer == ""
    assert final.result.extracted is None


def test_family_defaults_follow_thinking_mode(test_model_path: Path) -> None:
    from app.core.inference.sampling import default_sampling

    thinking = default_sampling("qwen3", HYBRID_TEMPLATE, {}, True)
    plain = default_sampling("qwen3", HYBRID_TEMPLATE, {}, False)
    assert (thinking.temperature, thinking.top_p, thinking.top_k) == (
        QWEN3_THINKING["temperature"],
        QWEN3_THINKING["top_p"],
        QWEN3_THINKING["top_k"],
    )
    assert (plain.temperature, plain.top_p) == (
        QWEN3_NON_THINKING["temperature"],
        QWEN3_NON_THINKING["top_p"],
    )
    from_metadata = default_sampling("qwen3", HYBRID_TEMPLATE, {"temp": 0.3, "top_k": 5}, True)
    assert from_metadata.temperature == 0.3 and from_metadata.top_k == 5
