"""The Audit form's entries as the checker reads them (no window, no model)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.ui.audit.inputs import (
    AuditInputError,
    AuditInputs,
    check_inputs,
    parse_budgets,
    parse_temperatures,
)


def test_temperatures_and_budgets_are_lists_of_numbers() -> None:
    assert parse_temperatures("0.6") == (0.6,)
    assert parse_temperatures(" 0.3, 0.6;1 ") == (0.3, 0.6, 1.0)
    assert parse_budgets("") == (None,)
    assert parse_budgets("0, 256 1024, unlimited") == (0, 256, 1024, None)
    bad_temperatures = [
        ("", "at least one temperature"),
        ("6", "between 0 and 5"),
        ("nan", "between 0 and 5"),
        ("0.5 x", "'x' is not a temperature"),
    ]
    for bad, message in bad_temperatures:
        with pytest.raises(AuditInputError, match=message):
            parse_temperatures(bad)
    bad_budgets = [
        ("1.5", "'1.5' is not a thinking budget"),
        ("-1", "0 or more"),
        ("unlimited inf", "one budget twice"),
    ]
    for bad, message in bad_budgets:
        with pytest.raises(AuditInputError, match=message):
            parse_budgets(bad)


def _model(tmp_path: Path, name: str = "m.gguf", size: int = 10) -> Path:
    path = tmp_path / name
    path.write_bytes(b"GGUF" + b"\0" * size)
    return path


def test_the_samples_file_names_the_set_and_changes_with_the_settings(tmp_path: Path) -> None:
    model = _model(tmp_path)
    base = AuditInputs("arithmetic", (model,), samples=4, temperatures="0.7")
    plan = check_inputs(base, tmp_path / "audits")
    assert plan.samples_file.parent == tmp_path / "audits"
    assert plan.samples_file.name.startswith("arithmetic-")
    assert plan.config.total_samples == 20 * (4 + 1)
    assert check_inputs(base, tmp_path / "audits").samples_file == plan.samples_file
    others = [
        AuditInputs("arithmetic", (model,), samples=5, temperatures="0.7"),
        AuditInputs("arithmetic", (model,), samples=4, temperatures="0.8"),
        AuditInputs("arithmetic", (model,), samples=4, temperatures="0.7", greedy=False),
        AuditInputs("arithmetic", (model,), samples=4, temperatures="0.7", think_budgets="0"),
        AuditInputs("arithmetic", (model, _model(tmp_path, "b.gguf")), 4, "0.7"),
        AuditInputs("choice", (model,), samples=4, temperatures="0.7"),
    ]
    names = {check_inputs(i, tmp_path).samples_file.name for i in others}
    assert len(names) == len(others) and plan.samples_file.name not in names


def test_entries_are_refused_before_any_model_loads(tmp_path: Path) -> None:
    model = _model(tmp_path)
    cases = [
        (AuditInputs("arithmetic", ()), "Choose a model to audit"),
        (AuditInputs("arithmetic", (tmp_path / "gone.gguf",)), "is not there any more"),
        (AuditInputs("arithmetic", (model, model)), "the same file"),
        (AuditInputs("arithmetic", (model,), samples=1), "from 2 to 512"),
        (AuditInputs("arithmetic", (model,), max_tokens=0), "at least 1"),
        (AuditInputs(tmp_path / "none.jsonl", (model,)), "Question set: no such question set"),
        (AuditInputs("arithmetic", (model,), claim="solid"), "Claim: could not find"),
    ]
    for inputs, message in cases:
        with pytest.raises(AuditInputError, match=message):
            check_inputs(inputs, tmp_path)
