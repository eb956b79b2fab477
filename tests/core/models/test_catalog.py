"""The curated model catalog in resources/catalog.json."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from app.core.models import catalog
from app.core.models.catalog import CatalogError, parse_catalog

CATALOG_FILE = Path(__file__).resolve().parents[3] / "resources" / "catalog.json"


def test_default_is_qwen3_4b_from_the_official_repo() -> None:
    entry = catalog.default_entry()
    assert entry is not None
    assert (entry.id, entry.repo, entry.filename) == (
        "qwen3-4b",
        "Qwen/Qwen3-4B-GGUF",
        "Qwen3-4B-Q4_K_M.gguf",
    )
    assert entry.quantization == "Q4_K_M" and entry.family == "qwen3"
    assert entry.notes.supports_thinking_toggle and not entry.notes.template_opens_think
    assert entry.sampling["thinking"].as_dict() == {
        "temperature": 0.6,
        "top_p": 0.95,
        "top_k": 20,
        "min_p": 0.0,
    }
    assert entry.sampling["non_thinking"].as_dict() == {
        "temperature": 0.7,
        "top_p": 0.8,
        "top_k": 20,
        "min_p": 0.0,
    }


def test_alternatives_carry_the_facts_the_parser_needs() -> None:
    by_id = {e.id: e for e in catalog.load_catalog()}
    assert set(by_id) == {
        "qwen3-4b",
        "qwen3-1.7b",
        "qwen3-4b-thinking-2507",
        "deepseek-r1-distill-qwen-1.5b",
        "qwen3-4b-claude-distill",
    }
    assert by_id["qwen3-1.7b"].filename == "Qwen3-1.7B-Q8_0.gguf"
    for thinking_only in ("qwen3-4b-thinking-2507", "deepseek-r1-distill-qwen-1.5b"):
        entry = by_id[thinking_only]
        assert entry.notes.template_opens_think and not entry.notes.supports_thinking_toggle
        assert "non_thinking" not in entry.sampling
    r1 = by_id["deepseek-r1-distill-qwen-1.5b"].sampling["thinking"]
    assert (r1.temperature, r1.top_p) == (0.6, 0.95)
    community = by_id["qwen3-4b-claude-distill"]
    assert community.community and "unverified" in community.notes.description.lower()
    assert community.filename is None and community.filename_glob
    assert [e.id for e in by_id.values() if e.community] == ["qwen3-4b-claude-distill"]
    assert all(e.approx_size > 500_000_000 and e.license for e in by_id.values())


def test_catalog_pins_no_checksums() -> None:
    # sha256 comes from the hub at download time; a copied hash would go stale.
    assert "sha256" not in CATALOG_FILE.read_text()


def test_matches_file_understands_names_and_patterns() -> None:
    assert catalog.find_by_file("qwen/qwen3-4b-gguf", "Qwen3-4B-Q4_K_M.gguf").id == "qwen3-4b"  # type: ignore[union-attr]
    assert catalog.find_by_file("Qwen/Qwen3-4B-GGUF", "Qwen3-4B-Q8_0.gguf") is None
    community = catalog.get_entry("qwen3-4b-claude-distill")
    assert community is not None
    assert community.matches_file(community.repo, "Some-Distill.Q4_K_M.gguf")
    assert not community.matches_file(community.repo, "Some-Distill.Q8_0.gguf")


def test_resources_dir_prefers_a_pyinstaller_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert catalog.resources_dir() == CATALOG_FILE.parent
    (tmp_path / "resources").mkdir()
    shutil.copy(CATALOG_FILE, tmp_path / "resources" / "catalog.json")
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert catalog.resources_dir() == tmp_path / "resources"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "must be an object"),
        ({"models": [1]}, "is not an object"),
        ({"models": [{"id": "a"}]}, "needs 'filename'"),
        ({"models": [{"id": "a", "filename": "a.gguf"}]}, "lacks 'display_name'"),
    ],
)
def test_malformed_catalogs_give_a_clear_error(document: object, message: str) -> None:
    with pytest.raises(CatalogError, match=message):
        parse_catalog(document)


def test_duplicate_ids_and_two_defaults_are_rejected() -> None:
    data = json.loads(CATALOG_FILE.read_text())
    twice = {"models": [data["models"][0], data["models"][0]]}
    with pytest.raises(CatalogError, match="duplicate ids: qwen3-4b"):
        parse_catalog(twice)
    second = dict(data["models"][1], default=True)
    with pytest.raises(CatalogError, match="more than one model as default"):
        parse_catalog({"models": [data["models"][0], second]})
    wrong_type = dict(data["models"][1], approx_size="big")
    with pytest.raises(CatalogError, match="'approx_size' has the wrong type"):
        parse_catalog({"models": [wrong_type]})


def test_missing_catalog_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="not found"):
        catalog.load_catalog(tmp_path / "catalog.json")
