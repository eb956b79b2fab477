"""``quorum audit SET --server URL``: a real process against the real llama-server fixture."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.llama_server import LlamaServer, free_port
from tests.server_fixtures import API_KEY

REPO = Path(__file__).resolve().parents[2]
TINY = (
    '{"id": "mul", "question": "What is 7 * 8? Answer with a number.", "answer": "56"}\n'
    '{"id": "add", "question": "What is 2 + 3? Answer with a number.", "answer": "5"}\n'
)


def quorum(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args], cwd=REPO, capture_output=True, text=True,
        timeout=240, env={**os.environ, **(env or {})},
    )  # fmt: skip


def tiny_set(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.jsonl"
    path.write_text(TINY, encoding="utf-8")
    return path


@pytest.mark.model
def test_audit_on_llama_server_runs_each_condition_there_and_names_it(
    llama_server: LlamaServer, tmp_path: Path
) -> None:
    report = tmp_path / "out" / "audit.html"
    out = quorum(
        "audit", str(tiny_set(tmp_path)), "--server", llama_server.url, "--api-key-env", "QK",
        "--samples", "2", "--max-tokens", "16", "--seed", "3", "--no-think",
        "--report", str(report), "--json", env={"QK": API_KEY},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    server = data["server"]
    assert server["url"] == llama_server.url and server["kind"] == "llama-server"
    assert server["version"] and server["consensus_path"] == "llama-server n_cmpl"
    assert [m["path"] for m in data["models"]] == [llama_server.url]
    assert data["models"][0]["name"] == server["model"]
    assert "question seed + i" in data["settings"]["seed_rule"]
    (condition,) = [c for c in data["conditions"] if c["temperature"] == 0.6]
    assert len(condition["questions"]) == 2
    for question in condition["questions"]:
        seeds = [s["seed"] for s in sorted(question["samples"], key=lambda s: s["index"])]
        assert seeds == [question["seed"], question["seed"] + 1]  # the seed rule it states
    markdown = report.with_suffix(".md").read_text("utf-8")
    assert f"Decoded on the server `{llama_server.url}`" in markdown
    assert "auditing" in out.stderr and "via llama-server n_cmpl" in out.stderr
    written = "".join(p.read_text("utf-8") for p in report.parent.iterdir())
    assert API_KEY not in out.stdout + out.stderr + written


def test_a_think_budget_on_a_server_is_refused_before_any_request(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # a request would fail differently
    out = quorum("audit", str(tiny_set(tmp_path)), "--server", dead, "--think-budget", "64")
    assert out.returncode == 2, out.stderr
    assert "a thinking budget needs the local engine" in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.glob("*.audit-samples.jsonl"))


def test_an_unreachable_server_is_one_line_and_exit_code(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    out = quorum("audit", str(tiny_set(tmp_path)), "--server", dead, "--samples", "2")
    assert out.returncode == 5, out.stderr  # EXIT_SERVER, as quorum solve --server
    assert "127.0.0.1" in out.stderr and "Traceback" not in out.stderr
