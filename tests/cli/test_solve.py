"""``quorum solve`` as a user runs it: a real process, the real model."""

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

pytestmark = pytest.mark.model


def quorum(
    *args: str, stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=REPO,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=os.environ.copy(),
    )


def test_json_output_has_model_params_and_samples(test_model_path: Path) -> None:
    out = quorum(
        "solve",
        "What is 2 + 2?",
        "--model",
        str(test_model_path),
        "--json",
        "--seed",
        "42",
        "--max-tokens",
        "40",
        "--temperature",
        "0.5",
    )
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert payload["model"]["path"] == str(test_model_path)
    assert payload["model"]["architecture"] == "llama"
    assert payload["model"]["file_size"] == test_model_path.stat().st_size
    params = payload["params"]
    assert params["seed"] == 42 and params["temperature"] == 0.5 and params["max_tokens"] == 40
    for key in (
        "top_p",
        "top_k",
        "min_p",
        "repeat_penalty",
        "presence_penalty",
        "n_ctx",
        "threads",
        "gpu_layers",
        "thinking",
    ):
        assert key in params
    (sample,) = payload["samples"]
    assert sample["seed"] == 42
    assert sample["answer"] and sample["tokens"] > 0 and sample["seconds"] > 0
    assert sample["finish_reason"] in ("stop", "length")
    for key in ("trace", "extracted", "extracted_rule"):
        assert key in sample
    again = json.loads(
        quorum(
            "solve",
            "What is 2 + 2?",
            "--model",
            str(test_model_path),
            "--json",
            "--seed",
            "42",
            "--max-tokens",
            "40",
            "--temperature",
            "0.5",
        ).stdout
    )
    assert again["samples"][0]["answer"] == sample["answer"]


def test_streaming_prints_answer_to_stdout(test_model_path: Path) -> None:
    out = quorum(
        "solve", "Say hello.", "--model", str(test_model_path), "--max-tokens", "20", "--seed", "1"
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip()
    assert "Traceback" not in out.stderr


def test_question_from_stdin(test_model_path: Path) -> None:
    out = quorum(
        "solve",
        "-",
        "--model",
        str(test_model_path),
        "--max-tokens",
        "5",
        "--json",
        stdin="What colour is the sky?",
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["samples"][0]["tokens"] == 5


def _assert_one_line_error(out: subprocess.CompletedProcess[str], code: int, needle: str) -> None:
    assert out.returncode == code, (out.returncode, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert needle in lines[0].lower()
    assert "Traceback" not in out.stderr


def test_missing_file(tmp_path: Path) -> None:
    out = quorum("solve", "hi", "--model", str(tmp_path / "nope.gguf"))
    _assert_one_line_error(out, 3, "no such model file")


def test_not_a_gguf_file(tmp_path: Path) -> None:
    page = tmp_path / "page.gguf"
    page.write_text("<!DOCTYPE html><html><body>Not found</body></html>")
    _assert_one_line_error(quorum("solve", "hi", "--model", str(page)), 3, "gguf")


def test_truncated_gguf(tmp_path: Path, test_model_path: Path) -> None:
    cut = tmp_path / "cut.gguf"
    with test_model_path.open("rb") as src:
        cut.write_bytes(src.read(20_000_000))
    _assert_one_line_error(quorum("solve", "hi", "--model", str(cut)), 3, "truncated")


def test_empty_question(test_model_path: Path) -> None:
    out = quorum("solve", "   ", "--model", str(test_model_path))
    _assert_one_line_error(out, 2, "empty")


def test_bad_sampling_value(test_model_path: Path) -> None:
    out = quorum("solve", "hi", "--model", str(test_model_path), "--top-p", "3")
    _assert_one_line_error(out, 2, "top-p")


def test_question_too_long_for_context(test_model_path: Path) -> None:
    out = quorum("solve", "word " * 600, "--model", str(test_model_path), "--ctx", "256")
    _assert_one_line_error(out, 2, "context")


def test_ctrl_c_stops_cleanly(test_model_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app",
            "solve",
            "Write a very long story about a dragon.",
            "--model",
            str(test_model_path),
            "--max-tokens",
            "4000",
            "--temperature",
            "1.0",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    proc.stdout.read(20)  # the answer is streaming
    started = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert time.perf_counter() - started < 5
    assert "cancelled" in err and "Traceback" not in err


def test_consensus_json(test_model_path: Path) -> None:
    out = quorum(
        "solve",
        "What is 6 * 7? Answer with a number.",
        "--model",
        str(test_model_path),
        "--samples",
        "6",
        "--max-tokens",
        "32",
        "--seed",
        "9",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    consensus = payload["consensus"]
    for key in (
        "majority",
        "agreement",
        "agreement_ci95",
        "entropy_bits",
        "entropy_bits_mm",
        "distinct",
        "no_answer",
        "groups",
    ):
        assert key in consensus
    assert len(consensus["agreement_ci95"]) == 2
    assert sum(g["count"] for g in consensus["groups"]) == 6
    assert sorted(i for g in consensus["groups"] for i in g["samples"]) == list(range(6))
    seeds = [s["seed"] for s in payload["samples"]]
    assert len(set(seeds)) == 6
    assert all(s["group"] for s in payload["samples"])


def test_consensus_table(test_model_path: Path) -> None:
    out = quorum(
        "solve",
        "What is 6 * 7?",
        "--model",
        str(test_model_path),
        "--samples",
        "4",
        "--max-tokens",
        "24",
        "--seed",
        "9",
        "--early-stop",
    )
    assert out.returncode == 0, out.stderr
    assert "Majority:" in out.stdout and "Entropy:" in out.stdout and "█" in out.stdout


def test_consensus_sample_count_is_checked(test_model_path: Path) -> None:
    out = quorum("solve", "hi", "--model", str(test_model_path), "--samples", "600")
    _assert_one_line_error(out, 2, "between 2 and 512")


def test_consensus_llama_failure_is_a_clear_error(test_model_path: Path) -> None:
    # A context llama.cpp refuses to create: 255 slots of an 8,000-token sample need
    # ~46 GB of KV cache; the memory plan would refuse it, so its budget is lifted here.
    code = (
        "import sys, app.core.consensus.memory_plan as mp\n"
        "mp.DEFAULT_BUDGET_FRACTION = 1e6\n"
        "from app.cli import main\n"
        f"sys.exit(main(['solve', 'hi', '--model', {str(test_model_path)!r}, "
        "'--samples', '255', '--max-tokens', '8000', '--ctx', '512']))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 3, out.stderr
    assert "Traceback" not in out.stderr
    last = out.stderr.strip().splitlines()[-1]  # after the memory plan's line
    assert last.startswith("quorum: error: llama.cpp could not create a context")
    assert "fewer samples" in last


def test_greedy_consensus_warns_that_samples_are_copies(test_model_path: Path) -> None:
    out = quorum(
        "solve", "What is 6 * 7?", "--model", str(test_model_path), "--samples", "2",
        "--max-tokens", "8", "--seed", "9", "--temperature", "0",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "warning: Temperature 0 (or top-k 1) makes every sample the same" in out.stderr
    # The table names the n under every figure.
    assert "of 2 answered" in out.stdout and "(plug-in;" in out.stdout
