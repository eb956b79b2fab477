"""One writer per file: two Quorum processes downloading the same model at once.

Real ``python -m app`` processes against the local stand-in hub. Before the lock, two
downloads at once appended to one partial and left a file with the wrong sha256 that
models.json recorded as verified; the second process died with a traceback.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from app.cli import main
from app.cli.errors import EXIT_MODEL, EXIT_OK
from app.core.models import catalog, index
from app.core.models.download import Downloader
from app.core.models.hub_errors import DownloadCancelled
from app.core.models.partial import partial_paths
from app.core.models.progress import Progress
from app.core.models.transfer import RetryPolicy
from tests.hubserver import HubServer, small_gguf

REPO = "acme/Tiny-GGUF"
FILE = "tiny-Q4_K_M.gguf"
SIZE = 3_000_000
ROOT = Path(__file__).resolve().parents[3]
WAITING = "another Quorum window or command is downloading"


@pytest.fixture
def tiny(hub: HubServer) -> bytes:
    data = small_gguf(SIZE)
    hub.add_file(REPO, FILE, data)
    # About two seconds per download: long enough for the processes to overlap.
    hub.faults.throttle = 1_500_000
    return data


def target() -> Path:
    return Path(os.environ["QUORUM_MODELS_DIR"]) / "acme--Tiny-GGUF" / FILE


def start_cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_partial(child: subprocess.Popen[str], at_least: int) -> None:
    part = partial_paths(target())[0]
    deadline = time.monotonic() + 20
    while not (part.exists() and part.stat().st_size >= at_least):
        assert time.monotonic() < deadline and child.poll() is None, child.communicate()
        time.sleep(0.02)


def assert_one_verified_copy(data: bytes) -> None:
    """The file on disk is the hub's, recorded once with the right digest, no leftovers."""
    expected = hashlib.sha256(data).hexdigest()
    assert hashlib.sha256(target().read_bytes()).hexdigest() == expected
    document = json.loads(index.index_path().read_text(encoding="utf-8"))
    records = [r for r in document["models"] if r["filename"] == FILE]
    assert len(records) == 1, records
    [record] = records
    assert record["sha256"] == expected and record["size"] == SIZE
    assert record["verified_at"] is not None and record["path"] == str(target())
    assert not [p for p in target().parent.iterdir() if p.name.endswith((".part", ".part.json"))]


def test_two_cli_downloads_at_once_leave_one_verified_file(hub: HubServer, tiny: bytes) -> None:
    first = start_cli("models", "download", REPO, FILE)
    second = start_cli("models", "download", REPO, FILE)
    outputs = [child.communicate(timeout=60) for child in (first, second)]
    for child, (_, err) in zip((first, second), outputs, strict=True):
        assert child.returncode == EXIT_OK, err
        assert "Traceback" not in err
    said = sorted(out.split(":")[1].strip() for out, _ in outputs)
    assert said == ["already downloaded", "downloaded and verified"]
    assert_one_verified_copy(tiny)
    assert hub.bytes_served() == SIZE  # one process moved the bytes, once


def test_the_second_download_says_it_waits_then_finds_the_file(hub: HubServer, tiny: bytes) -> None:
    first = start_cli("models", "download", REPO, FILE)
    wait_for_partial(first, 300_000)
    started = time.monotonic()
    second = start_cli("models", "download", REPO, FILE)
    out, err = second.communicate(timeout=60)
    waited = time.monotonic() - started
    first_out, first_err = first.communicate(timeout=60)
    assert first.returncode == second.returncode == EXIT_OK, (first_err, err)
    assert "downloaded and verified" in first_out and "already downloaded" in out
    lines = err.splitlines()
    assert [line for line in lines if WAITING in line] == [
        f"quorum: {WAITING} {FILE}; waiting for it to finish"
    ]  # said once, not with every progress report
    assert "Traceback" not in err + first_err
    assert waited > 0.5  # it really waited for the rest of the first download
    assert_one_verified_copy(tiny)
    assert hub.range_starts() == [0]


def test_the_windows_downloader_waits_for_a_cli_download_and_can_cancel(
    hub: HubServer, tiny: bytes
) -> None:
    # The window runs Downloader.run on a worker thread (app.ui.models.download_worker).
    child = start_cli("models", "download", REPO, FILE)
    wait_for_partial(child, 300_000)
    reports: list[Progress] = []
    cancel = threading.Event()

    def on_progress(p: Progress) -> None:
        reports.append(p)
        if len([r for r in reports if r.phase == "waiting"]) == 3:
            cancel.set()

    started = time.monotonic()
    with pytest.raises(DownloadCancelled):
        Downloader(REPO, FILE, retry=RetryPolicy(max_attempts=2)).run(on_progress, cancel)
    assert time.monotonic() - started < 3  # cancel works while waiting
    waiting = [r for r in reports if r.phase == "waiting"]
    message = f"{WAITING} {FILE}; waiting for it to finish"
    assert waiting and all(r.message == message for r in waiting)
    assert all(r.total == SIZE for r in waiting)
    assert 300_000 <= waiting[0].done <= waiting[-1].done < SIZE  # the other one's progress
    assert {r.phase for r in reports} == {"waiting"}  # it never touched the partial
    out, err = child.communicate(timeout=60)
    assert child.returncode == EXIT_OK and "downloaded and verified" in out, err
    assert_one_verified_copy(tiny)
    assert Downloader(REPO, FILE).run().how == "already-present"


def test_removing_a_model_while_it_downloads_is_refused(
    hub: HubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = catalog.get_entry("qwen3-1.7b")
    assert entry is not None and entry.filename
    data = small_gguf(SIZE, seed=4)
    hub.add_file(entry.repo, entry.filename, data)
    hub.faults.throttle = 1_500_000
    child = start_cli("models", "download", "qwen3-1.7b")
    models = Path(os.environ["QUORUM_MODELS_DIR"])
    part = partial_paths(models / entry.repo.replace("/", "--") / entry.filename)[0]
    deadline = time.monotonic() + 20
    while not (part.exists() and part.stat().st_size > 100_000):
        assert time.monotonic() < deadline and child.poll() is None, child.communicate()
        time.sleep(0.02)
    assert main(["models", "remove", "qwen3-1.7b"]) == EXIT_MODEL
    assert "is being downloaded right now" in capsys.readouterr().err
    out, err = child.communicate(timeout=60)
    assert child.returncode == EXIT_OK and "downloaded and verified" in out, err
    assert main(["models", "remove", "qwen3-1.7b"]) == EXIT_OK  # once it is done
