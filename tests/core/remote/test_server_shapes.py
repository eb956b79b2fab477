"""Protocol tests against vLLM / SGLang / plain OpenAI-compatible response shapes.

These run no model: ``tests.openai_shapes`` replays the documented response shapes of
those servers on 127.0.0.1. The real engine is tested against llama-server in
test_llama_server.py.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from typing import Any

import pytest

from app.core.consensus.runner import (
    ConsensusFinished,
    ConsensusReport,
    ConsensusRequest,
    ConsensusSample,
)
from app.core.inference.engine import Finished, FinishReason, GenerationResult, TextChunk
from app.core.inference.reasoning import Channel
from app.core.inference.sampling import SamplingParams
from app.core.remote.client import ServerAuthError
from app.core.remote.config import make_config
from app.core.remote.engine import ServerEngine
from app.core.remote.probe import RunPath, ServerKind, remembered
from app.core.remote.runner import ServerConsensusRunner
from tests.openai_shapes import MODEL, ShapeServer

QUESTION = [{"role": "user", "content": "What is 2 + 2?"}]


def final_result(events: Iterable[Any]) -> GenerationResult:
    """The result of the one Finished event, which must come last."""
    events = list(events)
    assert isinstance(events[-1], Finished)
    assert sum(isinstance(e, Finished) for e in events) == 1
    return events[-1].result


def final_report(events: list[Any]) -> ConsensusReport:
    assert isinstance(events[-1], ConsensusFinished)
    return events[-1].report


SAMPLING = SamplingParams(temperature=0.6, top_p=0.95, top_k=20, min_p=0.0, max_tokens=64, seed=40)


@pytest.mark.parametrize(
    ("kind", "expected", "version"),
    [("vllm", ServerKind.VLLM, "0.11.0"), ("sglang", ServerKind.SGLANG, "0.5.3")],
)
def test_probe_reads_vllm_and_sglang_shapes(kind: str, expected: ServerKind, version: str) -> None:
    with ShapeServer(kind) as server, ServerEngine(make_config(server.url)) as engine:
        caps = engine.capabilities
    assert caps.kind is expected
    assert caps.version == version
    assert caps.models == (MODEL,) and caps.model == MODEL
    assert caps.n_choices and caps.logprobs and caps.seed
    assert not caps.n_cmpl and caps.path is RunPath.CONCURRENT
    test_request = server.bodies("/v1/completions")[0]
    assert test_request["n"] == 2 and test_request["model"] == MODEL


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_split_reasoning_from_the_server_goes_to_the_trace(field: str) -> None:
    with (
        ShapeServer("vllm", reasoning_field=field) as server,
        ServerEngine(make_config(server.url)) as engine,
    ):
        events = list(engine.generate(QUESTION, SAMPLING))
    chunks = [e for e in events if isinstance(e, TextChunk)]
    result = final_result(events)
    assert {c.channel for c in chunks} == {Channel.TRACE, Channel.ANSWER}
    assert result.trace == "Let me count: 1."  # seed 40 -> 40 % 3
    assert result.answer == "The answer is \\boxed{1}."
    assert result.extracted is not None and result.extracted.text == "1"
    assert result.finish_reason is FinishReason.STOP
    assert result.completion_tokens == 6 and result.prompt_tokens == 14  # the server's usage
    assert result.seed == 40
    sent = server.bodies("/v1/chat/completions")[0]
    assert sent["seed"] == 40 and sent["top_k"] == 20 and sent["model"] == MODEL


def test_think_tags_in_plain_text_go_through_the_splitter() -> None:
    with (
        ShapeServer("sglang", reasoning_field=None) as server,
        ServerEngine(make_config(server.url)) as engine,
    ):
        result = final_result(engine.generate(QUESTION, SAMPLING))
    assert result.trace == "Let me count: 1."
    assert result.answer == "The answer is \\boxed{1}."


def test_plain_openai_server_gets_only_standard_fields() -> None:
    with ShapeServer("openai") as server, ServerEngine(make_config(server.url)) as engine:
        assert engine.capabilities.kind is ServerKind.OPENAI
        assert not engine.capabilities.n_choices  # it has no /v1/completions
        result = final_result(engine.generate(QUESTION, SAMPLING))
    assert result.finish_reason is FinishReason.STOP
    sent = server.bodies("/v1/chat/completions")[0]
    assert "top_k" not in sent and "min_p" not in sent and "chat_template_kwargs" not in sent


def test_consensus_over_concurrent_requests_gives_each_sample_its_seed() -> None:
    with ShapeServer("vllm") as server, ServerEngine(make_config(server.url)) as engine:
        runner = ServerConsensusRunner(engine)
        events = list(runner.run(ConsensusRequest(QUESTION, SAMPLING, samples=12)))
    report = final_report(events)
    assert report.error is None and not report.cancelled
    assert len(report.finished) == 12
    sent_seeds = sorted(body["seed"] for body in server.bodies("/v1/chat/completions"))
    assert sent_seeds == sorted(report.seeds) and len(set(report.seeds)) == 12
    for index, result in report.finished:
        assert result.seed == report.seeds[index]
        assert result.extracted is not None and result.extracted.text == str(result.seed % 3)
    shares = {label: count for label, count, _members in report.stats.groups}
    expected: dict[str, int] = {}
    for seed in report.seeds:
        expected[str(seed % 3)] = expected.get(str(seed % 3), 0) + 1
    assert shares == expected
    assert sum(isinstance(e, ConsensusSample) for e in events) == 12


def test_cancel_cuts_the_streams_and_keeps_finished_samples() -> None:
    with (
        ShapeServer("vllm", token_delay_s=0.2) as server,
        ServerEngine(make_config(server.url)) as engine,
    ):
        runner = ServerConsensusRunner(engine)
        timer = threading.Timer(0.5, runner.cancel)
        timer.start()
        events = list(runner.run(ConsensusRequest(QUESTION, SAMPLING, samples=8)))
        timer.join()
    report = final_report(events)
    assert report.cancelled and report.error is None
    assert report.finished == []  # each answer takes 2.2 s; the cancel came at 0.5 s
    assert threading.active_count() < 20  # the reader threads ended


def test_wrong_key_is_a_clear_error() -> None:
    with ShapeServer("vllm", api_key="right") as server:
        with pytest.raises(ServerAuthError, match=r"refused the API key \(HTTP 401\)"):
            ServerEngine(make_config(server.url, api_key="wrong"))
        with pytest.raises(ServerAuthError, match=r"needs an API key"):
            ServerEngine(make_config(server.url))
        with ServerEngine(make_config(server.url, api_key="right")) as engine:
            assert engine.capabilities.kind is ServerKind.VLLM
            identity = engine.identity()
    # What the probe remembers, and what a run records, never holds the key.
    assert remembered()[server.url]["kind"] == "vllm"
    assert "right" not in json.dumps(remembered()) and "right" not in json.dumps(identity)


def test_cancel_of_a_single_answer_cuts_its_stream_at_once() -> None:
    with (
        ShapeServer("vllm", token_delay_s=0.5) as server,
        ServerEngine(make_config(server.url)) as engine,
    ):
        started = time.perf_counter()
        threading.Timer(0.3, engine.cancel).start()
        result = final_result(engine.generate(QUESTION, SAMPLING))
        elapsed = time.perf_counter() - started
    assert result.finish_reason is FinishReason.CANCELLED and result.error is None
    assert elapsed < 1.5  # the whole answer would take 5 s
    assert result.seed == 40
