"""Token confidence from servers: the OpenAI / vLLM logprobs shapes through the stand-in
server (tests.openai_shapes, which runs no model), a server that returns none (and says
why), and the real llama-server's n_probs against the test model's logits read back here."""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import llama_cpp as llama
import numpy as np
import pytest

from app.core.consensus.runner import ConsensusFinished, ConsensusReport, ConsensusRequest
from app.core.inference.engine import Engine, Finished, GenerationResult
from app.core.inference.sampling import RuntimeParams, SamplingParams
from app.core.inference.token_stats import row_stats
from app.core.remote.config import make_config
from app.core.remote.engine import ServerEngine
from app.core.remote.logprobs import LLAMA_SERVER_BASIS, N_PROBS, OPENAI_BASIS
from app.core.remote.runner import ServerConsensusRunner
from tests.openai_shapes import ShapeServer, logprob_of

QUESTION = [{"role": "user", "content": "What is 2 + 2?"}]
SAMPLING = SamplingParams(temperature=0.6, top_p=0.95, top_k=20, min_p=0.0, max_tokens=64, seed=40)


def _result(events: Iterable[Any]) -> GenerationResult:
    events = list(events)
    assert isinstance(events[-1], Finished)
    return events[-1].result


def _report(events: Iterable[Any]) -> ConsensusReport:
    events = list(events)
    assert isinstance(events[-1], ConsensusFinished)
    return events[-1].report


def _first_row(local: Engine, prompt: list[int]) -> np.ndarray:
    llama.llama_memory_clear(llama.llama_get_memory(local._ctx), True)
    assert local._decode(prompt) == 0
    n_vocab = int(llama.llama_vocab_n_tokens(local.model.vocab))
    return np.ctypeslib.as_array(llama.llama_get_logits_ith(local._ctx, -1), shape=(n_vocab,))


def _bound(logprobs: list[float]) -> float:
    return -sum(math.exp(lp) * lp for lp in logprobs) / math.log(2)


def test_vllm_logprobs_fill_token_stats_with_their_basis() -> None:
    with ShapeServer("vllm") as server, ServerEngine(make_config(server.url)) as engine:
        assert engine.capabilities.token_stats_reason is None
        result = _result(engine.generate(QUESTION, SAMPLING, token_stats=True))
        plain = _result(engine.generate(QUESTION, SAMPLING))
    sent = server.bodies("/v1/chat/completions")
    assert sent[0]["logprobs"] is True and sent[0]["top_logprobs"] == N_PROBS
    assert "logprobs" not in sent[1] and plain.token_stats is None
    stats = result.token_stats
    assert stats is not None and stats.basis == OPENAI_BASIS and stats.entropy_is_lower_bound
    texts = ["Let me ", "count: ", "1.", "The answer is ", "\\boxed{1}", "."]
    assert [stats.texts[t] for t in stats.token_ids] == texts
    assert stats.channels == ["trace"] * 3 + ["answer"] * 3
    assert stats.logprob == pytest.approx([logprob_of(t) for t in texts])
    for position, text in enumerate(texts):
        returned = [logprob_of(text) - i for i in range(N_PROBS)]
        assert stats.entropy_bits[position] == pytest.approx(_bound(returned))
        assert stats.top_logprobs[position] == pytest.approx(returned[:5])
    assert all(t < 0 for t in stats.token_ids)  # no ids from the server: stand-ins
    assert len(set(stats.token_ids)) == len(texts)
    shown = stats.to_json()
    assert shown["entropy_is_lower_bound"] is True and shown["basis"] == OPENAI_BASIS
    assert shown["sampled_logprob"] == [None] * 6 == shown["sampled_entropy_bits"]
    assert [channel for channel, _, _ in stats.spans()] == stats.channels


def test_a_server_without_logprobs_gives_none_and_says_why() -> None:
    with ShapeServer("openai") as server, ServerEngine(make_config(server.url)) as engine:
        reason = engine.capabilities.token_stats_reason
        result = _result(engine.generate(QUESTION, SAMPLING, token_stats=True))
        lines = engine.capabilities.lines()
    assert reason is not None and "no log-probabilities" in reason
    assert any(line.startswith("token confidence: none") for line in lines)
    assert result.token_stats is None
    assert "logprobs" not in server.bodies("/v1/chat/completions")[0]  # not even asked


def test_consensus_samples_on_a_vllm_server_carry_token_stats() -> None:
    with ShapeServer("vllm") as server, ServerEngine(make_config(server.url)) as engine:
        request = ConsensusRequest(QUESTION, SAMPLING, samples=4, token_stats=True)
        report = _report(ServerConsensusRunner(engine).run(request))
    assert len(report.finished) == 4
    for _, result in report.finished:
        assert result.token_stats is not None and len(result.token_stats) == 6
    assert all(b["top_logprobs"] == N_PROBS for b in server.bodies("/v1/chat/completions"))


@pytest.mark.model
@pytest.mark.slow
def test_llama_server_n_probs_are_the_model_distribution_before_the_chain(
    server_engine: ServerEngine, test_model_path: Path
) -> None:
    sampling = SamplingParams(temperature=0.6, top_p=0.95, top_k=20, min_p=0.0,
                              max_tokens=10, seed=21)  # fmt: skip
    runner = ServerConsensusRunner(server_engine)
    request = ConsensusRequest(QUESTION, sampling, samples=2, token_stats=True)
    prompt = runner.prepare(request)[0]
    report = _report(runner.run(request))
    with Engine(test_model_path, RuntimeParams(n_ctx=512, n_threads=2)) as local:
        n_vocab = int(llama.llama_vocab_n_tokens(local.model.vocab))
        for _, result in report.finished:
            stats = result.token_stats
            assert stats is not None and stats.basis == LLAMA_SERVER_BASIS
            assert stats.entropy_is_lower_bound and len(stats) == result.completion_tokens
            assert all(t >= 0 for ids in stats.top_ids for t in ids)  # the server's own ids
            # The same positions read back in the local engine: the server's figure is the
            # softmax of the raw logits at temperature 1 (as Quorum's logprob), not the
            # distribution after the chain (T 0.6, top-k 20). The two builds' kernels
            # differ (flash attention), so their logits drift apart by a few tenths of a
            # nat over ten tokens: the check is which basis it is nearer, and roughly.
            llama.llama_memory_clear(llama.llama_get_memory(local._ctx), True)
            fed = list(prompt)
            to_before = to_after = 0.0
            for position, token in enumerate(stats.token_ids):
                assert local._decode(fed if position == 0 else [fed[-1]]) == 0
                row = np.ctypeslib.as_array(
                    llama.llama_get_logits_ith(local._ctx, -1), shape=(n_vocab,)
                )
                here = row_stats(row, token, sampling)
                served = stats.logprob[position]
                assert served == pytest.approx(here.logprob, abs=0.5)
                if here.sampled_logprob is not None:
                    to_before += abs(served - here.logprob)
                    to_after += abs(served - here.sampled_logprob)
                assert stats.entropy_bits[position] <= here.entropy_bits + 0.5  # a lower bound
                fed.append(token)
            assert to_before < to_after, (to_before, to_after)
            assert stats.logprob[0] == pytest.approx(  # the first token: the same prompt
                row_stats(_first_row(local, prompt), stats.token_ids[0], sampling).logprob,
                abs=0.1,
            )
            assert any(v is not None for v in stats.sampled_logprob)  # replayed (top-k 20)
