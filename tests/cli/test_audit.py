"""``quorum audit`` as a user runs it: a real process, the real test model, a tiny set."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TINY = (
    '{"id": "mul", "question": "What is 7 * 8? Answer with a number.", "answer": "56"}\n'
    '{"id": "add", "question": "What is 2 + 3? Answer with a number.", "answer": "5"}\n'
)


def quorum(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=os.environ.copy(),
    )


def _set(tmp_path: Path, text: str = TINY, name: str = "tiny.jsonl") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--samples", "1"], "--samples must be between 2 and 512"),
        (["--temperature", "0.5", "0.5"], "lists a temperature twice"),
        (["--claim", "very consistent"], "could not find an agreement share"),
        (["--max-tokens", "0"], "--max-tokens must be at least 1"),
    ],
)
def test_bad_options_exit_2_with_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    out = quorum("audit", str(_set(tmp_path)), "--model", "x.gguf", *args)
    assert out.returncode == 2, out.stderr
    assert message in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_bad_set_files_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"prompt\nx\n")
    out = quorum("audit", str(bad), "--model", "x.gguf")
    assert out.returncode == 2 and "needs a 'question' column" in out.stderr
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes(b'{"question": "caf\xe9"}\n')
    out = quorum("audit", str(latin), "--model", "x.gguf")
    assert out.returncode == 2 and "not valid UTF-8" in out.stderr
    assert "Traceback" not in out.stderr


def test_missing_model_exits_3(tmp_path: Path) -> None:
    out = quorum("audit", str(_set(tmp_path)), "--model", str(tmp_path / "none.gguf"))
    assert out.returncode == 3 and "no such model file" in out.stderr


# Kept small: the kill test runs the audit three times (killed, resumed, uninterrupted).
CHEAP = ("--no-greedy", "--max-tokens", "16")


def _audit_args(
    model: Path, set_path: Path, samples_file: Path, *extra: str, samples: int = 4
) -> list[str]:
    return [
        "audit",
        str(set_path),
        "--model",
        str(model),
        "--samples",
        str(samples),
        "--temperature",
        "0.8",
        "--max-tokens",
        "24",
        "--threads",
        "2",
        "--ctx",
        "1024",
        "--seed",
        "21",
        "--samples-file",
        str(samples_file),
        *extra,
    ]


@pytest.mark.model
@pytest.mark.slow
def test_real_audit_writes_report_and_json(test_model_path: Path, tmp_path: Path) -> None:
    report = tmp_path / "out" / "audit.html"
    out = quorum(
        *_audit_args(test_model_path, _set(tmp_path), tmp_path / "s.jsonl"),
        "--claim",
        "100% self-consistency at 512 samples, 0 bits",
        "--report",
        str(report),
        "--json",
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    (condition,) = data["conditions"]
    assert [q["n"] for q in condition["questions"]] == [4, 4]
    assert all(len(q["samples"]) == 4 and q["greedy"] for q in condition["questions"])
    assert data["software"]["llama_cpp_python"] and data["hardware"]["cpu_count"]
    card = next(iter(data["claim"]["cards"].values()))
    assert any("512" in line and "0.75%" in line for line in card)
    page = report.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page
    assert json.loads(report.with_suffix(".json").read_text())["conditions"] == data["conditions"]
    assert report.with_suffix(".md").read_text().startswith("# Quorum audit: tiny.jsonl")
    assert "4 samples per question" in out.stderr or "10 samples to audit" in out.stderr


@pytest.mark.model
@pytest.mark.slow
def test_killed_audit_continues_with_the_same_seeds(test_model_path: Path, tmp_path: Path) -> None:
    questions = _set(
        tmp_path, TINY + '{"id": "sub", "question": "What is 9 - 4?", "answer": "5"}\n'
    )
    killed = tmp_path / "killed.jsonl"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app",
            *_audit_args(test_model_path, questions, killed, *CHEAP, samples=2),
        ],
        cwd=REPO,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 200
    try:
        while time.monotonic() < deadline and process.poll() is None:
            lines = killed.read_text().count("\n") if killed.exists() else 0
            if lines >= 1 + 1:  # header + the first sample: most likely mid-question
                break
            time.sleep(0.05)
        assert process.poll() is None, "the audit ended before it could be killed"
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    before = killed.read_text().splitlines()
    assert 2 <= len(before) < 7, "killed mid-audit"
    resumed = quorum(*_audit_args(test_model_path, questions, killed, *CHEAP, samples=2), "--json")
    assert resumed.returncode == 0, resumed.stderr
    after = killed.read_text().splitlines()
    assert after[: len(before)] == before, "samples saved before the kill are kept as they were"
    assert len(after) == 1 + 6
    whole = quorum(
        *_audit_args(test_model_path, questions, tmp_path / "whole.jsonl", *CHEAP, samples=2),
        "--json",
    )
    assert whole.returncode == 0, whole.stderr

    def samples(out: subprocess.CompletedProcess[str]) -> list[tuple[str, int, int, str]]:
        data = json.loads(out.stdout)
        return [
            (q["id"], s["index"], s["seed"], s["answer"])
            for q in data["conditions"][0]["questions"]
            for s in q["samples"]
        ]

    assert samples(resumed) == samples(whole), "a resumed audit is the uninterrupted one"


@pytest.mark.model
@pytest.mark.slow
def test_two_models_side_by_side(test_model_path: Path, tmp_path: Path) -> None:
    from tests.core.inference.test_chat_template import HYBRID_TEMPLATE
    from tests.gguf_edit import copy_with_string

    # The test model beside its Qwen3-style thinking-template copy: the same weights and
    # GGUF name, so only the file name can tell the two apart in the tables.
    thinking = copy_with_string(
        test_model_path, tmp_path / "smol-think.gguf", "tokenizer.chat_template", HYBRID_TEMPLATE
    )
    args = _audit_args(test_model_path, _set(tmp_path), tmp_path / "two.jsonl", *CHEAP, samples=2)
    out = quorum(*args, "--model", str(thinking), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    names = [m["name"] for m in data["models"]]
    assert len(set(names)) == 2 and names[1].endswith("(smol-think.gguf)")
    assert [c["model"] for c in data["conditions"]] == [m["key"] for m in data["models"]]
    for condition in data["conditions"]:
        assert [q["id"] for q in condition["questions"]] == ["mul", "add"]
        assert [q["n"] for q in condition["questions"]] == [2, 2]
    text = quorum(*args, "--model", str(thinking))  # every sample saved: only the summary
    assert text.returncode == 0, text.stderr
    rows = [line for line in text.stdout.splitlines() if line.startswith("| ") and "0.8" in line]
    assert len(rows) == 2 and "smol-think.gguf" in rows[1] and "smol-think" not in rows[0]
