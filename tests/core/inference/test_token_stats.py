"""Token confidence: the figures against a softmax computed by hand, on made-up logits and
on the real test model's logits read back independently, one position at a time."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import llama_cpp as llama
import numpy as np
import pytest

from app.core.inference.engine import Engine, Finished
from app.core.inference.sampling import RuntimeParams, SamplingParams
from app.core.inference.token_stats import row_stats


def _softmax_by_hand(logits: list[float], temperature: float = 1.0) -> list[float]:
    scaled = [x / temperature for x in logits]
    peak = max(scaled)
    weights = [math.exp(x - peak) for x in scaled]
    total = sum(weights)
    return [w / total for w in weights]


def _entropy_bits(p: list[float]) -> float:
    return -sum(q * math.log2(q) for q in p if q > 0)


def test_raw_figures_match_a_softmax_by_hand() -> None:
    logits = [2.0, 1.0, 0.5, -1.0, 3.0, 0.0, -2.0]
    p = _softmax_by_hand(logits)
    plain = SamplingParams(temperature=1.0, top_k=0, top_p=1.0, min_p=0.0)
    row = row_stats(np.array(logits, dtype=np.float32), 0, plain)
    assert row.logprob == pytest.approx(math.log(p[0]), abs=1e-6)
    assert row.entropy_bits == pytest.approx(_entropy_bits(p), abs=1e-6)
    assert row.top_ids == [4, 0, 1, 2, 5]
    assert row.top_logprobs == pytest.approx([math.log(p[i]) for i in (4, 0, 1, 2, 5)], abs=1e-6)
    # No truncation and temperature 1: the drawn-from distribution is the model's.
    assert row.sampled_logprob == pytest.approx(row.logprob, abs=1e-6)
    assert row.sampled_entropy_bits == pytest.approx(row.entropy_bits, abs=1e-6)


def test_sampled_figures_replay_top_k_top_p_min_p_and_temperature() -> None:
    logits = [2.0, 1.0, 0.5, -1.0, 3.0, 0.0, -2.0]
    # top-k 4 keeps ids 4, 0, 1, 2; their softmax is about .61 .22 .08 .05 (sum .96 of 4),
    # renormalised .64 .24 .09 .05: top-p 0.9 keeps 4, 0, 1 (cumulative .64, .87, .96).
    chain = SamplingParams(temperature=0.5, top_k=4, top_p=0.9, min_p=0.0)
    kept = [logits[i] for i in (4, 0, 1)]
    q = _softmax_by_hand(kept, temperature=0.5)
    row = row_stats(np.array(logits, dtype=np.float32), 0, chain)
    assert row.sampled_logprob == pytest.approx(math.log(q[1]), abs=1e-6)
    assert row.sampled_entropy_bits == pytest.approx(_entropy_bits(q), abs=1e-6)
    # min-p 0.3 drops id 1 (.09 < .3 x .64) but keeps id 0 (.24 >= .19).
    narrower = SamplingParams(temperature=0.5, top_k=4, top_p=0.9, min_p=0.3)
    q2 = _softmax_by_hand([logits[4], logits[0]], temperature=0.5)
    row2 = row_stats(np.array(logits, dtype=np.float32), 0, narrower)
    assert row2.sampled_logprob == pytest.approx(math.log(q2[1]), abs=1e-6)
    dropped = row_stats(np.array(logits, dtype=np.float32), 1, narrower)
    assert dropped.sampled_logprob is None  # the chain could not have drawn it
    greedy = row_stats(np.array(logits, dtype=np.float32), 4, SamplingParams(temperature=0.0))
    assert (greedy.sampled_logprob, greedy.sampled_entropy_bits) == (0.0, 0.0)


@pytest.fixture(scope="module")
def engine(test_model_path: Path) -> Iterator[Engine]:
    with Engine(test_model_path, RuntimeParams(n_ctx=1024)) as eng:
        yield eng


def test_engine_figures_match_the_model_logits_read_back(engine: Engine) -> None:
    messages = [{"role": "user", "content": "Name three colours."}]
    sampling = SamplingParams(temperature=0.8, top_k=40, top_p=0.95, min_p=0.05,
                              max_tokens=12, seed=5)  # fmt: skip
    result = None
    for event in engine.generate(messages, sampling, None, token_stats=True):
        if isinstance(event, Finished):
            result = event.result
    assert result is not None and result.token_stats is not None
    stats = result.token_stats
    assert len(stats) == result.completion_tokens == 12
    text = b"".join(engine.model.piece(t) for t in stats.token_ids).decode("utf-8", "replace")
    assert text.strip() == (result.trace + result.answer).strip()
    assert set(stats.channels) <= {"trace", "answer"}
    # Each token's text is kept by id, and its span points at that text in its channel.
    assert all(stats.texts[t] == engine.model.piece_text(t) for t in stats.token_ids)
    assert all(t in stats.texts for ids in stats.top_ids for t in ids)
    shown = {"trace": result.trace, "answer": result.answer}
    covered = {"trace": "", "answer": ""}
    for (channel, start, end), token in zip(stats.spans(), stats.token_ids, strict=True):
        assert 0 <= start <= end <= len(shown[channel])
        covered[channel] += shown[channel][start:end]
        assert stats.texts[token].strip() == "" or shown[channel][start:end].strip() != ""
    assert covered == shown  # the spans tile both channels, in order
    # Off costs nothing: no figures at all.
    plain = [e for e in engine.generate(messages, sampling, None) if isinstance(e, Finished)]
    assert plain[0].result.token_stats is None

    # Read the logits back on a fresh pass, one position at a time, and do the sums by hand.
    prompt = engine.model.tokenize(engine.render_prompt(messages, None))
    ctx = engine._ctx
    llama.llama_memory_clear(llama.llama_get_memory(ctx), True)
    n_vocab = int(llama.llama_vocab_n_tokens(engine.model.vocab))
    fed = list(prompt)
    for position, token in enumerate(stats.token_ids):
        assert engine._decode(fed if position == 0 else [fed[-1]]) == 0
        row = llama.llama_get_logits_ith(ctx, -1)
        logits = [row[i] for i in range(n_vocab)]
        p = _softmax_by_hand(logits)
        assert stats.logprob[position] == pytest.approx(math.log(p[token]), abs=1e-4)
        assert stats.entropy_bits[position] == pytest.approx(_entropy_bits(p), abs=1e-4)
        best = max(range(n_vocab), key=lambda i: logits[i])
        assert stats.top_ids[position][0] == best
        assert stats.top_logprobs[position][0] == pytest.approx(math.log(p[best]), abs=1e-4)
        assert stats.sampled_logprob[position] is not None  # the replay kept the drawn token
        fed.append(token)
