"""``quorum solve --server``: a real process against a real llama-server (and, for the
key's handling, the stand-in server of tests.openai_shapes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.llama_server import LlamaServer
from tests.openai_shapes import MODEL, ShapeServer
from tests.server_fixtures import API_KEY

REPO = Path(__file__).resolve().parents[2]


def quorum(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args], cwd=REPO, capture_output=True, text=True,
        timeout=180, env={**os.environ, **(env or {})},
    )  # fmt: skip


@pytest.mark.model
def test_one_answer_on_llama_server_names_the_server(llama_server: LlamaServer) -> None:
    out = quorum(
        "solve", "What is 2 + 2?", "--server", llama_server.url, "--api-key-env", "QK",
        "--json", "--seed", "5", "--max-tokens", "24", env={"QK": API_KEY},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert payload["engine"]["url"] == llama_server.url
    assert payload["engine"]["kind"] == "llama-server" and payload["engine"]["version"]
    assert payload["params"]["seed"] == 5 and payload["samples"][0]["seed"] == 5
    assert API_KEY not in out.stdout + out.stderr


@pytest.mark.model
def test_consensus_on_llama_server_says_which_path_it_took(llama_server: LlamaServer) -> None:
    out = quorum(
        "solve", "What is 2 + 2?", "--server", llama_server.url, "--api-key-env", "QK",
        "--json", "-n", "8", "--seed", "40", "--max-tokens", "24", env={"QK": API_KEY},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert payload["engine"]["consensus_path"] == "llama-server n_cmpl"
    assert [s["seed"] for s in payload["samples"]] == list(range(40, 48))
    assert payload["consensus"]
    assert "8 samples on" in out.stderr and "via llama-server n_cmpl" in out.stderr


def test_the_key_comes_from_the_environment_and_is_never_printed() -> None:
    with ShapeServer("vllm", api_key="sk-secret-value") as server:
        ok = quorum("solve", "Hi", "--server", server.url, "--api-key-env", "QK", "--json",
                    env={"QK": "sk-secret-value"})  # fmt: skip
        wrong = quorum("solve", "Hi", "--server", server.url, "--api-key-env", "QK",
                       env={"QK": "sk-wrong-value"})  # fmt: skip
        missing = quorum("solve", "Hi", "--server", server.url, "--api-key-env", "NOT_SET_QK")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["engine"]["model"] == MODEL
    assert "sk-secret-value" not in ok.stdout + ok.stderr
    assert wrong.returncode == 5
    assert "refused the API key (HTTP 401)" in wrong.stderr and "Traceback" not in wrong.stderr
    assert "sk-wrong-value" not in wrong.stdout + wrong.stderr
    assert missing.returncode == 2 and "NOT_SET_QK is not set" in missing.stderr


def test_an_unreachable_server_is_one_line_not_a_traceback() -> None:
    out = quorum("solve", "Hi", "--server", "http://127.0.0.1:9")
    assert out.returncode == 5
    assert "cannot connect to the server at http://127.0.0.1:9" in out.stderr
    assert "Traceback" not in out.stderr
