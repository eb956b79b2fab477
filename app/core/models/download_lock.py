"""One writer per download: an OS file lock every Quorum process takes before a partial.

Two processes appending to one ``.part`` file corrupt it. Measured before this lock:
two ``quorum models download`` of the same file at once left a 140-184 MB file with
the wrong sha256 that models.json recorded as verified (the second process went on
appending to the first one's file after it had been renamed into place), and the
second process ended in a FileNotFoundError. The window and the CLI both download
through ``Downloader``, which holds this lock from before it looks at the partial
until the verified file is registered: whichever comes second waits, then finds the
model already there, or resumes what the first left if that one stopped early.

``filelock`` takes an OS lock (flock; LockFileEx on Windows) that the kernel drops
when its holder exits, even when it is killed, so a crash never leaves a stale lock.
Lock files live in a hidden ``.locks`` folder beside the model (as in the Hugging
Face cache) and are never deleted: deleting one while another process waits on it
would let a third process take a second, separate lock on a new file.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from app.core.models.hub_errors import DownloadInProgressError
from app.core.models.progress import check_cancel

LOCKS_FOLDER = ".locks"
# How often a waiting download looks again, reports progress and checks for cancel.
POLL_S = 0.25

log = logging.getLogger(__name__)


def lock_path(target: Path) -> Path:
    """The lock file guarding ``target`` and its partial."""
    return target.parent / LOCKS_FOLDER / f"{target.name}.lock"


def _lock_for(target: Path) -> FileLock:
    path = lock_path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(path)


@contextmanager
def one_writer(
    target: Path,
    on_wait: Callable[[float], None],
    cancel: threading.Event | None = None,
) -> Iterator[float]:
    """Hold ``target``'s download lock; yields the seconds spent waiting for it.

    While another process (or another worker in this one) holds it, ``on_wait`` gets
    the seconds waited so far about four times a second, and ``cancel`` is honoured.
    """
    lock = _lock_for(target)
    started = time.monotonic()
    timeout = 0.0  # the first try does not wait, so an uncontended download says nothing
    while True:
        try:
            lock.acquire(timeout=timeout)
            break
        except Timeout:
            check_cancel(cancel)
            on_wait(time.monotonic() - started)
            timeout = POLL_S
    waited = time.monotonic() - started
    if timeout:
        log.info("waited %.1f s for another download of %s", waited, target.name)
    try:
        yield waited
    finally:
        lock.release()


@contextmanager
def no_writer(target: Path) -> Iterator[None]:
    """Hold ``target``'s download lock now, or raise DownloadInProgressError.

    For deleting a partial: doing so under a running download would make it fail.
    """
    lock = _lock_for(target)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise DownloadInProgressError(
            f"{target.name} is being downloaded right now (by a Quorum window or command); "
            "cancel that download first"
        ) from None
    try:
        yield
    finally:
        lock.release()
