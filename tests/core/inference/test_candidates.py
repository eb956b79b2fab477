"""The shared candidate buffer draws what llama_sampler_sample draws, on the real model:
from its one buffer, and from a step cut down to top-k's survivors."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import llama_cpp as llama
import numpy as np
import pytest

from app.core.inference.backend import (
    ContextSpec,
    LoadedModel,
    SamplerChain,
    free_context,
    new_context,
)
from app.core.inference.candidates import CandidateBuffer, top_k_first
from app.core.inference.cpu_probe import choose_config
from app.core.inference.sampling import SamplingParams

pytestmark = pytest.mark.model

REPO = Path(__file__).resolve().parents[3]
PROMPT = "<|im_start|>user\nName three colours.<|im_end|>\n<|im_start|>assistant\n"
OUTPUT_ROWS = 3  # the prompt's last three positions get logits rows


@contextmanager
def _decoded_prompt(model_path: Path, output_rows: int) -> Iterator[tuple[LoadedModel, Any, int]]:
    """A context after decoding PROMPT with logits for its last ``output_rows``
    positions, and the prompt's length."""
    config = choose_config(model_path).config
    model = LoadedModel(model_path, use_extra_bufts=config.use_extra_bufts)
    ctx = new_context(model, ContextSpec(n_ctx=256, n_batch=256, n_threads=2))
    tokens = model.tokenize(PROMPT)
    batch = llama.llama_batch_init(len(tokens), 0, 1)
    try:
        for i, token in enumerate(tokens):
            batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, i, 1
            batch.seq_id[i][0] = 0
            batch.logits[i] = i >= len(tokens) - output_rows
        batch.n_tokens = len(tokens)
        assert llama.llama_decode(ctx, batch) == 0
        yield model, ctx, len(tokens)
    finally:
        llama.llama_batch_free(batch)
        free_context(ctx)
        model.close()


@pytest.fixture(scope="module")
def decoded(test_model_path: Path) -> Iterator[tuple[LoadedModel, Any, list[int]]]:
    """A context after one decode, and the batch positions that have logits rows."""
    with _decoded_prompt(test_model_path, OUTPUT_ROWS) as (model, ctx, n):
        yield model, ctx, list(range(n - OUTPUT_ROWS, n))


@pytest.fixture(scope="module")
def every_row(test_model_path: Path) -> Iterator[tuple[LoadedModel, Any, int]]:
    """A context after a decode in which every batch position asked for logits, as in a
    consensus step (so output row i is batch position i), and the number of rows."""
    with _decoded_prompt(test_model_path, output_rows=10**6) as decoded:
        yield decoded


def _n_vocab(model: LoadedModel) -> int:
    return int(llama.llama_vocab_n_tokens(model.vocab))


@pytest.mark.parametrize(
    "params",
    [
        SamplingParams(temperature=1.2, top_p=0.95, top_k=40, min_p=0.02),
        SamplingParams(temperature=1.5, top_p=1.0, top_k=0, min_p=0.0),  # the whole vocab
        SamplingParams(temperature=0.8, repeat_penalty=1.3, presence_penalty=0.5),
        SamplingParams(temperature=0.0),  # greedy
    ],
    ids=["truncated", "full-vocab", "penalties", "greedy"],
)
def test_shared_buffer_draws_the_same_tokens_as_llama_cpp(
    decoded: tuple[LoadedModel, Any, list[int]], params: SamplingParams
) -> None:
    model, ctx, rows = decoded
    n_vocab = _n_vocab(model)
    shared = CandidateBuffer()
    for seed in (1, 2, 3):
        own = SamplerChain(params, seed, n_vocab)
        pooled = SamplerChain(params, seed, n_vocab, shared)
        # A second chain draws in the same buffer in between, as slots of a batch do.
        other = SamplerChain(params, seed + 100, n_vocab, shared)
        try:
            expected, got = [], []
            for step in range(60):
                row = rows[step % OUTPUT_ROWS]
                expected.append(own.sample(ctx, row))
                got.append(pooled.sample(ctx, row))
                other.sample(ctx, rows[(step + 1) % OUTPUT_ROWS])
            assert got == expected
            if not params.deterministic:
                assert len(set(got)) > 3, "the draws should vary, or the test shows nothing"
        finally:
            for chain in (own, pooled, other):
                chain.close()
    shared.close()


CHAINS = [
    SamplingParams(temperature=1.2, top_p=0.95, top_k=40, min_p=0.02),
    SamplingParams(temperature=2.0, top_p=1.0, top_k=200, min_p=0.0),
    SamplingParams(temperature=0.7, top_p=0.8, top_k=3, min_p=0.1),
    SamplingParams(temperature=0.0),  # greedy: a cut to one
    SamplingParams(temperature=1.5, top_p=1.0, top_k=0, min_p=0.0),  # no cut: full list
    SamplingParams(temperature=0.8, top_k=40, repeat_penalty=1.3),  # penalties come first
]


@pytest.mark.parametrize(
    "params", CHAINS, ids=["k40", "k200-hot", "k3", "greedy", "no-top-k", "penalties"]
)
def test_a_prepared_step_draws_the_same_tokens_as_llama_cpp(
    every_row: tuple[LoadedModel, Any, int], params: SamplingParams
) -> None:
    model, ctx, rows = every_row
    n_vocab = _n_vocab(model)
    shared = CandidateBuffer()
    shared.prepare(ctx, rows, n_vocab, top_k_first(params, n_vocab))
    draws = 0
    try:
        for seed in range(1, 9):
            own = SamplerChain(params, seed, n_vocab)
            cut = SamplerChain(params, seed, n_vocab, shared)
            try:
                # Every row, several times over: the chains' random streams advance alike.
                for step in range(3 * rows):
                    row = step % rows
                    assert cut.sample(ctx, row) == own.sample(ctx, row), (seed, step)
                    draws += 1
            finally:
                own.close()
                cut.close()
    finally:
        shared.close()
    assert draws == 24 * rows


def test_the_cut_keeps_every_top_k_survivor_and_few_others(
    every_row: tuple[LoadedModel, Any, int],
) -> None:
    model, ctx, rows = every_row
    n_vocab = _n_vocab(model)
    k = 40
    shared = CandidateBuffer()
    try:
        shared.prepare(ctx, rows, n_vocab, k)
        step = shared._step
        assert step is not None
        logits = np.ctypeslib.as_array(llama.llama_get_logits(ctx), shape=(rows, n_vocab))
        kept = []
        for row in range(rows):
            ids = step.data["id"][step.starts[row] : step.starts[row + 1]]
            best = np.argsort(-logits[row], kind="stable")[:k]
            assert set(best.tolist()) <= set(ids.tolist()), row
            assert np.all(np.diff(ids) > 0)  # ascending, as llama.cpp's own list
            assert np.array_equal(step.data["logit"][step.starts[row] : step.starts[row + 1]],
                                  logits[row, ids])  # fmt: skip
            kept.append(len(ids))
        # A few k a row (the floor's sample is an eighth of the row), not n_vocab (49,152).
        assert max(kept) < n_vocab // 20, kept
    finally:
        shared.close()


def test_which_chains_can_draw_from_a_cut_step() -> None:
    assert top_k_first(SamplingParams(temperature=0.7, top_k=40), 49152) == 40
    assert top_k_first(SamplingParams(temperature=0.0, top_k=40), 49152) == 1
    assert top_k_first(SamplingParams(temperature=0.7, top_k=0), 49152) == 0
    assert top_k_first(SamplingParams(temperature=0.7, top_k=40, presence_penalty=0.5), 49152) == 0
    assert top_k_first(SamplingParams(temperature=0.7, top_k=40, repeat_penalty=1.1), 49152) == 0
    assert top_k_first(SamplingParams(temperature=0.7, top_k=2000), 49152) == 0  # keeps most
    assert top_k_first(SamplingParams(temperature=0.0), 40) == 0  # too few tokens to sample


def test_a_position_without_logits_is_a_clear_error(
    decoded: tuple[LoadedModel, Any, list[int]],
) -> None:
    model, ctx, _rows = decoded
    shared = CandidateBuffer()
    chain = SamplerChain(SamplingParams(temperature=0.7), 5, _n_vocab(model), shared)
    try:
        # Position 0 is the prompt's first token, decoded without a logits row.
        with pytest.raises(RuntimeError, match="no logits for batch position 0"):
            chain.sample(ctx, 0)
    finally:
        chain.close()
        shared.close()


_CHAINS_RSS_CHILD = """
import json, sys
import llama_cpp as llama
from app.core.inference.backend import ContextSpec, LoadedModel, SamplerChain, new_context
from app.core.inference.candidates import CandidateBuffer
from app.core.inference.sampling import SamplingParams

def rss():
    lines = open("/proc/self/status").read().splitlines()
    return next(int(line.split()[1]) * 1024 for line in lines if line.startswith("VmRSS"))

model = LoadedModel(sys.argv[1], use_extra_bufts=sys.argv[2] == "1")
ctx = new_context(model, ContextSpec(n_ctx=256, n_batch=256, n_threads=2))
tokens = model.tokenize("<|im_start|>user\\nHello<|im_end|>\\n")
array = (llama.llama_token * len(tokens))(*tokens)  # kept alive through the decode
assert llama.llama_decode(ctx, llama.llama_batch_get_one(array, len(tokens))) == 0
n_vocab = int(llama.llama_vocab_n_tokens(model.vocab))
params = SamplingParams(temperature=0.8, top_k=40)
growth = {}
for name in ("shared", "own"):
    shared = CandidateBuffer() if name == "shared" else None
    before = rss()
    chains = [SamplerChain(params, seed, n_vocab, shared) for seed in range(256)]
    for chain in chains:
        chain.sample(ctx, -1)
    growth[name] = rss() - before
print(json.dumps({"growth": growth, "n_vocab": n_vocab}))
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads Linux's VmRSS")
def test_256_chains_share_one_buffer_instead_of_256(test_model_path: Path) -> None:
    # A fresh process: the allocator's state of earlier tests does not blur the growth.
    # Shared first, so the chains with their own buffers cannot reuse freed memory.
    repack = choose_config(test_model_path).config.use_extra_bufts
    done = subprocess.run(
        [sys.executable, "-c", _CHAINS_RSS_CHILD, str(test_model_path), "1" if repack else "0"],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    per_chain_buffers = 256 * figures["n_vocab"] * 12  # llama_token_data: 12 bytes
    # The measurement sees llama.cpp's own per-chain buffers (144 MiB for SmolLM2) ...
    assert figures["growth"]["own"] > 0.8 * per_chain_buffers, figures
    # ... and the shared buffer pays for one of them, not 256.
    assert figures["growth"]["shared"] < per_chain_buffers / 16, figures
