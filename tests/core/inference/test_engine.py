"""The engine against the real SmolLM2-135M model running in llama.cpp."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from app.core.answers.extract import extract_answer
from app.core.inference.engine import (
    Engine,
    Finished,
    FinishReason,
    GenerationResult,
    ModelLoadError,
    PromptEvaluated,
    TextChunk,
)
from app.core.inference.reasoning import Channel
from app.core.inference.sampling import RuntimeParams, SamplingParams

pytestmark = pytest.mark.model

QUESTION = [{"role": "user", "content": "What is 12 + 30? Explain briefly."}]


@pytest.fixture(scope="module")
def engine(test_model_path: Path) -> Iterator[Engine]:
    with Engine(test_model_path, RuntimeParams(n_ctx=2048)) as eng:
        yield eng


def run_to_end(
    engine: Engine, sampling: SamplingParams, messages: list[dict[str, str]] = QUESTION
) -> tuple[list[object], GenerationResult]:
    events = list(engine.generate(messages, sampling))
    final = events[-1]
    assert isinstance(final, Finished)
    assert sum(isinstance(e, Finished) for e in events) == 1
    return events, final.result


def test_streams_events_and_records_everything(engine: Engine) -> None:
    events, result = run_to_end(engine, SamplingParams(seed=7, max_tokens=64))
    assert isinstance(events[0], PromptEvaluated)
    chunks = [e for e in events if isinstance(e, TextChunk)]
    assert len(chunks) > 3, "text arrives token by token, not at the end"
    assert "".join(c.text for c in chunks if c.channel is Channel.ANSWER) == result.answer
    assert result.finish_reason in (FinishReason.STOP, FinishReason.LENGTH)
    assert 0 < result.completion_tokens <= 64
    assert result.prompt_tokens > 5
    assert result.seed == 7
    assert result.time_to_first_token is not None and result.time_to_first_token > 0
    assert result.trace == ""  # SmolLM2 does not think


def test_fresh_seed_is_drawn_and_recorded(engine: Engine) -> None:
    _, result = run_to_end(engine, SamplingParams(seed=None, max_tokens=4))
    assert isinstance(result.seed, int) and 0 <= result.seed < 2**31


def test_same_seed_reproduces_text(engine: Engine) -> None:
    params = SamplingParams(seed=1234, temperature=0.9, max_tokens=48)
    _, first = run_to_end(engine, params)
    _, other = run_to_end(engine, replace(params, seed=99))
    _, again = run_to_end(engine, params)
    assert first.answer == again.answer
    assert first.answer != other.answer


def test_max_tokens_ends_with_length(engine: Engine) -> None:
    _, result = run_to_end(engine, SamplingParams(seed=3, max_tokens=5))
    assert result.finish_reason == FinishReason.LENGTH
    assert result.completion_tokens == 5


def test_answer_cut_by_max_tokens_mid_number_is_not_extracted(engine: Engine) -> None:
    # Greedy SmolLM2 answers this with digits and no spaces: 10 tokens end mid-number.
    counting = [{"role": "user", "content": "Count from 1 to 40, separated by spaces."}]
    _, result = run_to_end(engine, SamplingParams(seed=1, temperature=0.0, max_tokens=10), counting)
    assert result.finish_reason == FinishReason.LENGTH
    assert result.answer.rstrip()[-1:].isdigit()
    assert extract_answer(result.answer) is not None  # finished, the same text would count
    assert result.extracted is None


def _cancel_after(
    engine: Engine,
    generator: Iterator[object],
    trigger: type,
) -> tuple[GenerationResult, float]:
    """Iterate in a worker thread; cancel from this thread once ``trigger`` arrives."""
    seen = threading.Event()
    done: dict[str, object] = {}

    def consume() -> None:
        for event in generator:
            if isinstance(event, trigger):
                seen.set()
            if isinstance(event, Finished):
                done["result"] = event.result
                done["at"] = time.perf_counter()

    worker = threading.Thread(target=consume)
    worker.start()
    assert seen.wait(60)
    cancelled_at = time.perf_counter()
    engine.cancel()
    worker.join(10)
    assert not worker.is_alive()
    result = done["result"]
    assert isinstance(result, GenerationResult)
    return result, float(done["at"]) - cancelled_at  # type: ignore[arg-type]


def test_cancel_mid_generation_is_prompt_and_engine_stays_usable(engine: Engine) -> None:
    params = SamplingParams(seed=5, max_tokens=2000, temperature=1.0)
    gen = engine.generate([{"role": "user", "content": "Write a very long story."}], params)
    result, latency = _cancel_after(engine, gen, TextChunk)
    assert result.finish_reason == FinishReason.CANCELLED
    assert latency < 0.2
    # The next run is unaffected by the cancelled one.
    short = SamplingParams(seed=11, max_tokens=20)
    _, after_cancel = run_to_end(engine, short)
    with Engine(engine.path, RuntimeParams(n_ctx=2048)) as fresh:
        _, from_fresh = run_to_end(fresh, short)
    assert after_cancel.answer == from_fresh.answer


def test_cancel_during_long_prompt_evaluation(test_model_path: Path) -> None:
    # One decode of a 4000-token batch takes seconds here; only the abort callback
    # can stop it inside llama_decode.
    runtime = RuntimeParams(n_ctx=8192, n_batch=4096)
    long_question = [{"role": "user", "content": "word " * 3800 + "\nSummarise."}]
    with Engine(test_model_path, runtime) as eng:
        gen = eng.generate(long_question, SamplingParams(seed=1, max_tokens=8))
        started = threading.Event()
        out: dict[str, object] = {}

        def consume() -> None:
            started.set()
            for event in gen:
                out.setdefault("first", event)

        worker = threading.Thread(target=consume)
        worker.start()
        started.wait(5)
        time.sleep(0.3)  # tokenizing is quick; by now llama_decode is running
        cancelled_at = time.perf_counter()
        eng.cancel()
        worker.join(10)
        latency = time.perf_counter() - cancelled_at
        first = out["first"]
        assert isinstance(first, Finished), "cancelled before the prompt finished"
        assert first.result.finish_reason == FinishReason.CANCELLED
        assert latency < 0.2
        _, result = run_to_end(eng, SamplingParams(seed=1, max_tokens=4))
        assert result.finish_reason == FinishReason.LENGTH


def test_prompt_longer_than_context_is_refused_cleanly(test_model_path: Path) -> None:
    with Engine(test_model_path, RuntimeParams(n_ctx=256)) as eng:
        _, result = run_to_end(
            eng, SamplingParams(seed=1), [{"role": "user", "content": "apple " * 400}]
        )
    assert result.finish_reason == FinishReason.PROMPT_TOO_LONG
    assert "context" in (result.error or "")
    assert result.completion_tokens == 0


def test_generation_reaching_context_end_stops_cleanly(test_model_path: Path) -> None:
    with Engine(test_model_path, RuntimeParams(n_ctx=256)) as eng:
        _, result = run_to_end(
            eng,
            SamplingParams(seed=2, max_tokens=5000, temperature=1.2),
            [{"role": "user", "content": "Count from 1 to 1000."}],
        )
    assert result.finish_reason in (FinishReason.CONTEXT_FULL, FinishReason.STOP)
    assert result.prompt_tokens + result.completion_tokens <= 256


def test_llama_log_goes_to_python_logging(
    test_model_path: Path, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="llama.cpp"), Engine(test_model_path) as eng:
        list(eng.generate(QUESTION, SamplingParams(seed=1, max_tokens=2)))
    captured = capfd.readouterr()
    assert "llama" not in captured.err
    assert any(r.name == "llama.cpp" for r in caplog.records)


@pytest.mark.parametrize("content", [b"", b"<html>nope</html>" * 10, b"GGUF\x03\x00\x00\x00"])
def test_bad_files_give_model_errors(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(content)
    with pytest.raises(ModelLoadError):
        Engine(bad)


def test_truncated_model_never_reaches_llama(tmp_path: Path, test_model_path: Path) -> None:
    cut = tmp_path / "cut.gguf"
    with test_model_path.open("rb") as src:
        cut.write_bytes(src.read(50_000_000))
    with pytest.raises(ModelLoadError, match="truncated"):
        Engine(cut)


def test_llama_refusal_quotes_llama_cpp_reason(tmp_path: Path, test_model_path: Path) -> None:
    from tests.gguf_edit import copy_with_string

    odd = copy_with_string(
        test_model_path, tmp_path / "odd.gguf", "general.architecture", "nonesuch"
    )
    with pytest.raises(ModelLoadError, match="unknown model architecture: 'nonesuch'"):
        Engine(odd)


def _rss_bytes() -> int:
    status = Path("/proc/self/status").read_text().splitlines()
    return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS"))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads Linux's VmRSS")
def test_a_consensus_run_replaces_the_answer_context_and_the_next_answer_reopens_it(
    test_model_path: Path,
) -> None:
    from app.core.consensus.runner import ConsensusRequest, ConsensusRunner
    from app.core.inference.contexts import kv_bytes_per_token

    sampling = SamplingParams(seed=3, max_tokens=12)
    with Engine(test_model_path, RuntimeParams(n_ctx=4096, n_threads=2)) as eng:
        _, before = run_to_end(eng, sampling)
        held = _rss_bytes()
        list(ConsensusRunner(eng).run(ConsensusRequest(QUESTION, sampling, 2)))
        # The engine's idle context went before the batch made its own, and only the
        # batch's, far smaller, is left open for the next batch (contexts.py).
        kept = eng.contexts.spec
        assert kept is not None and kept.n_seq_max == 2 and kept.n_ctx <= eng.n_ctx // 4
        engine_kv = eng.n_ctx * kv_bytes_per_token(eng.info)
        assert held - _rss_bytes() > 0.6 * engine_kv, (held / 2**20, engine_kv / 2**20)
        _, after = run_to_end(eng, sampling)
    assert after.finish_reason is before.finish_reason
    assert (after.trace, after.answer) == (before.trace, before.answer)
