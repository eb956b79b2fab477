"""Downloads against the local stand-in hub: resume, verify, faults, cancel, restart."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from app.core.models import catalog, demo_model, index, library
from app.core.models.download import Downloader, downloader_for, partial_download
from app.core.models.download_lock import LOCKS_FOLDER
from app.core.models.entry import ModelFileError
from app.core.models.hub_errors import (
    ChecksumMismatchError,
    DownloadCancelled,
    HubAuthError,
    HubNotFoundError,
    HubOfflineError,
    HubServerError,
    HubUnreachableError,
    NotEnoughSpaceError,
)
from app.core.models.partial import partial_paths
from app.core.models.progress import Progress
from app.core.models.transfer import RetryPolicy, Timeouts
from tests.hubserver import HubServer, small_gguf

REPO = "acme/Tiny-GGUF"
FILE = "tiny-Q4_K_M.gguf"
SIZE = 3_000_000
FAST = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05)
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def tiny(hub: HubServer) -> bytes:
    data = small_gguf(SIZE)
    hub.add_file(REPO, FILE, data)
    return data


def downloader(**options: object) -> Downloader:
    options.setdefault("retry", FAST)
    return Downloader(REPO, FILE, **options)  # type: ignore[arg-type]


def test_download_verifies_registers_and_reports_progress(hub: HubServer, tiny: bytes) -> None:
    reports: list[Progress] = []
    result = downloader().run(progress=reports.append)
    assert result.how == "downloaded"
    assert result.path.read_bytes() == tiny
    assert result.path.parent.name == "acme--Tiny-GGUF"
    assert partial_download(REPO, FILE) is None
    assert reports[-1].phase == "done" and reports[-1].done == SIZE == reports[-1].total
    assert [r.done for r in reports] == sorted(r.done for r in reports)
    assert hub.range_starts() == [0]
    assert [(r.server, r.method, r.path.split("/")[-2]) for r in hub.log] == [
        ("hub", "POST", "paths-info"),  # metadata first
        ("hub", "GET", "0123456789abcdef0123456789abcdef01234567"),  # resolve, commit pinned
        ("cdn", "GET", "blobs"),  # the redirect to the CDN
    ]
    record = index.find_by_file(REPO, FILE)
    assert record is not None and record.owned and record.verified_at is not None
    assert record.commit == "0123456789abcdef0123456789abcdef01234567"
    assert library.verify(record.id).verified
    [entry] = [m for m in library.list_models() if m.filename == FILE]
    assert entry.verified and entry.path == result.path
    # A second call finds it on disk and asks the hub nothing.
    before = len(hub.log)
    assert downloader().run().how == "already-present"
    assert len(hub.log) == before


def test_a_file_that_failed_verification_is_downloaded_again(hub: HubServer, tiny: bytes) -> None:
    path = downloader().run().path
    path.write_bytes(b"\0" * SIZE)  # same size, wrong bytes
    with pytest.raises(ModelFileError):
        library.verify("tiny-q4_k_m")
    result = downloader().run()
    assert result.how == "downloaded" and result.path.read_bytes() == tiny
    assert library.resolve_model("tiny-q4_k_m").verified


def test_dropped_connection_resumes_with_range_and_verifies(hub: HubServer, tiny: bytes) -> None:
    hub.drop_at(1_234_567)
    result = downloader().run()
    assert result.path.read_bytes() == tiny
    assert hub.range_starts() == [0, 1_234_567]
    assert hub.bytes_served() == SIZE  # nothing fetched twice


def test_corrupted_byte_is_caught_deleted_and_never_listed(hub: HubServer, tiny: bytes) -> None:
    hub.corrupt_at(2_000_001)
    with pytest.raises(ChecksumMismatchError, match="deleted"):
        downloader().run()
    target = index.find_by_file(REPO, FILE)
    assert target is None
    left = Path(os.environ["QUORUM_MODELS_DIR"]).rglob("*.gguf*")
    assert [p for p in left if LOCKS_FOLDER not in p.parts] == []  # only the lock file stays
    assert all(m.filename != FILE for m in library.list_models())
    # The caller may try again; this time the bytes arrive intact.
    assert downloader().run().path.read_bytes() == tiny


def test_refuses_to_start_without_free_space(hub: HubServer, tiny: bytes) -> None:
    with pytest.raises(NotEnoughSpaceError, match=r"not enough free space.*3\.0 MB more"):
        downloader(free_space=lambda folder: SIZE).run()
    assert hub.data_requests() == []
    # Free space counts what is still to come: plenty of room succeeds.
    assert downloader(free_space=lambda folder: 10**12).run().size == SIZE


def test_cancel_keeps_partial_and_resume_skips_those_bytes(hub: HubServer, tiny: bytes) -> None:
    cancel = threading.Event()

    def on_progress(p: Progress) -> None:
        if p.done >= 1_000_000:
            cancel.set()

    hub.faults.throttle = 4_000_000
    with pytest.raises(DownloadCancelled):
        downloader().run(progress=on_progress, cancel=cancel)
    part = partial_download(REPO, FILE)
    assert part is not None
    kept = part.stat().st_size
    assert 1_000_000 <= kept < SIZE
    assert json.loads(partial_paths(part.with_suffix(""))[1].read_text())["size"] == SIZE
    assert all(m.path != part for m in library.list_models())

    hub.faults.throttle = None
    first_run_requests = len(hub.data_requests())
    result = downloader().run()
    assert result.how == "resumed" and result.path.read_bytes() == tiny
    resumed = hub.data_requests()[first_run_requests:]
    assert [r.range for r in resumed] == [f"bytes={kept}-"]
    assert resumed[0].body_bytes == SIZE - kept


def test_cancel_is_prompt_while_the_server_stalls(hub: HubServer, tiny: bytes) -> None:
    hub.stall_at(500_000, 20.0, times=50)  # every reconnect stalls too
    cancel = threading.Event()
    timer = threading.Timer(1.0, cancel.set)
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(DownloadCancelled):
            downloader(timeouts=Timeouts(tick=0.3, stall=60)).run(cancel=cancel)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 4.0  # not the 20 s the server stalls


def test_short_stall_reconnects_from_the_current_byte(hub: HubServer, tiny: bytes) -> None:
    hub.stall_at(700_000, 2.0)
    result = downloader(timeouts=Timeouts(tick=0.5, stall=30)).run()
    assert result.path.read_bytes() == tiny
    assert 700_000 in hub.range_starts()


def test_a_slow_to_answer_server_gets_more_time(hub: HubServer, tiny: bytes) -> None:
    hub.faults.response_delay = 0.5
    result = downloader(timeouts=Timeouts(tick=0.2, stall=30)).run()
    assert result.path.read_bytes() == tiny
    assert hub.range_starts() == [0]  # the first bytes arrived on the last try


def test_restart_after_the_process_is_killed_resumes(hub: HubServer, tiny: bytes) -> None:
    hub.faults.throttle = 1_000_000
    script = (
        f"from app.core.models.download import Downloader\nDownloader({REPO!r}, {FILE!r}).run()\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=os.environ.copy())
    part = partial_paths(Path(os.environ["QUORUM_MODELS_DIR"]) / "acme--Tiny-GGUF" / FILE)[0]
    try:
        deadline = time.monotonic() + 20
        while not (part.exists() and part.stat().st_size >= 800_000):
            assert time.monotonic() < deadline, "the child never wrote its partial file"
            assert child.poll() is None, "the child finished too early"
            time.sleep(0.05)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    kept = part.stat().st_size
    assert kept < SIZE
    hub.faults.throttle = None
    served_before = len(hub.data_requests())
    result = Downloader(REPO, FILE, retry=FAST).run()  # a new process would do the same
    assert result.how == "resumed" and result.path.read_bytes() == tiny
    assert [r.range for r in hub.data_requests()[served_before:]] == [f"bytes={kept}-"]


def test_stale_partial_of_another_version_is_discarded(hub: HubServer, tiny: bytes) -> None:
    target = Path(os.environ["QUORUM_MODELS_DIR"]) / "acme--Tiny-GGUF" / FILE
    part, sidecar = partial_paths(target)
    part.parent.mkdir(parents=True)
    part.write_bytes(b"x" * 1000)
    sidecar.write_text(json.dumps({"sha256": "0" * 64, "size": SIZE}))
    assert downloader().run().path.read_bytes() == tiny
    assert hub.range_starts() == [0]


def test_unauthorised_explains_how_to_give_a_token(
    hub: HubServer, tiny: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub.require_token(REPO, "hf_secret")
    with pytest.raises(HubAuthError, match="HF_TOKEN") as caught:
        downloader().run()
    assert "hf auth login" in str(caught.value)
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    assert downloader().run().path.read_bytes() == tiny
    # The token goes to the hub only, never to the CDN the bytes come from.
    assert all(r.authorization is None for r in hub.log if r.server == "cdn")
    assert any(r.authorization == "Bearer hf_secret" for r in hub.log if r.server == "hub")


def test_not_found_names_the_missing_file_or_repo(hub: HubServer, tiny: bytes) -> None:
    with pytest.raises(HubNotFoundError, match=r"file 'nope\.gguf' not found in repository"):
        Downloader(REPO, "nope.gguf", retry=FAST).run()
    with pytest.raises(HubNotFoundError, match="repository acme/missing not found"):
        Downloader("acme/missing", FILE, retry=FAST).run()


def test_server_errors_are_retried_until_the_hub_recovers(hub: HubServer, tiny: bytes) -> None:
    hub.fail_next(500, times=1, path_contains="paths-info")
    hub.fail_next(503, times=2, path_contains="/blobs/")
    result = downloader().run()
    assert result.path.read_bytes() == tiny
    statuses = [r.status for r in hub.log if r.server == "cdn"]
    assert statuses == [503, 503, 200]


def test_server_errors_give_up_after_max_attempts(hub: HubServer, tiny: bytes) -> None:
    hub.fail_next(500, times=10, path_contains="/blobs/")
    with pytest.raises(HubServerError, match="gave up after 4 attempts"):
        downloader().run()
    assert len([r for r in hub.log if r.server == "cdn"]) == 4


def test_client_errors_are_not_retried(hub: HubServer, tiny: bytes) -> None:
    hub.fail_next(403, times=1, path_contains="/blobs/")
    with pytest.raises(HubAuthError):
        downloader().run()
    assert len([r for r in hub.log if r.server == "cdn"]) == 1


def test_no_network_says_so(hub: HubServer, monkeypatch: pytest.MonkeyPatch) -> None:
    hub.stop()
    monkeypatch.setenv("HF_ENDPOINT", hub.url)  # nothing listens there any more
    with pytest.raises(HubUnreachableError, match="could not reach the Hugging Face hub"):
        downloader().run()


def test_offline_mode_refuses_without_a_request(
    hub: HubServer, tiny: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(HubOfflineError, match="HF_HUB_OFFLINE"):
        downloader().run()
    assert hub.log == []


def test_file_name_pattern_is_resolved_from_the_repo_listing(hub: HubServer, tiny: bytes) -> None:
    hub.add_file(REPO, "README.md", b"# tiny\n", lfs=False)
    result = Downloader(REPO, filename_glob="*q4_k_m.gguf", retry=FAST).run()
    assert result.filename == FILE
    hub.add_file(REPO, "tiny-copy-Q4_K_M.gguf", tiny)
    with pytest.raises(HubNotFoundError, match="exactly one file"):
        Downloader(REPO, filename_glob="*.GGUF", retry=FAST).run()


def test_small_git_file_is_verified_by_its_git_object_id(hub: HubServer) -> None:
    data = small_gguf(50_000, seed=3)
    hub.add_file(REPO, "small.gguf", data, lfs=False)
    result = Downloader(REPO, "small.gguf", retry=FAST).run()
    assert result.sha256 is None and result.path.read_bytes() == data
    library.remove(result.entry_id)
    hub.corrupt_at(10)
    with pytest.raises(ChecksumMismatchError):
        Downloader(REPO, "small.gguf", retry=FAST).run()
    assert not result.path.exists()


def test_copy_in_the_hf_cache_is_verified_and_used_in_place(hub: HubServer, tiny: bytes) -> None:
    from huggingface_hub import hf_hub_download

    cached = Path(
        hf_hub_download(REPO, FILE, cache_dir=os.environ["HF_HOME"] + "/hub", endpoint=hub.url)
    )
    data_before = len(hub.data_requests())
    result = downloader().run()
    assert result.how == "hf-cache" and result.path == cached
    assert len(hub.data_requests()) == data_before  # no byte downloaded twice
    record = index.find_by_file(REPO, FILE)
    assert record is not None and not record.owned
    library.remove(record.id)  # forgets it; the HF cache keeps its file
    assert cached.exists()


def test_offline_copy_in_the_hf_cache_is_checked_against_its_blob_name(
    hub: HubServer, tiny: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import hf_hub_download

    hf_hub_download(REPO, FILE, cache_dir=os.environ["HF_HOME"] + "/hub", endpoint=hub.url)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    requests_before = len(hub.log)
    assert downloader().run().how == "hf-cache"
    assert len(hub.log) == requests_before


def test_catalog_models_download_under_their_ids(hub: HubServer) -> None:
    small = catalog.get_entry("qwen3-1.7b")
    community = catalog.get_entry("qwen3-4b-claude-distill")
    assert small is not None and small.filename and community is not None
    hub.add_file(small.repo, small.filename, small_gguf(100_000, seed=4))
    hub.add_file(community.repo, "Distill.Q4_K_M.gguf", small_gguf(100_000, seed=5))
    hub.add_file(community.repo, "Distill.Q8_0.gguf", small_gguf(100_000, seed=6))
    assert downloader_for("qwen3-1.7b", retry=FAST).run().entry_id == "qwen3-1.7b"
    result = downloader_for("qwen3-4b-claude-distill", retry=FAST).run()
    assert result.entry_id == "qwen3-4b-claude-distill" and result.filename == "Distill.Q4_K_M.gguf"
    by_id = {m.id: m for m in library.list_models()}
    assert by_id["qwen3-1.7b"].verified and by_id["qwen3-1.7b"].location == "models folder"
    assert by_id["qwen3-4b-claude-distill"].path == result.path
    requests_before = len(hub.log)
    assert downloader_for("qwen3-4b-claude-distill").run().how == "already-present"
    assert len(hub.log) == requests_before


def test_after_download_offline_use_makes_no_request(
    hub: HubServer, tiny: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    downloader().run()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    requests_before = len(hub.log)

    def refuse(self: socket.socket, address: object) -> None:
        raise AssertionError(f"network access attempted: {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    entry = library.resolve_model("tiny-q4_k_m")
    assert entry.path is not None and entry.verified
    assert library.default_model() == entry
    assert downloader().run().how == "already-present"
    assert len(hub.log) == requests_before


@pytest.mark.slow
def test_real_model_end_to_end_with_a_dropped_connection(
    hub: HubServer, test_model_path: Path
) -> None:
    from app.core.models.gguf import read_gguf_info

    repo = "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF"
    hub.add_file(repo, demo_model.FILENAME, test_model_path)
    hub.drop_at(60_000_000)
    result = Downloader(repo, demo_model.FILENAME, retry=FAST).run()
    assert result.sha256 == demo_model.SHA256 and result.size == demo_model.SIZE
    assert hub.range_starts() == [0, 60_000_000]
    info = read_gguf_info(result.path)
    assert info.architecture == "llama" and info.file_type == "Q4_1"
    [entry] = [m for m in library.list_models() if m.repo == repo]
    assert entry.verified and library.verify(entry.id).verified


@pytest.mark.parametrize(
    ("status", "error"), [(401, HubAuthError), (403, HubAuthError), (404, HubNotFoundError)]
)
def test_a_refused_download_leaves_no_empty_partial(
    hub: HubServer, tiny: bytes, status: int, error: type[Exception]
) -> None:
    hub.fail_next(status, path_contains="/resolve/")  # metadata fine, the bytes refused
    with pytest.raises(error):
        downloader().run()
    assert [r.status for r in hub.log if "/resolve/" in r.path] == [status]
    folder = Path(os.environ["QUORUM_MODELS_DIR"]) / "acme--Tiny-GGUF"
    assert [p.name for p in folder.iterdir() if p.is_file()] == []
    assert partial_download(REPO, FILE) is None


def test_a_refused_resume_keeps_the_bytes_already_there(hub: HubServer, tiny: bytes) -> None:
    cancel = threading.Event()
    hub.faults.throttle = 4_000_000
    with pytest.raises(DownloadCancelled):
        downloader().run(lambda p: p.done >= 500_000 and cancel.set(), cancel)
    part = partial_download(REPO, FILE)
    assert part is not None
    kept = part.stat().st_size
    hub.faults.throttle = None
    hub.fail_next(403, path_contains="/blobs/")
    with pytest.raises(HubAuthError):
        downloader().run()
    assert part.stat().st_size == kept  # still worth resuming
    assert downloader().run().how == "resumed"


def test_a_refused_token_is_called_refused_not_missing(
    hub: HubServer, tiny: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub.require_token(REPO, "hf_secret")
    monkeypatch.setenv("HF_TOKEN", "hf_expired")
    with pytest.raises(HubAuthError) as caught:
        downloader().run()
    message = str(caught.value)
    assert message.startswith(f"the hub refused your token for {REPO} (HTTP 401): it is invalid")
    assert f"{hub.url}/settings/tokens" in message and "provide a token" not in message
    assert any(r.authorization == "Bearer hf_expired" for r in hub.log)
    # A good token without access to the bytes (HTTP 403 while transferring them).
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    hub.fail_next(403, path_contains="/resolve/")
    with pytest.raises(HubAuthError) as caught:
        downloader().run()
    assert str(caught.value).startswith(f"your token has no access to {REPO}/{FILE} (HTTP 403)")


def _next_request_after(hub: HubServer, moment: float) -> float:
    return min(r.at for r in hub.log if r.at > moment)


def test_a_stalled_server_gets_growing_waits_announced_with_their_real_length(
    hub: HubServer, tiny: bytes
) -> None:
    hub.stall_at(500_000, 30.0, times=3)  # the first pass and two reconnects hang there
    policy = RetryPolicy(max_attempts=6, base_delay=0.4, max_delay=5.0)
    reports: list[tuple[float, Progress]] = []
    result = downloader(retry=policy, timeouts=Timeouts(tick=0.2, stall=30)).run(
        progress=lambda p: reports.append((time.monotonic(), p))
    )
    assert result.path.read_bytes() == tiny
    # Bytes flowed, then paused: the first reconnect is at once; the next ones wait.
    assert [r.range for r in hub.log if r.server == "cdn"] == [None] + ["bytes=500000-"] * 3
    pauses = [(at, p) for at, p in reports if p.retry_in is not None]
    assert len(pauses) == 2
    for at, p in pauses:
        assert p.retry_in is not None
        pattern = rf"no data from the hub for \d\.\d s; reconnecting in {p.retry_in:.1f} s"
        assert re.fullmatch(pattern, p.message), p.message
        waited = _next_request_after(hub, at) - at
        assert p.retry_in - 0.01 <= waited <= p.retry_in + 0.2, (waited, p.retry_in)
    first, second = (p.retry_in for _, p in pauses)
    assert 0.3 <= first <= 0.5 and 0.6 <= second <= 1.0  # 0.4 s, then 0.8 s, +/- 25%


def test_a_failing_hub_request_announces_each_retry_and_its_wait(
    hub: HubServer, tiny: bytes
) -> None:
    hub.fail_next(503, times=2, path_contains="paths-info")
    reports: list[tuple[float, Progress]] = []
    policy = RetryPolicy(max_attempts=6, base_delay=0.3, max_delay=5.0)
    downloader(retry=policy).run(progress=lambda p: reports.append((time.monotonic(), p)))
    retries = [(at, p) for at, p in reports if p.retry_in is not None]
    assert len(retries) == 2
    for at, p in retries:
        assert p.total == 0 and p.retry_in is not None
        assert p.message.endswith(f"; retrying in {p.retry_in:.1f} s")
        waited = _next_request_after(hub, at) - at
        assert p.retry_in - 0.01 <= waited <= p.retry_in + 0.2, (waited, p.retry_in)
