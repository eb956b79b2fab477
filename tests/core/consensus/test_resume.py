"""Resuming an interrupted consensus run: what can be resumed, and the runner decoding only
the missing indices with their own seeds (real engine, real test model)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from app.core.consensus.batch import sample_seeds
from app.core.consensus.record import snapshot_of
from app.core.consensus.report import sample_record
from app.core.consensus.resume import resume_point
from app.core.consensus.runner import (
    ConsensusFinished,
    ConsensusProgress,
    ConsensusReport,
    ConsensusRequest,
    ConsensusRunner,
    ConsensusSample,
)
from app.core.history.records import RunRecord, RunStatus, SampleRecord
from app.core.inference.engine import Engine
from app.core.inference.sampling import RuntimeParams, SamplingParams

QUESTION = [{"role": "user", "content": "Name a prime number between 10 and 50."}]


def _record(status: str, kept: list[SampleRecord], **params: object) -> RunRecord:
    base = {**SamplingParams(seed=11).to_dict(), "samples": 4, "early_stop": "off",
            "thinking": None, **params}  # fmt: skip
    return RunRecord(7, 1, 0, 1.0, "q", "m", "/m.gguf", None, base, kept, None, status)


def _sample(index: int, answer: str) -> SampleRecord:
    return SampleRecord(index, 100 + index, "", f"It is {answer}.", answer, "last_number",
                        5, 0.1, "stop", answer)  # fmt: skip


def test_what_can_be_resumed() -> None:
    point = resume_point(_record(RunStatus.INTERRUPTED, [_sample(0, "11"), _sample(2, "13")]))
    assert point.missing == [1, 3] and sorted(point.kept) == [0, 2]
    assert point.sampling.seed == 11 and point.samples == 4
    for record, reason in [
        (_record(RunStatus.DONE, []), "only an interrupted run"),
        (_record(RunStatus.INTERRUPTED, [], samples=None), "only a consensus run"),
        (_record(RunStatus.INTERRUPTED, [], seed=None), "did not record its seed"),
        (_record(RunStatus.INTERRUPTED, [], temperature="hot"), "unreadable"),
        (_record(RunStatus.INTERRUPTED, [_sample(i, "11") for i in range(4)]), "nothing left"),
    ]:
        with pytest.raises(ValueError, match=reason):
            resume_point(record)


def test_an_interrupted_run_reopens_with_its_samples_and_says_they_lean_short() -> None:
    record = _record(RunStatus.INTERRUPTED, [_sample(2, "13"), _sample(0, "13"), _sample(1, "11")])
    shown = snapshot_of(record)
    assert [s.index for s in shown.samples] == [0, 1, 2] and shown.total == 4
    assert (shown.stats.n, shown.stats.majority, shown.stats.majority_count) == (3, "13", 2)
    assert "3 of 4 samples were saved" in shown.outcome and "short answers" in shown.outcome
    live = snapshot_of(replace(record, status=RunStatus.RUNNING))
    assert "Still running in another Quorum" in live.outcome
    with pytest.raises(ValueError, match="not a consensus run"):
        snapshot_of(_record(RunStatus.INTERRUPTED, [], samples=None))


@pytest.fixture(scope="module")
def engine(test_model_path: Path) -> Iterator[Engine]:
    with Engine(test_model_path, RuntimeParams(n_ctx=2048)) as eng:
        yield eng


def _run(engine: Engine, request: ConsensusRequest) -> tuple[list[object], ConsensusReport]:
    events = list(ConsensusRunner(engine).run(request))
    last = events[-1]
    assert isinstance(last, ConsensusFinished)
    return events, last.report


def test_runner_decodes_only_the_missing_samples_with_their_seeds(engine: Engine) -> None:
    sampling = SamplingParams(temperature=0.9, max_tokens=24, seed=21)
    _, full = _run(engine, ConsensusRequest(QUESTION, sampling, 6))
    kept = {i: sample_record(i, r, full.groups[i]) for i, r in full.finished if i in (0, 3, 4)}
    events, resumed = _run(engine, ConsensusRequest(QUESTION, sampling, 6, kept=kept))

    samples = [e for e in events if isinstance(e, ConsensusSample)]
    assert [(e.index, e.kept) for e in samples[:3]] == [(0, True), (3, True), (4, True)]
    assert sorted(e.index for e in samples[3:]) == [1, 2, 5]
    assert all(not e.kept for e in samples[3:])
    progress = [e for e in events if isinstance(e, ConsensusProgress)]
    assert progress and all(e.total == 6 and e.finished >= 3 for e in progress)
    assert resumed.resumed == 3 and resumed.stats.n == 6
    seeds = sample_seeds(21, 6)
    assert [r.seed for r in resumed.samples if r] == seeds
    assert [r.answer for r in resumed.samples if r] == [r.answer for r in full.samples if r]
    assert resumed.tokens == sum(full.samples[i].completion_tokens for i in (1, 2, 5))  # type: ignore[union-attr]


def test_nothing_to_decode_when_every_sample_was_saved(engine: Engine) -> None:
    sampling = SamplingParams(temperature=0.9, max_tokens=8, seed=3)
    kept = {i: _sample(i, "11" if i else "13") for i in range(3)}
    events, report = _run(engine, ConsensusRequest(QUESTION, sampling, 3, kept=kept))
    assert report.resumed == 3 and report.tokens == 0 and not report.cancelled
    assert (report.stats.majority, report.stats.majority_count) == ("11", 2)
    assert [e.index for e in events if isinstance(e, ConsensusSample)] == [0, 1, 2]
