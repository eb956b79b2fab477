"""Fixtures for server-engine tests (core and CLI): a real llama-server on 127.0.0.1.

Imported by the conftest of each test folder that uses them.

Building llama-server from the vendored llama.cpp takes minutes on a fresh machine
(cached afterwards, see tests.llama_tools). It is built at collection time, when a
server test was collected, so neither pytest-timeout nor the per-test watchdog counts
the build against the first test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.inference.cpu_probe import FORCE_ENV, choose_config
from app.core.remote.config import make_config
from app.core.remote.engine import ServerEngine
from tests.llama_server import LlamaServer
from tests.llama_tools import build_tools

API_KEY = "quorum-test-key"
SERVER_FIXTURES = {"llama_server", "server_engine", "fresh_server"}


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build llama-server now when a test that will run needs it (not for deselected ones)."""
    if any(SERVER_FIXTURES & set(getattr(item, "fixturenames", ())) for item in session.items):
        build_tools()


@pytest.fixture(scope="session")
def llama_server(
    test_model_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LlamaServer]:
    """One llama-server for the session: the test model, -np 8, an API key."""
    if not os.environ.get(FORCE_ENV):  # test_model_path sets it; be explicit anyway
        os.environ[FORCE_ENV] = choose_config(test_model_path).config.name
    server = LlamaServer(
        test_model_path,
        parallel=8,
        api_key=API_KEY,
        log_dir=tmp_path_factory.mktemp("llama-server"),
    )
    with server:
        yield server


@pytest.fixture
def server_engine(llama_server: LlamaServer) -> Iterator[ServerEngine]:
    engine = ServerEngine(make_config(llama_server.url, api_key=API_KEY))
    with engine:
        yield engine


@pytest.fixture
def fresh_server(test_model_path: Path, tmp_path: Path) -> Iterator[LlamaServer]:
    """A llama-server of the test's own, for tests that kill it."""
    with LlamaServer(test_model_path, parallel=8, log_dir=tmp_path) as server:
        yield server
