"""One open llama.cpp context per model, reused while its shape holds (real model)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import llama_cpp as llama
import pytest

from app.core.inference import contexts as contexts_module
from app.core.inference.backend import ContextSpec, LoadedModel
from app.core.inference.contexts import ContextHolder

pytestmark = pytest.mark.model

SMALL = ContextSpec(n_ctx=256, n_batch=512, n_threads=2)
WIDE = ContextSpec(n_ctx=512, n_batch=512, n_threads=2, n_seq_max=2, kv_unified=False)


@pytest.fixture(scope="module")
def model(test_model_path: Path) -> Iterator[LoadedModel]:
    loaded = LoadedModel(test_model_path, use_extra_bufts=False)
    yield loaded
    loaded.close()


def _fill(ctx: Any, model: LoadedModel) -> None:
    tokens = model.tokenize("A lighthouse stands on the rocks.")
    array = (llama.llama_token * len(tokens))(*tokens)
    assert llama.llama_decode(ctx, llama.llama_batch_get_one(array, len(tokens))) == 0


def _last_position(ctx: Any) -> int:
    return int(llama.llama_memory_seq_pos_max(llama.llama_get_memory(ctx), 0))


def test_the_same_shape_gets_the_open_context_back_empty(model: LoadedModel) -> None:
    holder = ContextHolder(model, idle_cells=1024)
    ctx = holder.open(SMALL)
    _fill(ctx, model)
    assert _last_position(ctx) > 0
    again = holder.open(SMALL)
    assert again is ctx and _last_position(again) == -1
    _fill(again, model)  # and it decodes from the start again
    holder.release()
    assert holder.spec is None


def test_another_shape_frees_the_open_context_before_making_its_own(
    model: LoadedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    made, freed = contexts_module.new_context, contexts_module.free_context

    def new(model: LoadedModel, spec: ContextSpec) -> Any:
        calls.append(f"new {spec.n_ctx}")
        return made(model, spec)

    def free(ctx: Any) -> None:
        calls.append("free" if ctx else "free nothing")
        freed(ctx)

    monkeypatch.setattr(contexts_module, "new_context", new)
    monkeypatch.setattr(contexts_module, "free_context", free)
    holder = ContextHolder(model, idle_cells=1024)
    holder.open(SMALL)
    holder.open(SMALL)
    holder.open(WIDE)
    holder.release()
    # Never two KV caches at once: the small one goes before the wide one is made.
    assert calls == ["free nothing", "new 256", "free", "new 512", "free"]


def test_only_a_context_no_larger_than_the_idle_limit_stays_open(model: LoadedModel) -> None:
    holder = ContextHolder(model, idle_cells=256)
    small = holder.open(SMALL)
    holder.done(small)
    assert holder.spec == SMALL
    wide = holder.open(WIDE)
    holder.done(wide)
    assert holder.spec is None
    holder.done(wide)  # a second done is harmless
    assert ContextHolder(model).spec is None


def test_a_context_with_a_small_kv_cache_stays_open_whatever_its_cells(
    model: LoadedModel,
) -> None:
    # WIDE has 512 cells, more than the engine's 256 here: its KV cache decides.
    fits = contexts_module.SMALL_KV_BYTES // WIDE.n_ctx
    holder = ContextHolder(model, idle_cells=256, cell_bytes=fits)
    wide = holder.open(WIDE)
    holder.done(wide)
    assert holder.spec == WIDE
    holder.release()
    holder = ContextHolder(model, idle_cells=256, cell_bytes=fits + 1)
    wide = holder.open(WIDE)
    holder.done(wide)
    assert holder.spec is None


def test_the_engine_keeps_what_its_model_cells_cost(test_model_path: Path) -> None:
    from app.core.inference.engine import Engine
    from app.core.inference.sampling import RuntimeParams

    with Engine(test_model_path, RuntimeParams(n_ctx=2048, n_threads=2)) as engine:
        holder = engine.contexts
        per_cell = contexts_module.kv_bytes_per_token(engine.info)
        assert holder.cell_bytes == per_cell == 30 * 3 * (64 + 64) * 2  # SmolLM2-135M
        small = contexts_module.SMALL_KV_BYTES // per_cell  # 23,301 cells of 22.5 KiB
        assert holder.keeps(ContextSpec(n_ctx=small, n_batch=512, n_threads=2, n_seq_max=64))
        assert not holder.keeps(ContextSpec(n_ctx=small + 256, n_batch=512, n_threads=2))
        assert holder.keeps(ContextSpec(n_ctx=2048, n_batch=512, n_threads=2))
