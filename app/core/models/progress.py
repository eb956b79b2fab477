"""Progress reports, cancel checks and hashing files already on disk.

Shared by downloads (app.core.models.transfer) and the library's verify/import, so the GUI
gets the same report shape for every long file operation.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.files import sha256_of_file
from app.core.models import demo_model
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
from app.core.units import eta_text, size_pair, size_text

HASH_BLOCK = 4 << 20


@dataclass(frozen=True)
class Progress:
    """A progress report: ``done`` of ``total`` bytes, rate in bytes/s, ETA in seconds."""

    done: int
    total: int
    rate: float
    eta: float | None
    # "checking" (hashing bytes already on disk), "downloading", "done", or "waiting"
    # (another process is downloading the file; ``done`` is how far it has come)
    phase: str
    message: str = ""
    retry_in: float | None = None  # seconds until the next try, when waiting to retry

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0


ProgressCallback = Callable[[Progress], None]


class ProgressReporter:
    """Rate over a sliding window, ETA, and at most ~10 reports a second."""

    def __init__(self, callback: ProgressCallback | None, total: int, window: float = 5.0) -> None:
        self._callback = callback
        self.total = total
        self._window = window
        self._samples: deque[tuple[float, int]] = deque()
        self._last_report = 0.0

    def rate(self, done: int) -> float:
        now = time.monotonic()
        self._samples.append((now, done))
        while len(self._samples) > 2 and now - self._samples[0][0] > self._window:
            self._samples.popleft()
        first_time, first_done = self._samples[0]
        elapsed = now - first_time
        return (done - first_done) / elapsed if elapsed > 0 else 0.0

    def reset_rate(self) -> None:
        self._samples.clear()

    def report(
        self,
        done: int,
        phase: str,
        message: str = "",
        force: bool = False,
        retry_in: float | None = None,
    ) -> None:
        rate = self.rate(done) if phase == "downloading" else 0.0
        now = time.monotonic()
        if self._callback is None or (not force and now - self._last_report < 0.1):
            return
        self._last_report = now
        eta = (self.total - done) / rate if rate > 0 else None
        self._callback(Progress(done, self.total, rate, eta, phase, message, retry_in))


def check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise DownloadCancelled("download cancelled; run it again to resume")


def hash_prefix(
    path: Path,
    length: int,
    reporter: ProgressReporter,
    cancel: threading.Event | None,
) -> Any:
    """A sha256 over the first ``length`` bytes of ``path`` (bytes kept from before)."""

    def report(done: int) -> None:
        check_cancel(cancel)
        reporter.report(done, "checking")

    return sha256_of_file(path, length=length, on_block=report, block_size=HASH_BLOCK)


# -- words for a user about a model job (the first-run page, the manager, the CLI) --

# Errors the hub cannot help with right now: the panel offers the demo model instead.
HUB_UNAVAILABLE = (HubOfflineError, HubUnreachableError)

_HEADLINES: tuple[tuple[type[BaseException], str], ...] = (
    (HubOfflineError, "You are offline."),
    (HubUnreachableError, "The Hugging Face hub cannot be reached."),
    (HubAuthError, "The hub refused access."),
    (HubNotFoundError, "Not found on the hub."),
    (HubServerError, "The hub is having trouble; try again later."),
    (NotEnoughSpaceError, "Not enough disk space."),
    (ChecksumMismatchError, "The file arrived damaged."),
    (demo_model.DemoModelError, "The demo model could not be fetched."),
)


def describe_error(exc: BaseException) -> str:
    """One readable line for the user: a short headline, then the core's explanation."""
    detail = str(exc).strip() or type(exc).__name__
    detail = detail[0].upper() + detail[1:]
    if not detail.endswith((".", "!", "?")):
        detail += "."
    headline = next((h for kind, h in _HEADLINES if isinstance(exc, kind)), None)
    return f"{headline} {detail}" if headline else detail


def progress_text(progress: Progress) -> str:
    """``1.2 of 2.5 GB · 12 MB/s · about 3 min left``, or the report's own message."""
    if progress.total <= 0:
        return progress.message
    parts = [size_pair(progress.done, progress.total)]
    if progress.phase == "checking":
        parts.append("checking the bytes already on disk")
    elif progress.phase == "downloading" and progress.rate > 0:
        parts.append(f"{size_text(progress.rate)}/s")
        parts.append(eta_text(progress.eta))
    elif progress.phase == "done":
        parts.append("done")
    if progress.message:
        parts.append(progress.message)
    return " · ".join(p for p in parts if p)
