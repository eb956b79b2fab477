"""The server form's Test button against the stand-in vLLM server (tests.openai_shapes)."""

from __future__ import annotations

import json

import pytest
from pytestqt.qtbot import QtBot

from app.core.remote import keys
from app.core.settings import settings_path
from app.ui.settings.server_form import ServerForm
from tests.openai_shapes import MODEL, ShapeServer

pytestmark = pytest.mark.gui


def test_a_test_shows_what_the_probe_found_and_keeps_the_key_apart(qtbot: QtBot) -> None:
    form = ServerForm()
    qtbot.addWidget(form)
    with ShapeServer("vllm", api_key="sk-form-key") as server:
        form.url.setText(server.url)
        form.key.setText("sk-form-key")
        with qtbot.waitSignal(form.tested, timeout=20_000):
            form.test_button.click()
        form.wait_for_test()
    text = form.findings.text()
    assert "vllm 0.11.0" in text and MODEL in text and "consensus path: concurrent requests" in text
    assert "readable by you alone" in text
    assert keys.load_key(server.url) == "sk-form-key"
    assert "sk-form-key" not in settings_path().read_text()
    assert json.loads(settings_path().read_text())["server_url"] == server.url


def test_a_server_that_refuses_the_key_says_so(qtbot: QtBot) -> None:
    form = ServerForm()
    qtbot.addWidget(form)
    with ShapeServer("vllm", api_key="right") as server:
        form.url.setText(server.url)
        form.key.setText("wrong")
        with qtbot.waitSignal(form.test_failed, timeout=20_000) as signal:
            form.test_button.click()
        form.wait_for_test()
    assert "refused the API key (HTTP 401)" in signal.args[0]
    assert "refused the API key" in form.findings.text() and form.test_button.isEnabled()


def test_a_bad_url_is_refused_before_any_request(qtbot: QtBot) -> None:
    form = ServerForm()
    qtbot.addWidget(form)
    form.url.setText("ftp://example.org")
    with qtbot.waitSignal(form.test_failed, timeout=2_000):
        form.test_button.click()
    assert "http:// or https://" in form.findings.text()
