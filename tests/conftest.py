"""Shared fixtures.

Every test runs with Quorum's folders pointed at a temporary directory and with the
hub client forced offline unless a test starts its own local hub, so no test can
touch a user's real files or the network.
"""

from __future__ import annotations

import faulthandler
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import tqdm

from app.core.inference.cpu_probe import FORCE_ENV, choose_config
from tests.fetch_test_model import fetch_test_model

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

pytest_plugins = ["tests.hubserver"]

# tqdm (used by huggingface_hub) starts a monitor daemon thread on first use. It is not
# Quorum's, yet the window tests' thread-leak checks would blame the window for it.
tqdm.tqdm.monitor_interval = 0


# pytest-timeout's SIGALRM handler is Python code, which never runs while the main
# thread waits inside Qt's event loop (seen once: a waitSignal whose own timer did
# not fire, under heavy load); this watchdog is a C thread that dumps every stack and
# exits, so a hang fails in minutes instead of holding CI until its 90-minute limit.
HANG_LIMIT_S = 360


@pytest.fixture(autouse=True)
def hang_watchdog() -> Iterator[None]:
    faulthandler.dump_traceback_later(HANG_LIMIT_S, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = tmp_path / "quorum-home"
    for name in ("DATA", "CONFIG", "CACHE"):
        monkeypatch.setenv(f"QUORUM_{name}_DIR", str(root / name.lower()))
    monkeypatch.setenv("QUORUM_MODELS_DIR", str(root / "models"))
    monkeypatch.setenv("HF_HOME", str(root / "hf-home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    yield root


@pytest.fixture(scope="session")
def test_model_path() -> Path:
    """The real SmolLM2-135M-Instruct GGUF, fetched once into .cache/models.

    The first test that needs it also runs the real CPU probe once, then forces the
    configuration it chose for the rest of the session: every test has a fresh cache
    folder, and re-probing in each would add a child process per model load. On a CPU
    whose repacked kernels crash, this is what keeps pytest itself alive.
    """
    path = fetch_test_model()
    if not os.environ.get(FORCE_ENV):
        verdict = choose_config(path)
        os.environ[FORCE_ENV] = verdict.config.name
        print(f"\nllama.cpp probe: {verdict.summary()} ({verdict.seconds:.2f} s)")
    return path


# A real llama-server for the server-engine tests (tests/core/remote, tests/cli): one per
# session, started only when a selected test asks for it (see tests.server_fixtures).
from tests.server_fixtures import (  # noqa: E402, F401 (fixtures and a hook, found by name)
    fresh_server,
    llama_server,
    pytest_collection_finish,
    server_engine,
)
