"""The consensus memory plan, checked against what llama.cpp really allocates."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import llama_cpp as llama
import pytest

from app.core.consensus.memory_plan import (
    context_spec,
    logits_bytes_per_slot,
    plan_consensus,
    vocab_size,
)
from app.core.inference.backend import LoadedModel, free_context, new_context
from app.core.inference.contexts import kv_bytes_per_token
from app.core.inference.cpu_probe import choose_config
from app.core.models.gguf import GGUFInfo, read_gguf_info

pytestmark = pytest.mark.model

MIB = 1024**2


@pytest.fixture(scope="module")
def info(test_model_path: Path) -> GGUFInfo:
    return read_gguf_info(test_model_path)


@pytest.fixture(scope="module")
def model(test_model_path: Path) -> Iterator[LoadedModel]:
    config = choose_config(test_model_path).config
    loaded = LoadedModel(test_model_path, use_extra_bufts=config.use_extra_bufts)
    yield loaded
    loaded.close()


def test_every_slot_is_a_sequence_up_to_llamas_cap(info: GGUFInfo) -> None:
    # No sequence is kept aside for the prompt: 512 samples run as two full waves.
    plan = plan_consensus(
        info, samples=512, prompt_tokens=40, max_tokens=32, budget_bytes=16 * 1024**3
    )
    assert plan.parallel == 256 == int(llama.llama_max_parallel_sequences())
    assert plan.waves == 2 and plan.limited_by == "llama.cpp"
    assert plan.n_ctx == 256 * 256  # 73 tokens a sample, padded to llama.cpp's 256 cells


def test_budget_pays_for_kv_and_logits(info: GGUFInfo) -> None:
    assert vocab_size(info) == 49152  # SmolLM2's tokenizer
    per_slot = 256 * kv_bytes_per_token(info) + logits_bytes_per_slot(info)
    budget = 5 * per_slot + per_slot // 2
    plan = plan_consensus(info, samples=64, prompt_tokens=40, max_tokens=100, budget_bytes=budget)
    assert plan.parallel == 5 and plan.limited_by == "memory"
    assert plan.kv_bytes + plan.logits_bytes <= budget
    assert plan.logits_bytes == 5 * 49152 * 4 * 2
    assert "MiB of KV cache and 2 MiB of logits" in plan.describe()


def _mib_after(pattern: str, text: str) -> float:
    found = re.search(pattern + r"\s*=\s*([\d.]+) MiB", text)
    assert found, f"llama.cpp did not log {pattern!r}"
    return float(found.group(1))


@pytest.mark.parametrize("unified", [False, True], ids=["split", "unified"])
def test_plan_is_what_llama_cpp_allocates(
    model: LoadedModel, info: GGUFInfo, unified: bool, caplog: pytest.LogCaptureFixture
) -> None:
    plan = plan_consensus(
        info, samples=8, prompt_tokens=40, max_tokens=300, kv_unified=unified,
        budget_bytes=1024**3,
    )  # fmt: skip
    with caplog.at_level(logging.INFO, logger="llama.cpp"):
        ctx = new_context(model, context_spec(plan, 2))
    try:
        assert int(llama.llama_n_ctx(ctx)) == plan.n_ctx
        if not unified:
            assert int(llama.llama_n_ctx_seq(ctx)) == plan.n_ctx // plan.parallel
    finally:
        free_context(ctx)
    log = caplog.text
    assert _mib_after(r"llama_kv_cache: size", log) == pytest.approx(plan.kv_bytes / MIB, abs=0.01)
    # The output buffer holds one logits row per slot, the compute buffer as many
    # again (n_outputs_max = slots) beside the layers' activations, not n_batch rows.
    logits_row_mib = vocab_size(info) * 4 / MIB
    assert _mib_after(r"output buffer size", log) <= plan.parallel * logits_row_mib + 0.5
    assert _mib_after(r"compute buffer size", log) < 128 * logits_row_mib  # not 512 rows
