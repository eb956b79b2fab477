"""Token confidence in the batched sampler: each sample's figures against a softmax of the
model's logits read back independently, against the single engine's function on those
logits, and the tokens a thinking budget wrote marked as such."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import llama_cpp as llama
import numpy as np
import pytest

from app.core.consensus.batch import BatchFinished, BatchSampler, sample_seeds
from app.core.consensus.memory_plan import ConsensusPlan, context_spec, plan_consensus
from app.core.inference.backend import free_context, new_context
from app.core.inference.engine import Engine, GenerationResult
from app.core.inference.sampling import RuntimeParams, SamplingParams
from app.core.inference.think_budget import ThinkBudget
from app.core.inference.token_stats import row_stats

pytestmark = pytest.mark.model

QUESTION = [{"role": "user", "content": "Name a colour and say why you like it."}]
PARAMS = SamplingParams(temperature=0.9, top_p=0.95, top_k=40, min_p=0.05, max_tokens=8, seed=3)


@pytest.fixture(scope="module")
def engine(test_model_path: Path) -> Iterator[Engine]:
    with Engine(test_model_path, RuntimeParams(n_ctx=512, n_threads=2)) as eng:
        yield eng


def _plan(engine: Engine, samples: int, prompt_tokens: int) -> ConsensusPlan:
    return plan_consensus(
        engine.info, samples=samples, prompt_tokens=prompt_tokens, max_tokens=PARAMS.max_tokens,
        max_parallel=samples, budget_bytes=1024**3,
    )  # fmt: skip


def _batch(
    engine: Engine, samples: int, *, token_stats: bool, **options: object
) -> list[GenerationResult]:
    prompt = engine.model.tokenize(engine.render_prompt(QUESTION, None))
    plan = _plan(engine, samples, len(prompt))
    seeds = sample_seeds(PARAMS.seed or 0, samples)
    sampler = BatchSampler(engine.model, 2)
    events = list(sampler.run(prompt, PARAMS, seeds, plan, token_stats=token_stats, **options))  # type: ignore[arg-type]
    final = events[-1]
    assert isinstance(final, BatchFinished) and final.error is None
    results = [r for r in final.results if r is not None]
    assert len(results) == samples
    return results


def _logits_read_back(engine: Engine, tokens: list[int]) -> np.ndarray:
    """The model's logits before each of ``tokens``, one position at a time on a fresh pass,
    in a context built as a batch's is (its attention kernels: llama.cpp's flash attention
    is on there, off in the single engine, and the two differ by up to 0.2 nats here)."""
    prompt = engine.model.tokenize(engine.render_prompt(QUESTION, None))
    plan = _plan(engine, 4, len(prompt))
    ctx = new_context(engine.model, context_spec(plan, 2))
    n_vocab = int(llama.llama_vocab_n_tokens(engine.model.vocab))
    rows = []
    try:
        fed = list(prompt)
        for position, token in enumerate(tokens):
            chunk = fed if position == 0 else [fed[-1]]
            array = (llama.llama_token * len(chunk))(*chunk)
            assert llama.llama_decode(ctx, llama.llama_batch_get_one(array, len(chunk))) == 0
            row = np.ctypeslib.as_array(llama.llama_get_logits_ith(ctx, -1), shape=(n_vocab,))
            rows.append(row.copy())
            fed.append(token)
    finally:
        free_context(ctx)
    return np.array(rows)


def test_each_sample_has_the_model_figures_of_its_own_tokens(engine: Engine) -> None:
    results = _batch(engine, 4, token_stats=True)
    assert len({r.trace + r.answer for r in results}) > 1, "seeded samples must differ"
    for result in results:
        stats = result.token_stats
        assert stats is not None
        n = result.completion_tokens
        assert len(stats) == n and len(stats.logprob) == len(stats.top_ids) == n
        assert all(len(ids) == 5 for ids in stats.top_ids) and stats.forced == []
        text = b"".join(engine.model.piece(t) for t in stats.token_ids).decode("utf-8", "replace")
        assert text.strip() == (result.trace + result.answer).strip()
        # A softmax of the logits read back, done here in float64: the batch's rows must be
        # this sample's own (a row from another slot would give another distribution).
        logits = _logits_read_back(engine, stats.token_ids).astype(np.float64)
        log_p = logits - logits.max(axis=1, keepdims=True)
        log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))
        entropy = -(np.exp(log_p) * log_p).sum(axis=1) / math.log(2)
        chosen = log_p[np.arange(n), stats.token_ids]
        # Batched and one-at-a-time decodes round differently in the last float digits.
        assert stats.logprob == pytest.approx(chosen.tolist(), abs=1e-4)
        assert stats.entropy_bits == pytest.approx(entropy.tolist(), abs=1e-4)
        assert [ids[0] for ids in stats.top_ids] == log_p.argmax(axis=1).tolist()
        assert all(lp is not None for lp in stats.sampled_logprob)


def test_batch_figures_are_the_single_engine_figures_of_the_same_logits(
    engine: Engine,
) -> None:
    # One meaning everywhere: each batch row gives what the single engine's row_stats
    # gives for that sample's logits (read back one row at a time), after-chain included.
    for result in _batch(engine, 3, token_stats=True):
        stats = result.token_stats
        assert stats is not None
        logits = _logits_read_back(engine, stats.token_ids)
        for position, token in enumerate(stats.token_ids):
            one = row_stats(logits[position], token, result.sampling)
            assert stats.logprob[position] == pytest.approx(one.logprob, abs=1e-4)
            assert stats.entropy_bits[position] == pytest.approx(one.entropy_bits, abs=1e-4)
            assert stats.top_ids[position][0] == one.top_ids[0]
            assert stats.top_logprobs[position] == pytest.approx(one.top_logprobs, abs=1e-4)
            assert stats.sampled_logprob[position] == pytest.approx(one.sampled_logprob, abs=1e-4)
            assert stats.sampled_entropy_bits[position] == pytest.approx(
                one.sampled_entropy_bits, abs=1e-4
            )


def test_off_gives_none_and_the_same_samples(engine: Engine) -> None:
    on = _batch(engine, 2, token_stats=True)
    off = _batch(engine, 2, token_stats=False)
    assert all(r.token_stats is None for r in off)
    assert [r.trace + r.answer for r in off] == [r.trace + r.answer for r in on]


def test_tokens_a_thinking_budget_wrote_are_marked_forced(engine: Engine) -> None:
    close = engine.model.tokenize("</think>\n\n", add_special=False)
    results = _batch(
        engine, 2, token_stats=True, starts_in_trace=True,
        make_budget=lambda: ThinkBudget(0, close, starts_in_trace=True),
    )  # fmt: skip
    for result in results:
        stats = result.token_stats
        assert stats is not None
        assert stats.forced == list(range(len(close)))
        assert stats.token_ids[: len(close)] == close
        # Written, not drawn: still the model's figures at that point, all finite.
        assert all(math.isfinite(v) and v <= 0 for v in stats.logprob[: len(close)])
        assert stats.to_json()["forced"] == stats.forced
