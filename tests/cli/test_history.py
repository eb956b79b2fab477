"""``quorum solve`` records its runs, ``quorum history`` reads them, and a consensus run
killed with kill -9 keeps its finished samples and resumes to the same samples."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.core.history.store import HistoryStore
from app.core.paths import data_dir
from tests.cli.test_solve import REPO, quorum

pytestmark = pytest.mark.model

PRIME = "Name a prime number between 10 and 50."


def _consensus_args(model: Path, *extra: str) -> list[str]:
    return ["solve", PRIME, "--model", str(model), "-n", "12", "--max-tokens", "32",
            "--seed", "9", "--temperature", "0.9", *extra]  # fmt: skip


def test_solve_records_runs_that_history_lists_shows_and_exports(
    test_model_path: Path, tmp_path: Path
) -> None:
    single = quorum("solve", "What is 2 + 3?", "-m", str(test_model_path), "--max-tokens", "16",
                    "--seed", "3")  # fmt: skip
    assert single.returncode == 0, single.stderr
    assert "recorded as run 1" in single.stderr
    skipped = quorum("solve", "Not kept", "-m", str(test_model_path), "--max-tokens", "4",
                     "--no-history")  # fmt: skip
    assert skipped.returncode == 0 and "recorded" not in skipped.stderr
    many = quorum("solve", "What is 2 + 3?", "-m", str(test_model_path), "-n", "3",
                  "--max-tokens", "16", "--seed", "4", "--json")  # fmt: skip
    assert many.returncode == 0, many.stderr
    printed = json.loads(many.stdout)

    listed = json.loads(quorum("history", "list", "--json").stdout)
    assert [(r["id"], r["n_samples"], r["status"]) for r in listed] == [(2, 3, "done"),
                                                                        (1, 1, "done")]  # fmt: skip
    text = quorum("history", "list").stdout
    assert "3 samples" in text and "What is 2 + 3?" in text
    assert "no runs match" in quorum("history", "list", "--search", "zebra").stderr

    with HistoryStore(data_dir() / "history.sqlite3") as store:  # what the window reads
        consensus = store.get_run(2)
    assert consensus.params["samples"] == 3 and consensus.consensus is not None
    assert [s.seed for s in consensus.samples] == [s["seed"] for s in printed["samples"]]
    assert [s.answer for s in consensus.samples] == [s["answer"] for s in printed["samples"]]

    shown = quorum("history", "show", "1")
    assert shown.returncode == 0 and "What is 2 + 3?" in shown.stdout and "seed 3" in shown.stdout
    out = tmp_path / "run.json"
    exported = quorum("history", "export", "2", "--format", "json", "-o", str(out))
    assert exported.returncode == 0 and str(out) in exported.stderr
    assert len(json.loads(out.read_text())["samples"]) == 3
    missing = quorum("history", "show", "99")
    assert missing.returncode == 2 and "no run 99" in missing.stderr
    assert "Traceback" not in missing.stderr
    done = quorum("history", "resume", "2")
    assert done.returncode == 2 and "only an interrupted run can be resumed" in done.stderr


def _saved_samples(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute("SELECT count(*) FROM samples").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_kill_9_mid_consensus_keeps_samples_and_resume_gives_the_full_run(
    test_model_path: Path,
) -> None:
    uninterrupted = quorum(*_consensus_args(test_model_path, "--json", "--no-history"))
    assert uninterrupted.returncode == 0, uninterrupted.stderr
    full = {
        s["index"]: (s["seed"], s["answer"]) for s in json.loads(uninterrupted.stdout)["samples"]
    }

    db = data_dir() / "history.sqlite3"
    child = subprocess.Popen([sys.executable, "-m", "app", *_consensus_args(test_model_path)],
                             cwd=REPO, env=os.environ.copy(), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 240
    while _saved_samples(db) < 2 and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    kept = _saved_samples(db)
    assert 2 <= kept < 12, kept  # killed mid-run, samples already on disk

    (row,) = json.loads(quorum("history", "list", "--json").stdout)
    assert (row["status"], row["n_samples"]) == ("interrupted", kept)
    resumed = quorum("history", "resume", str(row["id"]), "--json", timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{kept} of 12 samples saved, running the other {12 - kept}" in resumed.stderr
    payload = json.loads(resumed.stdout)
    assert payload["consensus"]["resumed_samples"] == kept
    after = {s["index"]: (s["seed"], s["answer"]) for s in payload["samples"]}
    assert after == full  # the same seeds give the same samples, resumed or not
    (row,) = json.loads(quorum("history", "list", "--json").stdout)
    assert (row["status"], row["n_samples"]) == ("done", 12)
