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
