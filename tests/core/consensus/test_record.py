"""The rules about consensus records that the panes, the history panel and the CLI share."""

from __future__ import annotations

from typing import Any

from app.core.consensus.record import has_consensus_report, is_consensus_run, majority_text
from app.core.history.records import RunRecord, RunStatus, SampleRecord

FIGURES: dict[str, Any] = {
    "n": 3, "requested": 4, "majority": "4", "majority_is_no_answer": False,
    "agreement": 2 / 3, "agreement_ci95": [0.2, 0.94], "entropy_bits": 0.92,
    "entropy_bits_mm": 1.1, "distinct": 2, "no_answer": 0, "deterministic": False,
    "groups": [{"answer": "4", "count": 2, "samples": [2, 1]},
               {"answer": "5", "count": 1, "samples": [0]}],
}  # fmt: skip


def _run(params: dict[str, Any], consensus: dict[str, Any] | None) -> RunRecord:
    sample = SampleRecord(0, 1, "", "It is 4.", "4", "last_line", 3, 0.1, "stop", group="4")
    return RunRecord(id=1, conversation_id=1, turn=0, created_at=0.0, question="2 + 2?",
                     model_name="m", model_path="/m.gguf", model_sha256=None, params=params,
                     samples=[sample], consensus=consensus, status=RunStatus.DONE)  # fmt: skip


def test_a_consensus_run_is_asked_as_one_or_saved_with_consensus_figures() -> None:
    # The two rules used to disagree here: a consensus run that has just started (its
    # params name the samples, no figures yet) was a consensus run to the panes but not
    # to the core, and so was a run saved with the bare figures.
    started = _run({"samples": 4, "temperature": 0.6}, None)
    assert is_consensus_run(started) and not has_consensus_report(started)
    figures_only = _run({}, FIGURES)
    assert is_consensus_run(figures_only) and not has_consensus_report(figures_only)
    full = _run({"samples": 4}, {**FIGURES, "report_version": 1})
    assert is_consensus_run(full) and has_consensus_report(full)
    single = _run({"temperature": 0.6}, None)
    assert not is_consensus_run(single) and not has_consensus_report(single)
    assert not is_consensus_run(_run({}, {}))  # empty figures are no figures


def test_majority_line() -> None:
    assert majority_text(FIGURES) == "Majority: 4 · agreement 66.7% (2 of 3)"
    noted = {**FIGURES, "note": "temperature 0: every sample is the same by construction"}
    assert majority_text(noted).endswith("(2 of 3) · temperature 0: every sample is the same "
                                         "by construction")  # fmt: skip
    long = {**FIGURES, "majority": "word " * 40}
    assert majority_text(long) == f"Majority: {('word ' * 16)[:79]}… · agreement 66.7% (2 of 3)"
    assert majority_text({**FIGURES, "n": 0, "groups": []}) == "No sample finished."
    assert majority_text(None) == "" and majority_text({"n": 3}) == ""  # unreadable figures
