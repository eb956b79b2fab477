"""The inference thread with the real model: batching, stop, shutdown, load errors."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.core.inference.engine import FinishReason, GenerationResult
from app.core.inference.requests import ModelDescription
from app.core.inference.sampling import RuntimeParams, SamplingParams
from app.ui.conversation.inference_thread import InferenceThread

pytestmark = [pytest.mark.gui, pytest.mark.model]

RUNTIME = RuntimeParams(n_ctx=1024, n_threads=1)  # one thread: robust on a busy machine
STORY = [{"role": "user", "content": "Write a long story about a lighthouse keeper."}]


@pytest.fixture
def inference(qtbot: QtBot) -> Iterator[InferenceThread]:
    thread = InferenceThread(flush_interval_s=0.03)
    yield thread
    assert thread.shutdown(timeout_ms=10_000)
    assert thread.qthread.isFinished()


@pytest.fixture
def loaded(inference: InferenceThread, qtbot: QtBot, test_model_path: Path) -> InferenceThread:
    with qtbot.waitSignal(inference.worker.model_loaded, timeout=30_000) as signal:
        inference.load_model(test_model_path, RUNTIME)
    model: ModelDescription = signal.args[0]
    assert model.path == test_model_path
    assert model.supports_thinking is False
    assert model.n_ctx == 1024
    return inference


def test_chunks_are_batched_and_lose_no_text(loaded: InferenceThread, qtbot: QtBot) -> None:
    loaded.worker.flush_interval_s = 0.2
    chunks: list[tuple[str, str, int, float]] = []
    loaded.worker.chunk_received.connect(
        lambda trace, answer, tokens: chunks.append((trace, answer, tokens, time.monotonic()))
    )
    params = SamplingParams(max_tokens=120, seed=3, temperature=0.7)
    with qtbot.waitSignal(loaded.worker.run_finished, timeout=60_000) as signal:
        loaded.generate(STORY, params, None)
    result: GenerationResult = signal.args[0]
    assert result.completion_tokens > 20
    assert "".join(c[1] for c in chunks) == result.answer
    assert "".join(c[0] for c in chunks) == result.trace
    assert [c[2] for c in chunks] == sorted(c[2] for c in chunks)
    # Far fewer signals than tokens, and (but for the final flush) none closer than 0.2 s
    # apart on the worker's clock, which the GUI's arrival times can only spread out.
    assert len(chunks) < result.completion_tokens / 2
    assert len(chunks) <= result.seconds / 0.2 + 2


def test_stop_from_gui_thread_cancels_within_a_moment(
    loaded: InferenceThread, qtbot: QtBot
) -> None:
    with qtbot.waitSignal(loaded.worker.chunk_received, timeout=30_000):
        loaded.generate(STORY, SamplingParams(max_tokens=4000, seed=1), None)
    started = time.monotonic()
    with qtbot.waitSignal(loaded.worker.run_finished, timeout=5000) as signal:
        loaded.stop()
    assert time.monotonic() - started < 2.0
    result: GenerationResult = signal.args[0]
    assert result.finish_reason == FinishReason.CANCELLED
    assert result.completion_tokens < 4000


def test_stop_right_after_asking_is_not_lost(loaded: InferenceThread, qtbot: QtBot) -> None:
    # The request is queued to the worker; Stop may arrive before generate() even starts.
    with qtbot.waitSignal(loaded.worker.run_finished, timeout=10_000) as signal:
        loaded.generate(STORY, SamplingParams(max_tokens=4000, seed=1), None)
        loaded.stop()
    assert signal.args[0].finish_reason == FinishReason.CANCELLED
    # ...and the next run is not cancelled by that old stop.
    with qtbot.waitSignal(loaded.worker.run_finished, timeout=30_000) as signal:
        loaded.generate(STORY, SamplingParams(max_tokens=8, seed=1), None)
    assert signal.args[0].finish_reason != FinishReason.CANCELLED
    assert signal.args[0].completion_tokens > 0


def test_invalid_sampling_reports_an_error_result(loaded: InferenceThread, qtbot: QtBot) -> None:
    with qtbot.waitSignal(loaded.worker.run_finished, timeout=10_000) as signal:
        loaded.generate(STORY, SamplingParams(top_p=0.0), None)
    result: GenerationResult = signal.args[0]
    assert result.finish_reason == FinishReason.ERROR
    assert result.error is not None and "top-p" in result.error


def test_generate_without_a_model(inference: InferenceThread, qtbot: QtBot) -> None:
    with qtbot.waitSignal(inference.worker.run_finished, timeout=5000) as signal:
        inference.generate(STORY, SamplingParams(), None)
    assert signal.args[0].finish_reason == FinishReason.ERROR
    assert "No model" in signal.args[0].error


def test_shutdown_mid_run_stops_the_thread(loaded: InferenceThread, qtbot: QtBot) -> None:
    with qtbot.waitSignal(loaded.worker.chunk_received, timeout=30_000):
        loaded.generate(STORY, SamplingParams(max_tokens=4000, seed=1), None)
    started = time.monotonic()
    assert loaded.shutdown(timeout_ms=10_000)
    assert time.monotonic() - started < 3.0
    assert not loaded.qthread.isRunning()
    assert loaded.shutdown()  # a second call is harmless


def test_broken_file_reports_a_message_and_the_thread_survives(
    inference: InferenceThread, qtbot: QtBot, tmp_path: Path, test_model_path: Path
) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\xff" * 64)
    with qtbot.waitSignal(inference.worker.model_failed, timeout=10_000) as signal:
        inference.load_model(broken, RUNTIME)
    message: str = signal.args[0]
    assert message and "Traceback" not in message
    assert "\n" not in message.strip()
    missing = tmp_path / "missing.gguf"
    with qtbot.waitSignal(inference.worker.model_failed, timeout=10_000):
        inference.load_model(missing, RUNTIME)
    with qtbot.waitSignal(inference.worker.model_loaded, timeout=30_000):
        inference.load_model(test_model_path, RUNTIME)
