"""Searching the stand-in hub from the model manager: results, a repository's files with
sizes and fit, and a download of the chosen file through the manager's verified path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.core.models.download import RetryPolicy
from app.ui.models.download_worker import active_workers
from app.ui.models.hub_search import HubSearchPanel
from app.ui.models.manager import ModelManagerDialog
from tests.hubserver import HubServer, small_gguf

pytestmark = pytest.mark.gui
WAIT_MS = 15_000
REPO = "someone/Tiny-Reasoner-GGUF"


@pytest.fixture(autouse=True)
def no_worker_left_running(qtbot: QtBot) -> Iterator[None]:
    yield
    qtbot.waitUntil(lambda: not active_workers(), timeout=5000)


@pytest.fixture
def hosted(hub: HubServer, test_model_path: Path) -> HubServer:
    hub.add_file(REPO, "Tiny-Reasoner-Q4_K_M.gguf", small_gguf(3_000_000, seed=1))
    hub.add_file(REPO, "Tiny-Reasoner-Q8_0.gguf", small_gguf(5_000_000, seed=2))
    hub.describe_repo(REPO, downloads=90_000, likes=300)
    smol = "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF"
    hub.add_file(smol, test_model_path.name, test_model_path)
    hub.describe_repo(smol, downloads=5_400, likes=21, parameters=134_515_008)
    return hub


def _cells(table: object, column: int) -> list[str]:
    rows = table.rowCount()  # type: ignore[attr-defined]
    return [table.item(row, column).text() for row in range(rows)]  # type: ignore[attr-defined]


def _search(panel: HubSearchPanel, qtbot: QtBot, words: str) -> None:
    panel.query.setText(words)
    panel.search_button.click()
    qtbot.waitUntil(lambda: not panel.status.text().startswith("Searching"), timeout=WAIT_MS)


def test_search_lists_repositories_then_a_repositorys_files(
    qtbot: QtBot, hosted: HubServer
) -> None:
    panel = HubSearchPanel()
    qtbot.addWidget(panel)
    panel.search_button.click()
    assert panel.status.text() == "Type a few words of a model's name first."
    _search(panel, qtbot, "i")  # both repositories have an "i" in their name
    assert _cells(panel.results, 0) == [REPO, "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF"]
    assert _cells(panel.results, 1) == ["90,000", "5,400"]
    assert _cells(panel.results, 2) == ["300", "21"]
    assert _cells(panel.results, 3) == ["—", "0.13 B parameters"]
    assert "most downloaded first" in panel.status.text()
    assert not panel.download_button.isEnabled()
    panel.results.selectRow(0)
    qtbot.waitUntil(lambda: panel.files.rowCount() == 2, timeout=WAIT_MS)
    assert _cells(panel.files, 0) == ["Tiny-Reasoner-Q4_K_M.gguf", "Tiny-Reasoner-Q8_0.gguf"]
    assert _cells(panel.files, 1) == ["Q4_K_M", "Q8_0"]
    assert _cells(panel.files, 2) == ["3.0 MB", "5.0 MB"]
    assert _cells(panel.files, 3) == ["yes", "yes"]  # a few MB fit in any test machine
    assert "Estimated" in panel.files.item(0, 3).toolTip()
    panel.files.selectRow(1)
    with qtbot.waitSignal(panel.download_requested) as asked:
        panel.download_button.click()
    assert asked.args == [REPO, "Tiny-Reasoner-Q8_0.gguf"]


def test_no_match_and_hub_errors_are_said_in_the_panel(
    qtbot: QtBot, hosted: HubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    panel = HubSearchPanel()
    qtbot.addWidget(panel)
    _search(panel, qtbot, "no such model")
    assert panel.status.text() == "No GGUF repository on the hub matches “no such model”."
    hosted.fail_next(503, path_contains="/api/models")
    _search(panel, qtbot, "tiny")
    assert (
        panel.status.text()
        == "The hub could not be asked: the hub answered HTTP 503 for the model search"
    )
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _search(panel, qtbot, "tiny")
    assert panel.status.text().startswith("The hub could not be asked:")
    assert "offline" in panel.status.text().lower()


def test_manager_downloads_the_file_found_by_search(qtbot: QtBot, hosted: HubServer) -> None:
    dialog = ModelManagerDialog(retry=RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.05))
    qtbot.addWidget(dialog)
    panel = dialog.hub_search
    _search(panel, qtbot, "reasoner")
    panel.results.selectRow(0)
    qtbot.waitUntil(lambda: panel.files.rowCount() == 2, timeout=WAIT_MS)
    panel.files.selectRow(0)
    panel.download_button.click()
    qtbot.waitUntil(lambda: dialog.worker is None, timeout=WAIT_MS)
    assert dialog.message().startswith("Tiny-Reasoner-Q4_K_M.gguf downloaded and verified")
