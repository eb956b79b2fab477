"""The window's Engine choice: a real llama-server (tests.server_fixtures), offscreen.

Server chosen from Settings, its Test, a single answer and a small consensus run on
it, the status bar, the records (they name the server and never hold the key), a
switch back to the local SmolLM2, a dead server, a wrong key and a server killed
mid-run; and that a fresh settings file sends nothing to any server.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.core.consensus.record import has_consensus_report, record_to_report_data
from app.core.consensus.runner import ConsensusSample
from app.core.history.records import RunRecord, RunStatus
from app.core.settings import settings_path
from app.ui.main_window import MainWindow
from app.ui.settings.engine_choice import LOCAL, SERVER, ServerDialog
from tests.llama_server import LlamaServer, free_port
from tests.server_fixtures import API_KEY

pytestmark = [pytest.mark.gui, pytest.mark.model, pytest.mark.usefixtures("no_message_boxes")]

QUESTION = "What is 2 + 2?"
CONNECT_MS = 30_000
RUN_MS = 120_000


@pytest.fixture
def window(qtbot: QtBot) -> Iterator[MainWindow]:
    window = MainWindow()
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    window.settings_panel.spins["max_tokens"].setValue(24)
    window.settings_panel.seed_edit.setText("7")
    yield window
    dialog = window.settings_panel.engine_choice.dialog
    if dialog is not None:
        dialog.form.wait_for_test()
    window.close()
    assert not window.session.inference.qthread.isRunning()


def server_dialog(window: MainWindow, url: str, key: str = "") -> ServerDialog:
    dialog = window.settings_panel.engine_choice.open_server_dialog()
    dialog.form.url.setText(url)
    dialog.form.key.setText(key)
    return dialog


def use_server(window: MainWindow, qtbot: QtBot, url: str, key: str = API_KEY) -> None:
    dialog = server_dialog(window, url, key)
    with qtbot.waitSignal(window.session.server_connected, timeout=CONNECT_MS):
        dialog.use_button.click()


def ask(window: MainWindow, qtbot: QtBot, question: str = QUESTION) -> RunRecord:
    window.question.setPlainText(question)
    with qtbot.waitSignal(window.session.run_finished, timeout=RUN_MS) as finished:
        qtbot.mouseClick(window.ask_button, Qt.MouseButton.LeftButton)
    record: RunRecord = finished.args[0]
    return record


def history_bytes(window: MainWindow) -> bytes:
    folder = Path(window.session.store.path).parent
    return b"".join(p.read_bytes() for p in folder.iterdir() if p.is_file())


def test_a_fresh_settings_file_sends_nothing_to_any_server(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The offline default: no connection leaves the process unless a server was chosen."""
    attempts: list[Any] = []
    real_connect = socket.socket.connect

    def watched(sock: socket.socket, address: Any) -> Any:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            attempts.append(address)
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", watched)
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    window.start()
    choice = window.settings_panel.engine_choice
    assert choice.choice() == LOCAL and window.session.server is None
    choice.combo.setCurrentIndex(choice.combo.findData(SERVER))  # nothing configured yet
    assert choice.dialog is not None and choice.dialog.isVisible(), "the form comes first"
    assert choice.choice() == LOCAL
    qtbot.wait(300)
    window.close()
    assert attempts == []
    saved = json.loads(settings_path().read_text()) if settings_path().exists() else {}
    assert saved.get("engine") != "server"


def test_server_engine_answers_runs_consensus_and_is_recorded_without_the_key(
    window: MainWindow, qtbot: QtBot, llama_server: LlamaServer, test_model_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)
    with qtbot.waitSignal(window.session.model_loaded, timeout=CONNECT_MS):
        window.open_model(test_model_path)
    assert window.status.model_label.text().startswith("This computer: SmolLM2")

    # Test shows what the probe found.
    dialog = server_dialog(window, llama_server.url, API_KEY)
    with qtbot.waitSignal(dialog.form.tested, timeout=CONNECT_MS):
        dialog.form.test_button.click()
    dialog.form.wait_for_test()
    findings = dialog.form.findings.text()
    for part in ("llama-server", "parallel slots: 8", "context per slot: 1024 tokens",
                 "n_cmpl", "n_probs", "seed", "cache_prompt",
                 "consensus path: llama-server n_cmpl"):  # fmt: skip
        assert part in findings, findings

    with qtbot.waitSignal(window.session.server_connected, timeout=CONNECT_MS):
        dialog.use_button.click()
    host = llama_server.url.removeprefix("http://")
    status = window.status.model_label.text()
    assert status.startswith("Server: llama-server ") and f"at {host} · model " in status
    assert window.settings_panel.engine_choice.choice() == SERVER
    saved = settings_path().read_text()
    assert json.loads(saved)["engine"] == "server" and API_KEY not in saved

    # A single answer on the server, in the same panes.
    single = ask(window, qtbot)
    assert single.status == RunStatus.DONE, single.error
    assert single.model_path == llama_server.url
    server = single.params["server"]
    assert server["url"] == llama_server.url and server["kind"] == "llama-server"
    assert server["version"] and server["model"] == single.model_name
    assert "llama_config" not in single.params  # no llama.cpp ran here
    assert window.answer_view.markdown() == single.answer
    assert f"on llama-server {server['version']} at {llama_server.url}" in window.run_info.text()

    # A small consensus run: the same panel, the n_cmpl path, recorded with the server.
    window.consensus_options.set_enabled(True)
    window.consensus_options.samples_spin.setValue(4)
    plan_seen: list[str] = []
    window.consensus_session.sampled.connect(
        lambda _e: plan_seen.append(window.run_info.text()) if not plan_seen else None
    )
    run = ask(window, qtbot)
    assert run.status == RunStatus.DONE, run.error
    assert has_consensus_report(run) and len(run.samples) == 4
    assert plan_seen[0] == f"Consensus: 4 samples on {host}, 4 at a time, via llama-server n_cmpl"
    assert window.consensus_view.chips.total == 4 and len(window.consensus_view.samples) == 4
    stored = window.session.store.get_run(run.id or -1)
    assert stored.model_path == llama_server.url
    assert stored.consensus is not None
    assert stored.consensus["model"]["server"]["consensus_path"] == "llama-server n_cmpl"
    assert "consensus: 4 of 4 samples" in window.run_info.text()
    assert "on llama-server" in window.run_info.text()
    exported = json.dumps(record_to_report_data(stored))
    assert llama_server.url in exported and API_KEY not in exported

    # The key is in none of the records, exports or logs.
    assert API_KEY.encode() not in history_bytes(window)
    assert API_KEY not in caplog.text

    # Back to this computer: the local model answers again.
    choice = window.settings_panel.engine_choice
    with qtbot.waitSignal(window.session.server_closed, timeout=CONNECT_MS):
        choice.combo.setCurrentIndex(choice.combo.findData(LOCAL))
    assert window.status.model_label.text().startswith("This computer: SmolLM2")
    window.consensus_options.set_enabled(False)
    local = ask(window, qtbot)
    assert local.status == RunStatus.DONE and "server" not in local.params
    assert local.model_path == str(test_model_path) and "llama_config" in local.params
    assert json.loads(settings_path().read_text())["engine"] == "local"


def test_a_dead_server_or_a_wrong_key_is_a_message_in_the_window(
    window: MainWindow, qtbot: QtBot, llama_server: LlamaServer
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    dialog = server_dialog(window, dead)
    with qtbot.waitSignal(window.session.server_failed, timeout=CONNECT_MS):
        dialog.use_button.click()
    assert window.banner.level == "error" and "Could not use the server" in window.banner.text()
    assert "127.0.0.1" in window.banner.text() and "Traceback" not in window.banner.text()
    assert not window.status.model_label.text().startswith("Server:")
    assert window.settings_panel.engine_choice.choice() == LOCAL
    assert window.session.server is None

    dialog = server_dialog(window, llama_server.url, "not-the-key")
    with qtbot.waitSignal(window.session.server_failed, timeout=CONNECT_MS) as failed:
        dialog.use_button.click()
    assert "refused the API key (HTTP 401)" in failed.args[0]
    assert "refused the API key" in window.banner.text()


def test_a_server_killed_mid_run_keeps_the_finished_samples(
    window: MainWindow, qtbot: QtBot, fresh_server: LlamaServer
) -> None:
    use_server(window, qtbot, fresh_server.url, key="")
    window.settings_panel.spins["max_tokens"].setValue(400)
    window.consensus_options.set_enabled(True)
    window.consensus_options.samples_spin.setValue(8)

    def kill_on_first(_event: ConsensusSample) -> None:
        fresh_server.kill()

    window.consensus_session.sampled.connect(kill_on_first)
    # Short answers end within a few dozen tokens, rambling ones run to 400: the first
    # to finish kills the server while others are still being written.
    run = ask(window, qtbot)
    assert run.status == RunStatus.ERROR, "the server died: the run cannot be done"
    assert run.error is not None and "finished samples are kept" in run.error
    kept = len(run.samples)
    assert 1 <= kept < 8
    assert window.session.store.get_run(run.id or -1).samples, "the samples are stored"
    assert f"the {kept} finished samples are kept" in window.banner.text()
    assert window.banner.level == "error"
