"""``quorum models ...`` end to end, against the stand-in hub where bytes move."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from app.cli import main
from app.cli.errors import EXIT_CANCELLED, EXIT_DOWNLOAD, EXIT_MODEL, EXIT_OK, EXIT_USAGE
from app.core.models import demo_model, library
from app.core.models.partial import partial_paths
from app.core.units import size_text
from tests.hubserver import HubServer, small_gguf

REPO = "acme/Tiny-GGUF"
FILE = "tiny-Q4_K_M.gguf"
SIZE = 2_000_000
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def tiny(hub: HubServer) -> bytes:
    data = small_gguf(SIZE)
    hub.add_file(REPO, FILE, data)
    return data


def test_list_shows_the_catalog_and_the_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "list"]) == EXIT_OK
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["ID", "NAME", "SIZE", "QUANT", "WHERE", "STATUS"]
    assert "qwen3-4b " in out and "[default]" in out and "not downloaded" in out
    assert "models folder:" in out


def test_models_without_an_action_is_a_usage_error() -> None:
    assert main(["models"]) == EXIT_USAGE


def test_download_shows_progress_and_lists_the_result(
    hub: HubServer, tiny: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "download", REPO, FILE]) == EXIT_OK
    captured = capsys.readouterr()
    assert "downloaded and verified" in captured.out
    assert "100%" in captured.err and "2.0 MB / 2.0 MB" in captured.err
    assert main(["models", "list"]) == EXIT_OK
    row = next(line for line in capsys.readouterr().out.splitlines() if "tiny-q4_k_m" in line)
    assert "models folder" in row and "verified" in row
    assert main(["models", "verify", "tiny-q4_k_m"]) == EXIT_OK
    assert "sha256 matches" in capsys.readouterr().out
    assert main(["models", "remove", "tiny-q4_k_m"]) == EXIT_OK
    assert "deleted" in capsys.readouterr().out


def test_damaged_download_is_retried_once(
    hub: HubServer, tiny: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    hub.corrupt_at(123)
    assert main(["models", "download", REPO, FILE]) == EXIT_OK
    assert "downloading once more" in capsys.readouterr().err
    assert main(["models", "remove", "tiny-q4_k_m"]) == EXIT_OK
    hub.corrupt_at(5)
    hub.corrupt_at(5)  # both attempts arrive damaged
    assert main(["models", "download", REPO, FILE]) == EXIT_DOWNLOAD
    assert "arrived damaged" in capsys.readouterr().err


def test_download_errors_exit_4_with_the_reason(
    hub: HubServer, tiny: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "download", REPO, "missing.gguf"]) == EXIT_DOWNLOAD
    assert "file 'missing.gguf' not found in repository acme/Tiny-GGUF" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["models", "download", "no-such-model"], "unknown model 'no-such-model'"),
        (["models", "download", "owner/repo"], "give the file too"),
        (["models", "download", "norepo", "x.gguf"], "not a hub repo"),
        (["models", "verify", "no-such-model"], "unknown model"),
        (["models", "remove", "no-such-model"], "unknown model"),
    ],
)
def test_bad_references_are_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == EXIT_USAGE
    assert message in capsys.readouterr().err


def test_offline_download_says_offline_mode_is_on(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "download", "qwen3-4b"]) == EXIT_DOWNLOAD
    assert "offline mode is on (HF_HUB_OFFLINE=1)" in capsys.readouterr().err


def test_import_validates_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"\0" * 100)
    assert main(["models", "import", str(bad)]) == EXIT_MODEL
    assert "not a GGUF model file" in capsys.readouterr().err
    good = tmp_path / "good.gguf"
    good.write_bytes(small_gguf(10_000))
    assert main(["models", "import", str(good)]) == EXIT_OK
    assert "imported Tiny Test Model (Q4_K_M)" in capsys.readouterr().out
    assert main(["models", "remove", "good"]) == EXIT_OK
    assert good.exists()
    assert main(["models", "verify", "qwen3-4b"]) == EXIT_MODEL
    assert "not downloaded yet" in capsys.readouterr().err


def test_demo_command_uses_the_cached_demo_model(
    test_model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    library.demo_dir().mkdir(parents=True)
    (library.demo_dir() / demo_model.FILENAME).symlink_to(test_model_path)
    assert main(["models", "demo"]) == EXIT_OK
    assert "demo model" in capsys.readouterr().out
    assert main(["models", "list"]) == EXIT_OK
    assert any(line.startswith("demo ") for line in capsys.readouterr().out.splitlines())


def test_ctrl_c_leaves_a_resumable_partial_and_exits_130(
    hub: HubServer, tiny: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    # The hub stalls at 1 MB until the test ends, so the Ctrl+C always lands mid-download
    # (a throttle raced the end of the file on a fast machine).
    hub.stall_at(1_000_000, 120)
    child = subprocess.Popen(
        [sys.executable, "-m", "app", "models", "download", REPO, FILE],
        cwd=ROOT,
        env=os.environ.copy(),
        # A suite started in the background (`cmd &` without job control) runs with SIGINT
        # ignored, and a child inherits that: Python then installs no KeyboardInterrupt.
        # A user's terminal delivers Ctrl+C; so does this.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    part = partial_paths(Path(os.environ["QUORUM_MODELS_DIR"]) / "acme--Tiny-GGUF" / FILE)[0]
    deadline = time.monotonic() + 20
    while not (part.exists() and part.stat().st_size >= 400_000):
        assert time.monotonic() < deadline and child.poll() is None, child.communicate()
        time.sleep(0.05)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=20)
    assert child.returncode == EXIT_CANCELLED, err
    assert "paused; run the same command to resume" in err
    kept = part.stat().st_size
    assert 400_000 <= kept < SIZE
    assert main(["models", "download", REPO, FILE]) == EXIT_OK
    assert "resumed" in capsys.readouterr().out
    assert hub.range_starts()[-1] == kept


class _DiskFillsUp:
    """A partial file on a disk with ``room`` bytes left: writes beyond fail with ENOSPC."""

    def __init__(self, handle: BinaryIO, room: int) -> None:
        self.handle = handle
        self.room = room

    def write(self, data: bytes) -> int:
        fits = max(0, min(len(data), self.room))
        self.handle.write(data[:fits])
        self.room -= fits
        if fits < len(data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), self.handle.name)
        return fits

    def __getattr__(self, name: str) -> Any:  # seek, truncate, close: the real file's
        return getattr(self.handle, name)

    def __enter__(self) -> _DiskFillsUp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.handle.close()


def test_a_disk_filling_up_mid_download_is_one_line_and_keeps_the_partial(
    hub: HubServer, tiny: bytes, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = Path.open

    def open_on_a_filling_disk(self: Path, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        handle = real_open(self, mode, *args, **kwargs)
        return _DiskFillsUp(handle, 700_000) if self.suffix == ".part" else handle

    with monkeypatch.context() as patched:
        patched.setattr(Path, "open", open_on_a_filling_disk)
        assert main(["models", "download", REPO, FILE]) == EXIT_DOWNLOAD
    err = capsys.readouterr().err
    folder = Path(os.environ["QUORUM_MODELS_DIR"]) / "acme--Tiny-GGUF"
    assert err.splitlines()[-1] == (
        f"quorum: error: the disk filled up while downloading {FILE} into {folder}: "
        "700 KB of 2.0 MB are kept; free some space, then start the download again to resume"
    )
    assert "Traceback" not in err
    assert partial_paths(folder / FILE)[0].stat().st_size == 700_000
    assert main(["models", "download", REPO, FILE]) == EXIT_OK
    assert "resumed, downloaded and verified" in capsys.readouterr().out
    assert (folder / FILE).read_bytes() == tiny


def _private_mounts_work() -> bool:
    """Whether this machine lets an unprivileged process mount a tmpfs of its own."""
    if sys.platform != "linux" or shutil.which("unshare") is None:
        return False
    probe = subprocess.run([*UNSHARE, "true"], capture_output=True, timeout=10)
    return probe.returncode == 0


UNSHARE = ("unshare", "--user", "--map-root-user", "--mount")


def test_a_real_disk_filling_up_mid_download_ends_in_one_line_and_resumes(
    hub: HubServer, tiny: bytes, tmp_path: Path
) -> None:
    if not _private_mounts_work():
        pytest.skip("needs Linux user and mount namespaces (unshare) for a private tmpfs")
    hub.faults.throttle = 1_000_000
    mount = tmp_path / "small-disk"
    mount.mkdir()
    run = subprocess.run(
        [*UNSHARE, sys.executable, "-m", "tests.disk_full", str(mount), REPO, FILE],
        cwd=ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    first, second = report["first"], report["second"]
    assert first["rc"] == EXIT_DOWNLOAD, first["stderr"]
    assert "Traceback" not in first["stderr"]
    kept = first["kept"]
    assert 400_000 <= kept < SIZE  # the partial stays, for resuming
    folder = mount / "models" / "acme--Tiny-GGUF"
    assert first["stderr"].splitlines()[-1] == (
        f"quorum: error: the disk filled up while downloading {FILE} into {folder}: "
        f"{size_text(kept)} of 2.0 MB are kept; free some space, then start the download "
        "again to resume"
    )
    assert second["rc"] == EXIT_OK, second["stderr"]
    assert "resumed, downloaded and verified" in second["stdout"]
    assert report["sha256"] == hashlib.sha256(tiny).hexdigest()
    assert hub.range_starts()[-1] == kept


def test_a_refused_token_is_one_line_saying_so(
    hub: HubServer, tiny: bytes, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    hub.require_token(REPO, "hf_secret")
    monkeypatch.setenv("HF_TOKEN", "hf_revoked")
    assert main(["models", "download", REPO, FILE]) == EXIT_DOWNLOAD
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"quorum: error: the hub refused your token for {REPO} (HTTP 401)")
