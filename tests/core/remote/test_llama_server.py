"""The server engine against a real llama-server (built from the vendored llama.cpp)
running the real test model on 127.0.0.1 with -np 8."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterable
from typing import Any

import httpx2
import pytest

from app.core.consensus.batch import BatchFinished, SampleFinished
from app.core.consensus.runner import (
    ConsensusFinished,
    ConsensusProgress,
    ConsensusReport,
    ConsensusRequest,
)
from app.core.inference.engine import Finished, FinishReason, GenerationResult, TextChunk
from app.core.inference.sampling import SamplingParams
from app.core.remote.client import ServerAuthError
from app.core.remote.config import make_config
from app.core.remote.engine import ServerEngine
from app.core.remote.probe import RunPath, ServerKind
from app.core.remote.runner import ServerConsensusRunner
from tests.llama_server import LlamaServer
from tests.server_fixtures import API_KEY

pytestmark = [pytest.mark.model, pytest.mark.slow]

QUESTION = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]


def sampling(max_tokens: int = 32, seed: int = 100) -> SamplingParams:
    return SamplingParams(temperature=0.9, top_p=0.95, top_k=40, min_p=0.05,
                          max_tokens=max_tokens, seed=seed)  # fmt: skip


def final_result(events: Iterable[Any]) -> GenerationResult:
    events = list(events)
    assert isinstance(events[-1], Finished)
    assert sum(isinstance(e, Finished) for e in events) == 1
    return events[-1].result


def report_of(events: Iterable[Any]) -> ConsensusReport:
    events = list(events)
    assert isinstance(events[-1], ConsensusFinished)
    return events[-1].report


def test_probe_finds_what_llama_server_can_do(server_engine: ServerEngine) -> None:
    caps = server_engine.capabilities
    print("\n".join(caps.lines()))
    assert caps.kind is ServerKind.LLAMA_SERVER
    assert caps.slots == 8 and caps.n_ctx == 1024
    assert caps.n_cmpl and caps.n_probs and caps.seed and caps.cache_prompt
    assert caps.path is RunPath.N_CMPL
    assert caps.version and caps.model
    identity = server_engine.identity()
    assert identity["url"] == server_engine.config.base_url
    assert identity["consensus_path"] == "llama-server n_cmpl"
    assert API_KEY not in repr(identity)


def test_single_answer_streams_and_records_its_seed(server_engine: ServerEngine) -> None:
    events = list(server_engine.generate(QUESTION, sampling(max_tokens=48, seed=7)))
    chunks = [e for e in events if isinstance(e, TextChunk)]
    result = final_result(events)
    assert len(chunks) >= 3  # it streamed, token by token
    assert "".join(c.text for c in chunks).strip() == (result.trace + result.answer).strip()
    assert result.finish_reason in (FinishReason.STOP, FinishReason.LENGTH)
    assert result.seed == 7 and 1 <= result.completion_tokens <= 48
    assert result.prompt_tokens > 10 and result.error is None


def test_the_same_seed_gives_the_same_answer(server_engine: ServerEngine) -> None:
    first = final_result(server_engine.generate(QUESTION, sampling(seed=11)))
    again = final_result(server_engine.generate(QUESTION, sampling(seed=11)))
    assert (first.trace, first.answer) == (again.trace, again.answer)


def test_consensus_of_8_goes_through_one_n_cmpl_request(server_engine: ServerEngine) -> None:
    runner = ServerConsensusRunner(server_engine)
    report = report_of(runner.run(ConsensusRequest(QUESTION, sampling(seed=100), samples=8)))
    assert report.error is None and not report.cancelled
    assert runner.server_sampler.requests_sent == [(0, 8)]
    assert report.seeds == list(range(100, 108))  # the server gives completion i seed + i
    assert len(report.finished) == 8
    for index, result in report.finished:
        assert result.seed == 100 + index
        assert result.completion_tokens >= 1 and result.prompt_tokens > 10
    assert report.stats.n == 8
    # The seeds are the ones the samples really had: one sample asked for alone with its
    # seed on the same path reproduces it.
    again = report_of(runner.run(ConsensusRequest(QUESTION, sampling(seed=100), samples=8)))
    assert [r.answer for _, r in again.finished] == [r.answer for _, r in report.finished]


def test_consensus_of_20_refills_the_8_slots(server_engine: ServerEngine) -> None:
    runner = ServerConsensusRunner(server_engine)
    request = ConsensusRequest(QUESTION, sampling(seed=500), samples=20)
    events = list(runner.run(request))
    report = report_of(events)
    assert report.error is None and len(report.finished) == 20
    assert runner.server_sampler.requests_sent == [(0, 8)] + [(i, 1) for i in range(8, 20)]
    assert max(e.active for e in events if hasattr(e, "active")) <= 8
    assert [r.seed for _, r in report.finished] == list(range(500, 520))


def test_an_early_stop_cuts_the_samples_in_flight(
    server_engine: ServerEngine, llama_server: LlamaServer
) -> None:
    runner = ServerConsensusRunner(server_engine)
    sampler = runner.server_sampler
    tokens, plan, opens = runner.prepare(ConsensusRequest(QUESTION, sampling(), samples=20))
    long = sampling(max_tokens=400, seed=3)
    seeds = sampler.sample_seeds(3, 20)
    events = list(sampler.run(tokens, long, seeds, plan, starts_in_trace=opens,
                              should_stop=lambda: True))  # fmt: skip
    finished = events[-1]
    assert isinstance(finished, BatchFinished) and finished.stopped_early
    assert sum(isinstance(e, SampleFinished) for e in events) == 1
    assert finished.started <= 9  # the first wave, and perhaps one refill
    assert _slots_idle(llama_server, within_s=10)


def test_cancel_closes_the_connections_at_once(
    server_engine: ServerEngine, llama_server: LlamaServer
) -> None:
    runner = ServerConsensusRunner(server_engine)
    request = ConsensusRequest(QUESTION, sampling(max_tokens=600, seed=9), samples=8)
    cancelled_at: list[float] = []

    def cancel_after_tokens(events: Iterable[Any]) -> Iterable[Any]:
        for event in events:
            if getattr(event, "tokens", 0) > 16 and not cancelled_at:
                cancelled_at.append(time.perf_counter())
                threading.Thread(target=runner.cancel).start()
            yield event

    report = report_of(cancel_after_tokens(runner.run(request)))
    assert report.cancelled and report.error is None
    assert time.perf_counter() - cancelled_at[0] < 2.0
    assert _slots_idle(llama_server, within_s=10)
    # The server is free for the next question.
    assert final_result(server_engine.generate(QUESTION, sampling())).error is None


def test_a_server_killed_mid_run_ends_the_run_with_finished_samples_kept(
    fresh_server: LlamaServer,
) -> None:
    with ServerEngine(make_config(fresh_server.url)) as engine:
        runner = ServerConsensusRunner(engine)
        request = ConsensusRequest(QUESTION, sampling(max_tokens=600, seed=21), samples=20)
        events = []
        for event in runner.run(request):
            events.append(event)
            if getattr(event, "tokens", 0) > 24:
                fresh_server.kill()  # SIGKILL, once; later calls find it gone
        report = report_of(events)
    assert not report.cancelled
    assert report.error is not None and "closed the connection" in report.error
    assert f"the {len(report.finished)} finished samples are kept" in report.error


def test_a_wrong_api_key_is_refused_with_a_clear_message(llama_server: LlamaServer) -> None:
    with pytest.raises(ServerAuthError, match=r"refused the API key \(HTTP 401\)"):
        ServerEngine(make_config(llama_server.url, api_key="not-the-key"))
    with pytest.raises(ServerAuthError, match="needs an API key"):
        ServerEngine(make_config(llama_server.url))


def _slots_idle(server: LlamaServer, within_s: float) -> bool:
    """Whether every slot stops processing soon (the server saw the clients go)."""
    deadline = time.monotonic() + within_s
    headers = {"Authorization": f"Bearer {server.api_key}"} if server.api_key else {}
    while time.monotonic() < deadline:
        slots = httpx2.get(f"{server.url}/slots", headers=headers, timeout=5).json()
        if not any(slot.get("is_processing") for slot in slots):
            return True
        time.sleep(0.2)
    return False


def test_a_watched_sample_streams_its_text_from_the_server(server_engine: ServerEngine) -> None:
    # The n_cmpl path: sample 3 of 4 travels in the one shared request.
    runner = ServerConsensusRunner(server_engine)
    runner.watch(2)
    events = list(runner.run(ConsensusRequest(QUESTION, sampling(seed=700), samples=4)))
    seen = [e.watched for e in events if isinstance(e, ConsensusProgress) and e.watched]
    report = report_of(events)
    result = report.samples[2]
    assert result is not None and seen, "the watched sample's text never came"
    assert {w.index for w in seen} == {2}
    for before, after in itertools.pairwise(seen):
        assert after.answer.startswith(before.answer) and after.tokens >= before.tokens
    assert result.answer.startswith(seen[-1].answer)
