"""How runs are put in words: history rows, sample labels, export file names."""

from __future__ import annotations

from datetime import datetime

from app.core.history.describe import describe_summary, sample_label
from app.core.history.export import export_filename
from app.core.history.records import RunStatus, RunSummary, SampleRecord


def _summary(status: str, answer: str = "4") -> RunSummary:
    created = datetime(2026, 11, 3, 14, 5).timestamp()
    return RunSummary(id=7, conversation_id=1, turn=0, created_at=created, question="2 + 2?",
                      model_name="SmolLM2", status=status, n_samples=1, answer=answer)  # fmt: skip


def test_history_row_names_any_status_but_done() -> None:
    assert describe_summary(_summary(RunStatus.DONE)) == "2 + 2?\n2026-11-03 14:05 · SmolLM2 → 4"
    assert describe_summary(_summary("done")) == describe_summary(_summary(RunStatus.DONE))
    cancelled = describe_summary(_summary(RunStatus.CANCELLED, answer=""))
    assert cancelled == "2 + 2?\n2026-11-03 14:05 · SmolLM2 · cancelled"


def test_sample_label_and_export_filename() -> None:
    sample = SampleRecord(3, 1234, "", "4", "4", "last_line", 3, 0.1, "stop")
    assert sample_label(sample) == "Sample 4 (seed 1234)"  # index 3: the fourth sample
    assert export_filename("What is 2 + 2?", 12, ".md") == "quorum-run-12-what-is-2-2.md"
    assert export_filename("???", 5, ".json") == "quorum-run-5.json"
    assert export_filename("a" * 60, 1, ".md") == f"quorum-run-1-{'a' * 40}.md"


def test_status_values_are_the_stored_text() -> None:
    assert [str(s) for s in RunStatus] == ["running", "done", "cancelled", "error", "interrupted"]
    assert f"{RunStatus.DONE}" == "done" and RunStatus("cancelled") is RunStatus.CANCELLED
