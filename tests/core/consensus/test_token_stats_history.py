"""A real consensus run asked for token figures (ConsensusRequest.token_stats): every sample
has them, the history keeps them within the stated budget, and a run loaded back (the
resume path) gives GenerationResult.token_stats again, float16-rounded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.consensus.record import finished_record
from app.core.consensus.report import sample_record
from app.core.consensus.resume import result_of
from app.core.consensus.runner import ConsensusFinished, ConsensusRequest, ConsensusRunner
from app.core.history import token_blob
from app.core.history.records import RunRecord
from app.core.history.store import HistoryStore
from app.core.inference.engine import Engine
from app.core.inference.sampling import RuntimeParams, SamplingParams

pytestmark = pytest.mark.model

QUESTION = [{"role": "user", "content": "What is 3 + 4? Answer with a number."}]
PARAMS = SamplingParams(temperature=0.8, top_p=0.95, top_k=40, min_p=0.05, max_tokens=24, seed=9)


@pytest.fixture(scope="module")
def engine(test_model_path: Path) -> Iterator[Engine]:
    with Engine(test_model_path, RuntimeParams(n_ctx=512, n_threads=2)) as eng:
        yield eng


def _report(engine: Engine, samples: int, token_stats: bool):  # type: ignore[no-untyped-def]
    request = ConsensusRequest(QUESTION, PARAMS, samples, token_stats=token_stats)
    events = list(ConsensusRunner(engine).run(request))
    final = events[-1]
    assert isinstance(final, ConsensusFinished) and final.report.error is None
    return final.report


def test_a_real_run_is_stored_within_budget_and_loads_back(engine: Engine, tmp_path: Path) -> None:
    report = _report(engine, 4, token_stats=True)
    assert all(r.token_stats is not None for _, r in report.finished)
    assert _report(engine, 2, token_stats=False).finished[0][1].token_stats is None

    begun = RunRecord(id=None, conversation_id=None, turn=0, created_at=1.7e9,
                      question="3 + 4", model_name="SmolLM2", model_path=str(engine.path),
                      model_sha256=None, params={"samples": 4})  # fmt: skip
    record = finished_record(begun, report, None)
    tokens = sum(r.completion_tokens for _, r in report.finished)
    blobs = [s.token_stats for s in record.samples]
    assert all(b is not None for b in blobs)
    stored = sum(len(b or b"") for b in blobs)
    # The stated budget: a sample's share of 32 MiB, and no more than the stated raw cost:
    # 47 bytes a token, each distinct token text once, about 100 bytes a sample.
    assert all(len(b or b"") <= token_blob.sample_budget(4) for b in blobs)
    texts = sum(
        len(json.dumps({str(k): v for k, v in r.token_stats.texts.items()}).encode())
        for _, r in report.finished
        if r.token_stats is not None
    )
    stated = 47 * tokens + texts + 100 * len(blobs)
    assert stored <= stated, f"{stored} bytes for {tokens} tokens (stated {stated})"

    with HistoryStore(tmp_path / "history.sqlite3") as store:
        store.finish_run(record)
        loaded = store.get_run(record.id or 0)
    for sample in loaded.samples:
        fresh = report.samples[sample.index]
        assert fresh is not None and fresh.token_stats is not None
        back = result_of(sample, report.sampling, None, fresh.prompt_tokens).token_stats
        assert back is not None and back.stored == token_blob.FULL
        want = fresh.token_stats
        assert back.token_ids == want.token_ids and back.channels == want.channels
        assert back.ends == want.ends and back.top_ids == want.top_ids
        assert back.texts == want.texts and back.spans() == want.spans()
        assert back.logprob == pytest.approx(want.logprob, rel=2**-11, abs=1e-7)
        assert back.entropy_bits == pytest.approx(want.entropy_bits, rel=2**-11, abs=1e-7)


def test_a_sample_past_its_share_keeps_its_lean_figures(engine: Engine) -> None:
    report = _report(engine, 2, token_stats=True)
    index, result = report.finished[0]
    assert result.token_stats is not None
    full = len(result.token_stats.to_blob(1))
    # The share of a 512-sample run, shrunk until this short sample no longer fits.
    squeezed = token_blob.encode(result.token_stats.columns(), full - 1)
    lean = token_blob.decode(squeezed)
    assert lean["stored"] == token_blob.NO_ALTERNATIVES and "did not fit" in lean["note"]
    assert lean["token_ids"] == result.token_stats.token_ids
    record = sample_record(index, result, None, samples=512)
    assert len(record.token_stats or b"") <= token_blob.sample_budget(512)
