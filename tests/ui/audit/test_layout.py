"""The Audit window reads whole at 1200×760 and 900×600 in both themes: no text cut
short, nothing drawn over something (tests/ui/geometry.py).

Pure layout: the rows and the summary come from simulated samples (tests/core/audit/
simulated.py) put through the real core figures and report, so the texts have the real
shapes and lengths; no model runs. The real runs are in test_window.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.core.audit.claim import parse_claim
from app.core.audit.job import AuditConfig, condition_seed
from app.core.audit.questions import parse_question_set
from app.core.audit.report_data import audit_report
from app.core.audit.results import ModelInfo, question_result, summarise
from app.core.audit.samples import GREEDY, RunKey
from app.core.audit.store import SampleStore
from app.ui.audit.window import AuditWindow
from tests.core.audit.simulated import HEALTHY_TRACES, simulated_samples
from tests.ui.geometry import clipped_text, overlaps
from tests.ui.test_geometry import theme  # noqa: F401 (the light and dark themes fixture)

pytestmark = pytest.mark.gui

SIZES = [(1200, 760), (900, 600)]
LONG_QUESTION = (
    "A train leaves at 09:40 and travels 378 km at 84 km/h; at what time does it arrive? "
    "Give the final answer as a time after 'Answer:'."
)
SET = parse_question_set(
    (
        '{"id": "arith-1", "question": "What is 30 * 9 - 12?", "answer": "258"}\n'
        f'{{"id": "train-travel-time-long-id", "question": "{LONG_QUESTION}", "answer": "14:10"}}\n'
        '{"id": "q3", "question": "Which is prime? (A) 21 (B) 23", "answer": "B"}\n'
    ).encode(),
    name="mixed-questions.jsonl",
)
ANSWERS: dict[str, list[str | None]] = {
    "arith-1": ["258"] * 8,
    "train-travel-time-long-id": ["14:10"] * 5 + ["14:20"] * 2 + [None],
    "q3": ["B"] * 8,
}
MODELS = [
    ModelInfo("a.gguf:1", "SmolLM2 135M Instruct", "/m/a.gguf"),
    ModelInfo("b.gguf:2", "SmolLM2 135M Instruct (smol-think.gguf)", "/m/b.gguf"),
]


def _filled(tmp_path: Path) -> tuple[AuditConfig, SampleStore]:
    config = AuditConfig(SET, (Path("/m/a.gguf"), Path("/m/b.gguf")), samples=8,
                         temperatures=(0.6, 1.0), think_budgets=(0, None))  # fmt: skip
    store = SampleStore(tmp_path / "s.jsonl", seed=7, set_sha256=SET.sha256)
    for model in MODELS:
        for q in SET.questions:
            seed = condition_seed(store.seed, q.id)
            for budget, temperature in config.conditions():
                key = RunKey(q.id, model.key, temperature, budget, seed)
                for sample in simulated_samples(ANSWERS[q.id], HEALTHY_TRACES):
                    store.add(key, sample)
            greedy = simulated_samples([ANSWERS[q.id][0]])[0]
            for budget in config.think_budgets:
                store.add(RunKey(q.id, model.key, 0.0, budget, seed),
                          type(greedy)(**{**greedy.to_dict(), "index": GREEDY}))  # fmt: skip
    return config, store


def _report(config: AuditConfig, store: SampleStore) -> dict[str, Any]:
    claim = parse_claim("100% self-consistency at 512 samples, 0.00 bits at T 0.6")
    results = summarise(config, store, MODELS, claim)
    return audit_report(config, results, seconds=812.4, tokens=90_210, environment=False)


def _show(qtbot: QtBot, tmp_path: Path, size: tuple[int, int]) -> AuditWindow:
    window = AuditWindow(folder=tmp_path / "a-rather-long-folder-name" / "audits" / "samples")
    qtbot.addWidget(window)
    config, store = _filled(tmp_path)
    with store:
        window.table.show_conditions(2, 2, 2)
        for model in MODELS:
            for budget, temperature in config.conditions():
                for q in SET.questions:
                    key = RunKey(q.id, model.key, temperature, budget,
                                 condition_seed(store.seed, q.id))  # fmt: skip
                    window.table.add_result(question_result(config, store, key, q), model.name)
        window.show_results(_report(config, store))
    window.form.show_error("Question set: broken.csv row 3 has more cells than the header has "
                           "columns.")  # fmt: skip
    window.status_label.setText("SmolLM2 135M Instruct (smol-think.gguf): question "
                                "train-travel-time-long-id; 311 of 400 samples saved, "
                                "about 12 min left")  # fmt: skip
    window.progress.setRange(0, 400)
    window.progress.setValue(311)
    window.resize(*size)
    window.show()
    qtbot.waitExposed(window)
    for _ in range(3):
        QApplication.processEvents()
        qtbot.wait(20)
    return window


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_the_audit_window_reads_whole(
    qtbot: QtBot,
    tmp_path: Path,
    theme: str,  # noqa: F811 (the fixture imported above)
    size: tuple[int, int],
) -> None:
    window = _show(qtbot, tmp_path, size)
    assert window.table.rowCount() == 2 * 4 * 3
    assert window.table.height() >= 120, "the table keeps room for rows"
    summary = window.summary.toPlainText()
    assert "Claim card" in summary and "Sweeps" in summary
    assert window.export_buttons["html"].isEnabled()
    problems = clipped_text(window) + overlaps(window)
    assert not problems, f"{window.width()}×{window.height()}:\n" + "\n".join(problems)
    window.results_tabs.setCurrentWidget(window.charts)
    # Two sweeps per model pair (T per budget, budget per T), two charts per condition.
    assert len(window.charts.charts) == 2 + 2 + 2 * 8
    QApplication.processEvents()
    problems = clipped_text(window) + overlaps(window)
    assert not problems, f"charts, {window.width()}×{window.height()}:\n" + "\n".join(problems)
    window.close()
