"""``quorum solve`` refuses bad input with one line, before any model is loaded.

No model is needed: every case names a model file that does not exist, so a check
that ran after the model lookup would end in exit 3 ("no such model file") instead
of the usage error (exit 2) asserted here.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.cli import main
from app.cli.errors import EXIT_USAGE

ROOT = Path(__file__).resolve().parents[2]
NO_MODEL = "/nonexistent/qwen3-4b-Q4_K_M.gguf"


def solve(*args: str | bytes, stdin: bytes | None = None, **env: str) -> tuple[int, str]:
    """Run the real CLI; returns the exit code and stderr."""
    done = subprocess.run(
        [sys.executable, "-m", "app", "solve", *args, "--model", NO_MODEL],
        cwd=ROOT,
        env={**os.environ, "LC_ALL": "C.UTF-8", **env},
        input=stdin,
        capture_output=True,
        timeout=60,
    )
    return done.returncode, done.stderr.decode("utf-8", "replace")


def assert_one_line(err: str, expected: str) -> None:
    assert "Traceback" not in err
    assert err.splitlines() == [expected]


@pytest.mark.skipif(sys.platform == "win32", reason="Windows passes arguments as UTF-16")
def test_a_question_argument_that_is_not_utf8_is_a_usage_error() -> None:
    code, err = solve(b"caf\xe9 au lait?")  # Latin-1 bytes, as an old terminal sends them
    assert code == EXIT_USAGE
    assert_one_line(
        err, "quorum: error: the question is not valid UTF-8 text (byte 0xe9 at character 3)"
    )


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [
        # Where standard input is decoded strictly (most desktop locales) ...
        (
            "utf-8:strict",
            "the question on standard input is not valid UTF-8 text (it contains the byte 0xff)",
        ),
        # ... and where bad bytes are smuggled in as surrogates (the C and C.UTF-8 locales).
        (
            "utf-8:surrogateescape",
            "the question is not valid UTF-8 text (byte 0xff at character 8)",
        ),
    ],
)
def test_a_question_on_stdin_that_is_not_utf8_is_a_usage_error(
    encoding: str, expected: str
) -> None:
    code, err = solve("-", stdin=b"what is \xff\xfe 2 + 2?", PYTHONIOENCODING=encoding)
    assert code == EXIT_USAGE
    assert_one_line(err, f"quorum: error: {expected}")


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--temperature", "nan"], "temperature must be a finite number, not nan"),
        (["--temperature", "inf"], "temperature must be a finite number, not inf"),
        (["--top-p", "nan"], "top-p must be a finite number, not nan"),
        (["--top-p", "3"], "top-p must be in (0, 1]"),
        (["--seed", "-5"], "seed must be in [0, 2^32)"),
        (["--ctx", "0"], "the context size must be at least 256 tokens"),
        (["--ctx", "-1"], "the context size must be at least 256 tokens"),
        (["--threads", "0"], "the number of threads must be at least 1"),
        (["--gpu-layers", "-2"], "GPU layers must be 0 or more (-1 for all)"),
    ],
)
def test_bad_sampling_and_runtime_options_fail_before_the_model_loads(
    option: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_loading(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was opened before the options were checked")

    monkeypatch.setattr("app.cli.solve.Engine", no_loading)
    assert main(["solve", "hi", "--model", NO_MODEL, *option]) == EXIT_USAGE
    assert capsys.readouterr().err.splitlines() == [f"quorum: error: {message}"]


def test_a_bad_temperature_fails_fast_in_a_real_process() -> None:
    started = time.monotonic()
    code, err = solve("What is 2 + 2?", "--temperature", "nan")
    assert code == EXIT_USAGE
    assert_one_line(err, "quorum: error: temperature must be a finite number, not nan")
    assert time.monotonic() - started < 15  # a process start, not a model load
