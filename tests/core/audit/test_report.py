"""The report built from saved samples (simulated, fed through the real store and
summary): JSON with every sample and seed, Markdown, and HTML where model text is inert."""

from __future__ import annotations

import json
import re
from pathlib import Path

from app.core.audit.claim import parse_claim
from app.core.audit.html_report import audit_html
from app.core.audit.job import AuditConfig, condition_seed
from app.core.audit.markdown import audit_markdown
from app.core.audit.questions import parse_question_set
from app.core.audit.report_data import audit_report
from app.core.audit.results import ModelInfo, summarise
from app.core.audit.samples import GREEDY, RunKey
from app.core.audit.store import SampleStore
from tests.core.audit.simulated import HEALTHY_TRACES, simulated_samples

HOSTILE = "<script>alert('x')</script>"
SET = parse_question_set(
    json.dumps({"id": "evil", "question": f"Say {HOSTILE}", "answer": HOSTILE}).encode()
    + b"\n"
    + b'{"id": "ok", "question": "6 * 7?", "answer": "42"}\n',
    name="hostile.jsonl",
)
MODELS = [
    ModelInfo("a.gguf:1", "Model <b>A</b>", "/m/a.gguf"),
    ModelInfo("b.gguf:2", "B", "/m/b.gguf"),
]


def _filled_store(tmp_path: Path, config: AuditConfig) -> SampleStore:
    store = SampleStore(tmp_path / "s.jsonl", seed=11, set_sha256=SET.sha256)
    for model in MODELS:
        for t in config.temperatures:
            seed = condition_seed(11, "evil")
            for s in simulated_samples([HOSTILE] * 4, [f"{HOSTILE} thinking"] * 4):
                store.add(RunKey("evil", model.key, t, None, seed), s)
            seed = condition_seed(11, "ok")
            answers = ["42", "42", "41", "42"] if model.key.startswith("b") else ["42"] * 4
            for s in simulated_samples(answers, HEALTHY_TRACES[:4]):
                store.add(RunKey("ok", model.key, t, None, seed), s)
        greedy = simulated_samples(["42"])[0]
        store.add(
            RunKey("ok", model.key, 0.0, None, condition_seed(11, "ok")),
            type(greedy)(**{**greedy.to_dict(), "index": GREEDY}),
        )
    return store


def test_report_has_every_sample_both_models_and_inert_model_text(tmp_path: Path) -> None:
    config = AuditConfig(SET, (Path("a"), Path("b")), samples=4, temperatures=(0.5, 1.0))
    with _filled_store(tmp_path, config) as store:
        results = summarise(config, store, MODELS, parse_claim("100% at 512 samples, 0 bits"))
    data = audit_report(config, results, seconds=1.0, tokens=10, environment=False)
    assert len(data["conditions"]) == 4  # 2 models x 2 temperatures
    evil = data["conditions"][0]["questions"][0]
    assert [s["seed"] for s in evil["samples"]] == [1000, 1001, 1002, 1003]
    assert evil["seed"] == condition_seed(11, "evil")
    assert evil["majority_correct"] is True and evil["agreement"] == 1.0
    ok_b = data["conditions"][2]["questions"][1]
    assert ok_b["agreement"] == 0.75 and ok_b["greedy"]["extracted"] == "42"
    assert json.loads(json.dumps(data)) == data, "the report data is plain JSON"
    page = audit_html(data)
    assert "<script" not in page.lower(), "no live script from model text, question or name"
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "Model &lt;b&gt;A&lt;/b&gt;" in page and "<b>A</b>" not in page
    assert not re.search(r"(?:src|href)=\"https?:", page), "nothing loads from the network"
    assert page.count("<svg") >= 4 and "Claim card" in page
    md = audit_markdown(data)
    assert HOSTILE not in md and "\\<script\\>" in md
    assert "| Model \\<b\\>A\\</b\\> | 0.5 |" in md


def test_markdown_summary_states_the_figures(tmp_path: Path) -> None:
    config = AuditConfig(SET, (Path("a"),), samples=4, temperatures=(0.7,))
    with _filled_store(tmp_path, config) as store:
        results = summarise(config, store, MODELS[:1], None)
    data = audit_report(config, results, environment=False)
    md = audit_markdown(data, details=False)
    assert "2 questions (2 with a reference answer), 4 samples per question" in md
    # Both questions unanimous: 2 of 2, Wilson 34%–100%; both majorities right.
    assert "100% [34.2%–100%] (2/2)" in md
    assert "Majority right" not in md and "Calibration" not in md
    full = audit_markdown(data)
    assert "| Majority right |" in full and "Expected calibration error" in full


def test_budget_cell_and_no_answer_bars() -> None:
    from app.core.audit.charts import NO_ANSWER, WRONG, agreement_chart
    from app.core.audit.markdown import budget_cell

    assert budget_cell({"think_budget": None, "figures": {"trace_cuts": 0}}) == "unlimited"
    assert budget_cell({"think_budget": 256, "figures": {"trace_cuts": 7}}) == "256 (7 traces cut)"
    questions = [
        {
            "id": "a",
            "n": 4,
            "agreement": 1.0,
            "agreement_ci95": [0.5, 1.0],
            "majority_correct": False,
            "majority_is_no_answer": True,
        },
        {
            "id": "b",
            "n": 4,
            "agreement": 0.5,
            "agreement_ci95": [0.2, 0.8],
            "majority_correct": False,
            "majority_is_no_answer": False,
        },
    ]
    svg = agreement_chart(questions, "t")
    assert svg.count(f'fill="{NO_ANSWER}"') == 1 and svg.count(f'fill="{WRONG}"') == 1
