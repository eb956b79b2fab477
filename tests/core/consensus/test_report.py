"""Consensus reports: built from a real run, exported, saved in history and reopened."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import replace
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from app.core.consensus.environment import hardware_summary
from app.core.consensus.figure_lines import format_share
from app.core.consensus.markdown import report_markdown
from app.core.consensus.record import (
    consensus_to_record,
    has_consensus_report,
    outcome_text,
    record_to_report_data,
    snapshot_of,
)
from app.core.consensus.report import build_report, plan_from_dict, sample_records, stats_from_dict
from app.core.consensus.runner import (
    ConsensusFinished,
    ConsensusReport,
    ConsensusRequest,
    ConsensusRunner,
)
from app.core.history.records import RunRecord, RunStatus, SampleRecord
from app.core.history.store import HistoryStore
from app.core.inference.contexts import kv_bytes_per_token
from app.core.inference.engine import Engine
from app.core.inference.sampling import RuntimeParams, SamplingParams
from app.core.machine import cpu_model_from_cpuinfo
from app.core.models import demo_model
from app.core.models.hashes import (
    ModelHashError,
    cache_path,
    cached_sha256,
    file_sha256,
    remember_sha256,
)

QUESTION = "What is 7 * 8? Answer with a number."
MESSAGES = [{"role": "user", "content": QUESTION}]
SAMPLING = SamplingParams(temperature=0.9, top_p=0.95, top_k=40, min_p=0.05, max_tokens=24, seed=5)
RUNTIME = RuntimeParams(n_ctx=2048)


def _run(engine: Engine, request: ConsensusRequest) -> ConsensusReport:
    final = list(ConsensusRunner(engine).run(request))[-1]
    assert isinstance(final, ConsensusFinished)
    return final.report


@pytest.fixture(scope="module")
def runs(test_model_path: Path) -> Iterator[tuple[Engine, ConsensusReport, ConsensusReport]]:
    """A sampled run of 6 and a greedy run of 6 that stops early (two slots at a time)."""
    with Engine(test_model_path, RUNTIME) as engine:
        sampled = _run(engine, ConsensusRequest(MESSAGES, SAMPLING, 6))
        two_slots = kv_bytes_per_token(engine.info) * 110  # prompt (~43) + 2 x 25 tokens
        greedy = _run(
            engine,
            ConsensusRequest(
                MESSAGES,
                replace(SAMPLING, temperature=0.0),
                6,
                early_stop="cannot_lose",
                budget_bytes=two_slots,
            ),
        )
        yield engine, sampled, greedy


def _data(engine: Engine, report: ConsensusReport, **kwargs: Any) -> dict[str, Any]:
    return build_report(
        report,
        question=QUESTION,
        model_path=engine.path,
        model_info=engine.info,
        runtime=RUNTIME,
        **kwargs,
    )


def _json_round_trip(data: dict[str, Any]) -> Any:
    return json.loads(json.dumps(data, allow_nan=False))


@pytest.mark.model
def test_report_holds_every_sample_parameter_and_fact(runs: tuple[Any, ...]) -> None:
    engine, report, _ = runs
    data = _data(engine, report, early_stop="off")
    assert _json_round_trip(data) == data, "the report must be plain, strict JSON"
    assert data["question"] == QUESTION and data["status"] == RunStatus.DONE
    assert data["model"]["sha256"] == demo_model.SHA256
    assert data["model"]["size_bytes"] == demo_model.SIZE
    assert data["model"]["architecture"] == engine.info.architecture
    assert data["parameters"]["sampling"]["temperature"] == 0.9
    assert data["parameters"]["sampling"]["seed"] == 5
    assert data["parameters"]["runtime"]["n_ctx"] == 2048
    assert data["parameters"]["samples"] == 6
    assert data["plan"]["parallel"] == report.plan.parallel
    assert data["consensus"]["n"] == 6 and data["consensus"]["requested"] == 6
    assert [s["index"] for s in data["samples"]] == list(range(6))
    for sample in data["samples"]:
        result = report.samples[sample["index"]]
        assert result is not None
        assert sample["seed"] == report.seeds[sample["index"]] == result.seed
        assert sample["trace"] == result.trace and sample["answer"] == result.answer
        assert sample["group"] == report.groups[sample["index"]]
        assert sample["tokens"] == result.completion_tokens > 0
        assert sample["seconds"] == result.seconds and sample["finish_reason"]
        if result.extracted is not None:
            text, rule = sample["extracted"]["text"], sample["extracted"]["rule"]
            span = sample["extracted"]["span"]
            assert (text, rule) == (result.extracted.text, result.extracted.rule)
            assert sample["answer"][span[0] : span[1]] == text
    assert data["unfinished"] == []
    assert data["software"]["llama_cpp_python"] == version("llama-cpp-python")
    assert data["software"]["llama_cpp_system_info"]
    assert data["hardware"]["cpu_count"] == os.cpu_count()
    assert data["hardware"]["ram_bytes"] > 0
    assert data["timings"]["seconds"] == report.seconds
    assert data["timings"]["tokens"] == report.tokens > 0
    assert data["timings"]["prompt_tokens"] > 0
    assert stats_from_dict(data["consensus"]) == report.stats
    assert plan_from_dict(data["plan"]) == report.plan


@pytest.mark.model
def test_markdown_summary(runs: tuple[Any, ...]) -> None:
    engine, report, _ = runs
    data = _data(engine, report)
    text = report_markdown(data, "my run-chart.png")
    assert text.startswith("# Quorum consensus: What is 7 \\* 8?")  # escaped for Markdown
    assert "![Answer groups](<my run-chart.png>)" in text
    stats = report.stats
    low, high = stats.agreement_ci95
    share, low_text, high_text = (format_share(x) for x in (stats.agreement, low, high))
    assert f"{share} (Wilson 95% interval {low_text}–{high_text})" in text
    assert f"{stats.entropy_bits:.2f} bits (Miller–Madow {stats.entropy_bits_mm:.2f} bits)" in text
    assert f"| Distinct answers | {stats.distinct} |" in text
    assert f"| No answer | {stats.no_answer} |" in text
    assert demo_model.SHA256 in text
    groups = text.split("## Answer groups")[1].split("##")[0]
    rows = groups.count("\n| ") - groups.count("\n| ---")
    assert rows == len(stats.groups) + 1  # the header, then one row per group
    samples = text.split("## Samples")[1]
    for index in range(6):  # numbered from 1, as in the window
        assert f"\n| {index + 1} | {report.seeds[index]} |" in samples
    for label, _, members in stats.groups:  # the groups' member lists too
        listed = ", ".join(str(m + 1) for m in sorted(members))
        assert any(line.endswith(f"| {listed} |") for line in groups.splitlines()), label
    assert [(s["index"], s["number"]) for s in data["samples"]] == [(i, i + 1) for i in range(6)]
    assert "![" not in report_markdown(data, None)


@pytest.mark.model
def test_early_stopped_greedy_run_lists_skipped_samples(runs: tuple[Any, ...]) -> None:
    engine, _, report = runs
    assert report.stopped_early and report.saved > 0, "precondition: the run stopped early"
    data = _data(engine, report, early_stop="cannot_lose")
    skipped = [i for i, r in enumerate(report.samples) if r is None]
    assert data["unfinished"] == [
        {"index": i, "number": i + 1, "seed": report.seeds[i]} for i in skipped
    ]
    assert len(data["samples"]) == 6 - len(skipped)
    assert data["consensus"]["stopped_early"] and data["consensus"]["deterministic"]
    text = report_markdown(data)
    assert "by construction" in text
    assert "Stopped early" in text
    numbers = ", ".join(str(i + 1) for i in skipped)  # numbered from 1
    assert f"Not run (stopped early or cancelled): samples {numbers}." in text


@pytest.mark.model
def test_history_round_trip_is_exact(runs: tuple[Any, ...], tmp_path: Path) -> None:
    engine, sampled, greedy = runs
    with HistoryStore(tmp_path / "history.sqlite3") as store:
        for report, mode in ((sampled, "off"), (greedy, "cannot_lose")):
            data = _data(engine, report, early_stop=mode)
            record = consensus_to_record(data)
            store.finish_run(record)
            assert record.id is not None
            reopened = store.get_run(record.id)
            assert has_consensus_report(reopened)
            assert [s.group for s in reopened.samples] == [s["group"] for s in data["samples"]]
            assert reopened.params["temperature"] == report.sampling.temperature
            assert reopened.params["threads"] == RUNTIME.n_threads  # as single runs store it
            assert record_to_report_data(reopened) == _json_round_trip(data)
            assert stats_from_dict(reopened.consensus or {}) == report.stats
        summaries = store.list_runs()
    assert {s.n_samples for s in summaries} == {6, len(greedy.finished)}


@pytest.mark.model
def test_snapshots_agree_whatever_they_are_read_from(runs: tuple[Any, ...]) -> None:
    engine, report, greedy = runs
    data = _data(engine, report)
    record = consensus_to_record(data)
    live, exported, saved = snapshot_of(report), snapshot_of(data), snapshot_of(record)
    for snapshot in (exported, saved):
        assert snapshot.stats == live.stats and snapshot.samples == live.samples
        assert snapshot.total == live.total == 6 and snapshot.plan == live.plan
        assert snapshot.outcome == live.outcome
    assert live.outcome.startswith("Finished: 6 of 6 samples in ")
    assert live.data is None and exported.data is data
    # A record saved with the bare consensus figures still shows, without plan or export.
    record.consensus = data["consensus"]
    bare = snapshot_of(record)
    assert bare.stats == live.stats and bare.plan is None and bare.data is None
    early = snapshot_of(greedy).outcome
    assert early.startswith(f"Stopped early after {len(greedy.finished)} of 6 samples")
    with pytest.raises(TypeError, match="cannot read a list"):
        snapshot_of([])  # type: ignore[arg-type]


def test_outcome_sentences() -> None:
    figures = {"n": 3, "requested": 8, "seconds": 2.25, "tokens": 1200}
    assert outcome_text(figures, "done", None) == "Finished: 3 of 8 samples in 2.2 s, 1,200 tokens."
    assert outcome_text({**figures, "cancelled": True}, "cancelled", None) == (
        "Cancelled: 3 of 8 samples finished and kept."
    )
    assert outcome_text(figures, "error", "decode failed") == (
        "Stopped by an error after 3 of 8 samples: decode failed"
    )
    early = {**figures, "stopped_early": True, "samples_saved": 5, "early_stop_reason": None}
    assert outcome_text(early, "done", None) == "Stopped early after 3 of 8 samples (5 saved)."


def test_single_run_record_is_not_a_consensus_report() -> None:
    record = RunRecord(
        id=1, conversation_id=1, turn=0, created_at=0.0, question="q", model_name="m",
        model_path="/m.gguf", model_sha256=None, params={},
        samples=[SampleRecord(0, 1, "", "a", "a", "last_line", 3, 0.1, "stop")],
    )  # fmt: skip
    assert not has_consensus_report(record)
    with pytest.raises(ValueError, match="not a consensus run"):
        record_to_report_data(record)
    record.consensus = {"report_version": 1, "n": 1}  # damaged: most keys lost
    with pytest.raises(ValueError, match="damaged"):
        record_to_report_data(record)
    with pytest.raises(ValueError, match="not a Quorum consensus report"):
        consensus_to_record({"format": "quorum.run"})
    with pytest.raises(ValueError, match="incomplete or damaged"):
        stats_from_dict({"n": 3})


def test_report_data_samples_become_sample_records() -> None:
    data = {
        "samples": [
            {"index": 1, "seed": 9, "trace": "t", "answer": "x = 4", "group": "4",
             "extracted": {"text": "4", "rule": "last_number", "span": [4, 5]},
             "tokens": 5, "seconds": 0.5, "finish_reason": "stop"},
            {"index": 0, "seed": 8, "trace": "", "answer": "", "group": "∅ no answer",
             "extracted": None, "tokens": 24, "seconds": 0.7, "finish_reason": "length"},
        ]
    }  # fmt: skip
    first, second = sample_records(data)
    assert first == SampleRecord(0, 8, "", "", None, None, 24, 0.7, "length", "∅ no answer")
    assert second == SampleRecord(1, 9, "t", "x = 4", "4", "last_number", 5, 0.5, "stop", "4")


def test_model_hash_is_cached_by_path_size_and_mtime(tmp_path: Path) -> None:
    model = tmp_path / "model.gguf"
    model.write_bytes(b"A" * 3_000_000)
    expected = hashlib.sha256(model.read_bytes()).hexdigest()
    assert cached_sha256(model) is None
    assert file_sha256(model) == expected
    assert cached_sha256(model) == expected
    assert str(model.resolve()) in json.loads(cache_path().read_text())
    stat = model.stat()
    # Same size and mtime: the cache answers without reading the file again.
    model.write_bytes(b"B" * 3_000_000)
    os.utime(model, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert file_sha256(model) == expected
    # A new mtime means a new version of the file: hashed again.
    os.utime(model, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert file_sha256(model) == hashlib.sha256(b"B" * 3_000_000).hexdigest()


def test_model_hash_errors_and_damaged_cache(tmp_path: Path) -> None:
    with pytest.raises(ModelHashError, match="cannot read"):
        file_sha256(tmp_path / "missing.gguf")
    with pytest.raises(ModelHashError, match="not a file"):
        file_sha256(tmp_path)
    model = tmp_path / "m.gguf"
    model.write_bytes(b"x")
    cache_path().write_text("{not json")
    assert file_sha256(model) == hashlib.sha256(b"x").hexdigest()  # damaged cache: ignored
    with pytest.raises(ValueError, match="not a sha256"):
        remember_sha256(model, "abc")
    remember_sha256(model, "F" * 64)
    assert cached_sha256(model) == "f" * 64


@pytest.mark.model
def test_report_without_model_file_or_info_says_nothing_false(
    runs: tuple[Any, ...], tmp_path: Path
) -> None:
    _, report, _ = runs
    data = build_report(
        report, question="q", model_path=tmp_path / "gone.gguf", model_info=None, runtime=None
    )
    gone = data["model"]
    assert gone["sha256"] is None and gone["size_bytes"] is None
    assert gone["name"] == "gone" and gone["architecture"] is None
    assert data["parameters"]["runtime"] is None
    record = consensus_to_record(data)
    assert "n_ctx" not in record.params
    assert record_to_report_data(record) == _json_round_trip(data)


def test_cpu_model_from_cpuinfo() -> None:
    x86 = (
        "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel\t\t: 85\nmodel name\t: Intel(R) Xeon(R)\n"
    )
    assert cpu_model_from_cpuinfo(x86) == "Intel(R) Xeon(R)"
    pi = "processor\t: 0\nBogoMIPS\t: 108.00\nHardware\t: BCM2835\nModel\t\t: Raspberry Pi 4\n"
    assert cpu_model_from_cpuinfo(pi) == "BCM2835"
    assert cpu_model_from_cpuinfo("processor\t: 0\nmodel\t: 1\n") is None
    assert cpu_model_from_cpuinfo("") is None
    facts = hardware_summary()
    assert facts["cpu_count"] == os.cpu_count() and facts["platform"]
