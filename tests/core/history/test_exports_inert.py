"""The Markdown exports are inert: hostile questions, model output, GGUF metadata and file
names render as their own text in a Markdown viewer with raw HTML on, and form no tag,
link, image, heading, list or table cell of their own."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from app.core.answers.extract import ExtractedAnswer
from app.core.answers.grouping import AnswerGroup
from app.core.consensus.markdown import report_markdown
from app.core.consensus.memory_plan import ConsensusPlan
from app.core.consensus.record import consensus_to_record, record_to_report_data
from app.core.consensus.report import build_report
from app.core.consensus.runner import ConsensusReport
from app.core.consensus.stats import compute_stats
from app.core.history.export import export_markdown
from app.core.history.records import RunRecord, RunStatus, SampleRecord
from app.core.history.store import HistoryStore
from app.core.inference.engine import GenerationResult
from app.core.inference.sampling import RuntimeParams, SamplingParams
from app.core.markdown_text import code_span, fenced, inline, table, text_block
from app.core.models.gguf import GGUFInfo
from tests.markdown_check import FILE_PAYLOAD, PAYLOAD, VIEWERS, Rendered, render, visible

BENIGN = "plain words"


def _sample(payload: str, index: int, group: str | None) -> SampleRecord:
    return SampleRecord(
        index=index, seed=100 + index, trace=f"trace {index} {payload}",
        answer=f"answer {index} {payload}", extracted=f"extracted {index} {payload}",
        extracted_rule=f"rule {payload}", tokens=10, seconds=0.5,
        finish_reason=f"finish {payload}", group=group,
    )  # fmt: skip


def single_run(payload: str, file_payload: str) -> RunRecord:
    return RunRecord(
        id=7, conversation_id=3, turn=1, created_at=1_700_000_000.0,
        question=f"question {payload}", model_name=f"model {payload}",
        model_path=f"/models/{file_payload}", model_sha256=f"sha {payload}",
        params={"temperature": 0.6, f"key {payload}": f"value {payload}"},
        samples=[_sample(payload, 0, None)], status=RunStatus.ERROR, error=f"error {payload}",
        seconds=1.5, time_to_first_token=0.25,
    )  # fmt: skip


def multi_run(payload: str, file_payload: str) -> RunRecord:
    """A consensus run saved with its figures only (the history's plain Markdown export)."""
    samples = [_sample(payload, i, f"group {i % 2} {payload}") for i in range(3)]
    consensus = {"majority": f"group 0 {payload}", "note": f"note {payload}"}
    return replace(single_run(payload, file_payload), samples=samples, consensus=consensus)


def consensus_data(payload: str, file_payload: str, tmp_path: Path) -> dict[str, Any]:
    """Report data built by build_report from a finished run, with every text field that
    is not Quorum's own hostile, as a crafted GGUF file or history record could make it."""
    sampling = SamplingParams(temperature=0.8, seed=5)
    labels = [f"label A {payload}", f"label A {payload}", f"label B {payload}"]
    results: list[GenerationResult | None] = []
    for i, label in enumerate(labels):
        answer = f"answer {i} {payload} \\boxed{{{label}}}"
        start = answer.index(label)
        results.append(
            GenerationResult(
                trace=f"trace {i} {payload}", answer=answer,
                extracted=ExtractedAnswer(label, "boxed", (start, start + len(label))),
                prompt_tokens=12, completion_tokens=30, seconds=0.5, time_to_first_token=0.1,
                finish_reason="stop", sampling=replace(sampling, seed=5 + i), thinking=True,
            )
        )  # fmt: skip
    results.append(None)  # stopped early
    stats = compute_stats([AnswerGroup("a", labels[0], [0, 1]), AnswerGroup("b", labels[2], [2])])
    report = ConsensusReport(
        samples=results, groups=dict(enumerate(labels)), stats=stats, seeds=[5, 6, 7, 8],
        plan=ConsensusPlan(4, 2, 120, 240, 2**20, True, "memory"), sampling=sampling,
        thinking=True, stopped_early=True, early_stop_reason=f"reason {payload}",
        cancelled=False, seconds=2.0, tokens=90, error=f"error {payload}",
    )  # fmt: skip
    path = tmp_path / file_payload
    info = GGUFInfo(
        path=path, file_size=1234, version=3, tensor_count=1, metadata={},
        architecture=f"arch {payload}", name=f"model {payload}", context_length=2048,
        chat_template=f"template {payload}", file_type=f"type {payload}", parameter_count=1,
        sampling_defaults={}, eos_token_id=None, bos_token_id=None,
    )  # fmt: skip
    data = build_report(
        report, question=f"question {payload}", model_path=path, model_info=info,
        runtime=RuntimeParams(n_ctx=2048), early_stop=f"stop {payload}",
        model_sha256=f"sha {payload}", created_at=1_700_000_000.0,
    )  # fmt: skip
    # What the machine reports is not Quorum's either, and a history record read back
    # from disk may hold anything in the plan and the figures' note.
    data["software"]["llama_cpp_system_info"] = f"system {payload}"
    data["hardware"].update(platform=f"platform {payload}", cpu_model=f"cpu {payload}")
    data["plan"]["description"] = f"plan {payload}"
    data["consensus"]["note"] = f"note {payload}"
    return data


def _check(markdown: str, twin: str, viewer: str, images: tuple[str, ...] = ()) -> Rendered:
    """No live element, and the same element structure as the benign twin's export."""
    hostile, benign = render(markdown, viewer), render(twin, viewer)
    assert hostile.problems(images) == []
    assert hostile.skeleton == benign.skeleton
    assert visible("<script>alert(1)</script>", hostile)  # shown, not run
    return hostile


@pytest.mark.parametrize("viewer", VIEWERS)
def test_single_run_export_shows_every_hostile_field_as_text(viewer: str) -> None:
    run = single_run(PAYLOAD, FILE_PAYLOAD)
    shown = _check(export_markdown(run), export_markdown(single_run(BENIGN, BENIGN)), viewer)
    sample = run.samples[0]
    for value in (run.question, run.model_name, run.model_path, run.model_sha256 or "",
                  run.error or "", sample.answer, sample.trace, sample.extracted or "",
                  sample.extracted_rule or "", sample.finish_reason, f"key {PAYLOAD}",
                  json.dumps(f"value {PAYLOAD}")):  # fmt: skip
        assert visible(value, shown), value
    # The trace keeps its exact characters, line breaks and indentation.
    assert sample.trace in shown.text


@pytest.mark.parametrize("viewer", VIEWERS)
def test_multi_sample_run_export_shows_every_hostile_field_as_text(viewer: str) -> None:
    run = multi_run(PAYLOAD, FILE_PAYLOAD)
    shown = _check(export_markdown(run), export_markdown(multi_run(BENIGN, BENIGN)), viewer)
    for sample in run.samples:
        for value in (sample.answer, sample.trace, sample.extracted or "", sample.group or ""):
            assert visible(value, shown), value
    assert visible(json.dumps(run.consensus, indent=2), shown)


@pytest.mark.parametrize("viewer", VIEWERS)
def test_consensus_report_shows_every_hostile_field_as_text(viewer: str, tmp_path: Path) -> None:
    chart = "chart> <img src=x onerror=alert(1)> \\ %3C [x](y).png"
    data = consensus_data(PAYLOAD, FILE_PAYLOAD, tmp_path)
    twin = report_markdown(consensus_data(BENIGN, BENIGN, tmp_path), "chart.png")
    markdown = report_markdown(data, chart)
    image = render(markdown, viewer).tags
    sources = tuple(attrs["src"] for name, attrs in image if name == "img")
    assert len(sources) == 1 and unquote(sources[0]) == chart  # the chart, and it links right
    shown = _check(markdown, twin, viewer, sources)
    values = [
        data["question"],
        data["model"]["name"],
        data["model"]["file_name"],
        data["model"]["sha256"],
        data["error"],
        data["plan"]["description"],
        data["consensus"]["note"],
        data["consensus"]["early_stop_reason"],
        data["software"]["llama_cpp_system_info"],
        data["hardware"]["platform"],
        data["hardware"]["cpu_model"],
        json.dumps(data["parameters"]["early_stop"]),
    ]
    values += [g["answer"] for g in data["consensus"]["groups"]]
    values += [s["group"] for s in data["samples"]] + [
        s["extracted"]["text"] for s in data["samples"]
    ]  # fmt: skip
    for value in values:
        assert visible(value, shown), value


@pytest.mark.parametrize("viewer", VIEWERS)
def test_consensus_report_reopened_from_history_is_inert(viewer: str, tmp_path: Path) -> None:
    """The history panel exports a consensus run from its saved record: same safety."""
    data = consensus_data(PAYLOAD, FILE_PAYLOAD, tmp_path)
    reopened = _saved_and_reopened(data, tmp_path / "hostile.sqlite3")
    twin = _saved_and_reopened(consensus_data(BENIGN, BENIGN, tmp_path), tmp_path / "twin.sqlite3")
    shown = _check(
        report_markdown(record_to_report_data(reopened)),
        report_markdown(record_to_report_data(twin)),
        viewer,
    )
    assert visible(data["question"], shown) and visible(data["model"]["name"], shown)
    shown = _check(export_markdown(reopened), export_markdown(twin), viewer)
    assert visible(data["samples"][0]["answer"], shown)


def _saved_and_reopened(data: dict[str, Any], path: Path) -> RunRecord:
    with HistoryStore(path) as store:
        record = consensus_to_record(data)
        store.finish_run(record)
        return store.get_run(record.id or 0)


@pytest.mark.parametrize(
    "text",
    ["-1", "+1", "=", "1. one", "123456789. x", "1) x", "# h", "> q", "***", "___", "a\\", "\\"],
)
def test_inline_text_at_the_start_of_a_line_is_still_text(text: str) -> None:
    for viewer in VIEWERS:
        shown = render(inline(text), viewer)
        assert shown.skeleton == [] and shown.text.strip() == text


def test_text_block_keeps_lines_paragraphs_and_indentation() -> None:
    markdown = text_block("first line\n    indented `x`\n\n\nnext paragraph\r\nlast\n")
    assert markdown == (
        "first line\\\n\u00a0\u00a0\u00a0\u00a0indented \\`x\\`\n\nnext paragraph\\\nlast"
    )
    shown = render(markdown, "commonmark")
    assert [name for name, _ in shown.tags] == ["p", "br", "p", "br"]
    assert (
        shown.text.rstrip("\n")
        == "first line\n\u00a0\u00a0\u00a0\u00a0indented `x`\nnext paragraph\nlast"
    )
    assert text_block(" \n\t\n") == ""


def test_code_spans_and_fences_cannot_be_closed_by_the_text() -> None:
    assert code_span("a `` b") == "```a `` b```"
    assert code_span("`edge`") == "`` `edge` ``"
    assert code_span("") == ""
    assert fenced("x\n````\ny", "text") == "`````text\nx\n````\ny\n`````"
    for text in ("a `` b", "`edge`", "<b>x</b>\n# h"):
        shown = render(f"- {code_span(text)}", "commonmark")
        assert shown.skeleton == ["ul", "li", "code"] and visible(text, shown)


def test_table_cells_hold_pipes_and_backslashes() -> None:
    for text in ("a | b", "a \\| b", "a \\\\| b", "|", "x\\"):
        markdown = table(("A", "B"), [(inline(text), "end")])
        for viewer in VIEWERS:
            shown = render(markdown, viewer)
            assert visible(text, shown) and shown.problems() == []
        assert render(markdown, "lax-gfm").skeleton.count("td") == 2


def test_existing_plain_exports_read_as_before() -> None:
    """Ordinary text needs no escapes, so the files stay readable as plain text too."""
    run = single_run(BENIGN, "model.gguf")
    run = replace(run, status=RunStatus.DONE, error=None, params={"seed": 11})
    text = export_markdown(run)
    assert "## Question\n\nquestion plain words\n" in text
    assert "- **Model:** model plain words (`/models/model.gguf`)" in text
    assert "| seed | 11 |" in text
