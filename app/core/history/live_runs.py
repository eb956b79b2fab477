"""Which 'running' runs are still going: one OS file lock per run, held by its process.

A run's row says 'running' from begin_run to finish_run. When a process dies (kill -9, a
crash, a power cut) the row stays 'running', and the next store to open the file must tell
that apart from a run another live process (the CLI beside the window) is still making.
The operating system releases a process's file locks when it dies, however it dies, so a
lock that can be taken belongs to no live run. Lock files sit beside the history file,
one per live run, and are removed when the run finishes.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

from filelock import FileLock, Timeout


class LiveRuns:
    """The locks this process holds for its own running runs, for one history file."""

    def __init__(self, history_path: Path) -> None:
        self.folder = history_path.with_name(history_path.name + ".live")
        self._held: dict[int, FileLock] = {}
        self._lock = threading.Lock()

    def hold(self, run_id: int) -> bool:
        """Mark the run as live in this process; False if another process has it."""
        with self._lock:
            if run_id in self._held:
                return True
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
            except OSError:
                return True  # a read-only folder: runs are not shared, nothing to guard
            lock = _lock_for(self.folder, run_id)
            try:
                lock.acquire(timeout=0)
            except Timeout:
                return False
            except OSError:
                return True
            self._held[run_id] = lock
            return True

    def release(self, run_id: int) -> None:
        with self._lock:
            lock = self._held.pop(run_id, None)
        if lock is not None:
            lock.release()
            with contextlib.suppress(OSError):
                Path(lock.lock_file).unlink()

    def release_all(self) -> None:
        for run_id in list(self._held):
            self.release(run_id)

    def is_live_elsewhere(self, run_id: int) -> bool:
        """Whether another process (or another store in this one) holds the run."""
        if run_id in self._held:
            return False
        path = self.folder / f"{run_id}.lock"
        if not path.exists():
            return False
        probe = _lock_for(self.folder, run_id)
        try:
            probe.acquire(timeout=0)
        except Timeout:
            return True
        except OSError:
            return False
        probe.release()
        with contextlib.suppress(OSError):
            path.unlink()  # a dead process's leftover
        return False


def _lock_for(folder: Path, run_id: int) -> FileLock:
    # thread_local=False: the worker thread may finish a run the GUI thread began.
    # is_singleton=False: each store (and each probe) gets its own file descriptor,
    # so a second store in this process sees the first one's lock as taken.
    return FileLock(folder / f"{run_id}.lock", thread_local=False, is_singleton=False)
