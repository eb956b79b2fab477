"""Moving a file's bytes: HTTP Range requests, retries with backoff, cancel.

The download loop appends to a partial file and feeds every byte to a sha256 as it
is written, so the file is verified without reading it twice. Reads use a short
timeout ("tick") so a cancel request is noticed within about a second even while
the server is stalled. After a pause in a flow of bytes the loop reconnects from the
current offset at once; a server that then still sends nothing is reconnected to
after growing waits (the retry policy's backoff), each announced with its real
length, and no byte for ``Timeouts.stall`` counts as a failed attempt. A server slower than
one tick to answer a request gets twice as long on the next one, so a high-latency
link still works.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO, TypeVar

import httpx2

from app.core.models.hub import error_for_status
from app.core.models.hub_errors import (
    DownloadError,
    HubServerError,
    HubUnreachableError,
)
from app.core.models.progress import ProgressReporter, check_cancel
from app.core.units import seconds_text

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, capped, for a bounded number of attempts.

    Attempts are counted consecutively: any attempt that receives bytes resets the
    count, so a long download survives many brief drops.
    """

    max_attempts: int = 6
    base_delay: float = 1.0
    max_delay: float = 30.0
    jitter: float = 0.25  # +/- fraction of the delay

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        rng = rng or random.Random()
        raw = min(self.max_delay, self.base_delay * (2 ** max(0, attempt - 1)))
        return max(0.0, raw * (1 + rng.uniform(-self.jitter, self.jitter)))


@dataclass(frozen=True)
class Timeouts:
    """How long a connect, a read and a stalled transfer may take before a retry."""

    connect: float = 10.0
    tick: float = 1.0  # longest single blocking read; bounds cancel latency
    stall: float = 30.0  # no byte for this long counts as a failed attempt


def call_with_retries(
    call: Callable[[], T],
    retry: RetryPolicy,
    cancel: threading.Event | None = None,
    max_attempts: int = 3,
    on_retry: Callable[[str, float], None] | None = None,
) -> T:
    """Run a metadata request, retrying retryable DownloadErrors with backoff.

    Fewer attempts than for the bytes (by default): with no network at all, the
    user should hear so within seconds, not after the full backoff schedule.
    ``on_retry`` hears the message and the seconds about to be waited before each retry.
    """
    failures = 0
    while True:
        check_cancel(cancel)
        try:
            return call()
        except DownloadError as exc:
            failures += 1
            if not exc.retryable or failures >= min(max_attempts, retry.max_attempts):
                raise
            delay = retry.delay(failures)
            log.info("hub request failed (%s); retrying in %.1f s", exc, delay)
            if on_retry is not None:
                on_retry(f"{exc}; retrying in {seconds_text(delay)}", delay)
            if (cancel or threading.Event()).wait(delay):
                check_cancel(cancel)


@dataclass
class _State:
    """Where one transfer is: bytes written, the running sha256, attempts so far."""

    offset: int
    digest: Any
    read_timeout: float


class _Stalled(Exception):
    """No byte arrived within one tick."""


class RangeFetcher:
    """Appends ``url``'s bytes from ``offset`` to ``total`` onto an open partial file."""

    def __init__(
        self,
        url: str,
        headers: dict[str, str],
        total: int,
        retry: RetryPolicy,
        timeouts: Timeouts,
    ) -> None:
        self.url = url
        self.headers = headers
        self.total = total
        self.retry = retry
        self.timeouts = timeouts
        self._rng = random.Random()

    def fetch(
        self,
        handle: BinaryIO,
        offset: int,
        digest: Any,
        reporter: ProgressReporter,
        cancel: threading.Event | None,
    ) -> Any:
        """Download the rest; returns the sha256 object covering the whole file."""
        state = _State(offset, digest, self.timeouts.tick)
        failures = 0  # failed attempts since the last byte arrived
        quiet_reconnects = 0  # reconnects after a stall since the last byte arrived
        last_byte_at = time.monotonic()
        with httpx2.Client(follow_redirects=True) as client:
            while state.offset < self.total:
                check_cancel(cancel)
                start = state.offset
                error: DownloadError | None = None
                stalled = False
                try:
                    self._stream_once(client, handle, state, reporter, cancel)
                    if state.offset < self.total:
                        error = HubUnreachableError(
                            f"the connection closed at byte {state.offset} of {self.total}"
                        )
                except (_Stalled, httpx2.ReadTimeout) as exc:
                    if isinstance(exc, httpx2.ReadTimeout):  # no answer yet: wait longer
                        state.read_timeout = min(state.read_timeout * 2, self.timeouts.stall)
                    stalled = True
                except DownloadError as exc:
                    error = exc
                except (httpx2.TransportError, httpx2.TooManyRedirects) as exc:
                    error = HubUnreachableError(f"connection problem: {type(exc).__name__}: {exc}")
                if state.offset > start:
                    failures = quiet_reconnects = 0
                    last_byte_at = time.monotonic()
                    if stalled:
                        continue  # bytes flowed, then paused: pick up from here at once
                if stalled:
                    quiet = time.monotonic() - last_byte_at
                    if quiet < self.timeouts.stall:
                        # A server that keeps stalling is not hammered with reconnects.
                        quiet_reconnects += 1
                        delay = self.retry.delay(quiet_reconnects, self._rng)
                        note = f"no data from the hub for {seconds_text(quiet)}; reconnecting"
                        self._pause(note, delay, state.offset, reporter, cancel)
                        continue
                    error = HubUnreachableError(f"no data from the hub for {seconds_text(quiet)}")
                if error is None:
                    continue
                if not error.retryable:
                    raise error
                failures += 1
                if failures >= self.retry.max_attempts:
                    raise type(error)(f"{error} (gave up after {failures} attempts)") from error
                delay = self.retry.delay(failures, self._rng)
                note = f"{error}; retrying"
                attempt = f" (attempt {failures + 1} of {self.retry.max_attempts})"
                self._pause(note, delay, state.offset, reporter, cancel, attempt)
        return state.digest

    def _pause(
        self,
        note: str,
        delay: float,
        offset: int,
        reporter: ProgressReporter,
        cancel: threading.Event | None,
        attempt: str = "",
    ) -> None:
        """Say how long the wait before the next try is, then wait exactly that long."""
        reporter.report(
            offset,
            "downloading",
            f"{note} in {seconds_text(delay)}{attempt}",
            force=True,
            retry_in=delay,
        )
        if cancel is None:
            time.sleep(delay)
        elif cancel.wait(delay):
            check_cancel(cancel)
        reporter.reset_rate()

    def _stream_once(
        self,
        client: httpx2.Client,
        handle: BinaryIO,
        state: _State,
        reporter: ProgressReporter,
        cancel: threading.Event | None,
    ) -> None:
        headers = dict(self.headers)
        if state.offset:
            headers["Range"] = f"bytes={state.offset}-"
        timeout = httpx2.Timeout(state.read_timeout, connect=self.timeouts.connect)
        with client.stream("GET", self.url, headers=headers, timeout=timeout) as response:
            if response.status_code == 200 and state.offset:
                # The server ignored Range: start over rather than append a duplicate.
                handle.seek(0)
                handle.truncate(0)
                state.offset, state.digest = 0, hashlib.sha256()
            elif response.status_code == 206:
                self._check_content_range(response.headers.get("Content-Range", ""), state.offset)
            elif response.status_code != 200:
                raise error_for_status(response.status_code, *self._where())
            # No chunk_size: bytes are handed over as they arrive, so a drop loses none.
            chunks = response.iter_raw()
            while True:
                try:
                    chunk = next(chunks)
                except StopIteration:
                    break
                except httpx2.ReadTimeout as exc:
                    check_cancel(cancel)
                    raise _Stalled() from exc
                except httpx2.TransportError:
                    check_cancel(cancel)
                    raise
                if state.offset + len(chunk) > self.total:
                    raise HubServerError("the server sent more bytes than the hub announced")
                handle.write(chunk)
                state.digest.update(chunk)
                state.offset += len(chunk)
                reporter.report(state.offset, "downloading")
                check_cancel(cancel)

    def _check_content_range(self, value: str, offset: int) -> None:
        # "bytes <first>-<last>/<total>"
        try:
            first = int(value.split()[1].split("-")[0])
        except (IndexError, ValueError):
            first = -1
        if first != offset:
            raise HubServerError(f"the server answered a range request with '{value}'")

    def _where(self) -> tuple[str, str | None]:
        # The URL is .../<repo>/resolve/<rev>/<file>; good enough for a message.
        head, _, tail = self.url.partition("/resolve/")
        repo = "/".join(head.rstrip("/").split("/")[-2:])
        filename = tail.split("/", 1)[1] if "/" in tail else None
        return repo, filename
