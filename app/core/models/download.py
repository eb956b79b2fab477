"""Resumable, verified model downloads from the Hugging Face hub.

The steps, each for a reason:
1. A file already recorded in the library is returned without any request.
2. Metadata (size, LFS sha256, commit) comes from the hub before any byte moves.
3. A complete copy in the standard Hugging Face cache is hashed and registered in
   place instead of being downloaded twice.
4. Free space is checked against what is still to come plus a margin.
5. One process at a time writes a file (app.core.models.download_lock): a second download
   of it waits, then finds it done or resumes what the first left.
6. Bytes go to ``<file>.part``, with a JSON sidecar naming the remote file; after a
   cancel, a dropped connection or a restart, the partial is resumed with an HTTP
   Range request only if the sidecar matches the hub's sha256 and size. The bytes
   already there are re-hashed rather than trusted.
7. The file gets its real name only after its sha256 matched; a mismatch deletes it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.files import write_json_atomic
from app.core.models import catalog, hub, index
from app.core.models.download_lock import one_writer
from app.core.models.hub_errors import ChecksumMismatchError
from app.core.models.partial import (
    DISK_FULL,
    check_free_space,
    discard_if_empty,
    disk_free,
    disk_full_error,
    git_blob_sha1,
    partial_paths,
    resumable_offset,
    target_path,
)
from app.core.models.progress import (
    Progress,
    ProgressCallback,
    ProgressReporter,
    check_cancel,
    hash_prefix,
)
from app.core.models.transfer import RangeFetcher, RetryPolicy, Timeouts, call_with_retries
from app.core.settings import models_dir

log = logging.getLogger(__name__)
FreeSpace = Callable[[Path], int]


@dataclass(frozen=True)
class DownloadResult:
    """A finished, verified download: which file, where it landed, its sha256."""

    entry_id: str
    path: Path
    repo: str
    filename: str
    size: int
    sha256: str | None
    commit: str | None
    how: str  # "downloaded", "resumed", "already-present", "hf-cache"


class Downloader:
    """One file from one repo. Safe to create anew after a crash: state lives on disk.

    Call ``run`` from a worker thread; set ``cancel`` from any thread to stop between
    chunks (within about a second, even if the server stalls).
    """

    def __init__(
        self,
        repo: str,
        filename: str | None = None,
        *,
        filename_glob: str | None = None,
        revision: str = "main",
        dest_dir: Path | None = None,
        entry_id: str | None = None,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
        free_space: FreeSpace = disk_free,
    ) -> None:
        if filename is None and filename_glob is None:
            raise ValueError("give a file name or a file-name pattern")
        self.repo = repo
        self.filename = filename
        self.filename_glob = filename_glob
        self.revision = revision
        self.dest_dir = dest_dir
        self.entry_id = entry_id
        self.retry = retry or RetryPolicy()
        self.timeouts = timeouts or Timeouts()
        self.free_space = free_space

    # -- public ---------------------------------------------------------------

    def run(
        self, progress: ProgressCallback | None = None, cancel: threading.Event | None = None
    ) -> DownloadResult:
        check_cancel(cancel)
        existing = self._existing_record()
        if existing is not None:
            return self._result(existing, "already-present")
        if hub.offline_mode():
            return self._from_hf_cache_offline(progress, cancel)

        def on_retry(message: str, delay: float) -> None:
            # No size yet: total 0 shows the message alone (a busy bar in the window).
            if progress is not None:
                progress(Progress(0, 0, 0.0, None, "downloading", message, delay))

        filename = self.filename or call_with_retries(
            lambda: hub.resolve_filename(self.repo, self.filename_glob or "", self.revision),
            self.retry,
            cancel,
            on_retry=on_retry,
        )
        self.filename = filename
        existing = self._existing_record()
        if existing is not None:
            return self._result(existing, "already-present")
        remote = call_with_retries(
            lambda: hub.fetch_file_info(self.repo, filename, self.revision),
            self.retry,
            cancel,
            on_retry=on_retry,
        )
        target = target_path(self.dest_dir or models_dir(), self.repo, remote.filename)
        reporter = ProgressReporter(progress, remote.size)
        with one_writer(target, self._report_waiting(target, remote, reporter), cancel):
            # Whoever held the lock before us may just have finished this very file.
            existing = self._existing_record()
            if existing is not None:
                return self._result(existing, "already-present")
            cached = self._reuse_hf_cache(remote, progress, cancel)
            if cached is not None:
                return cached
            return self._download(target, remote, reporter, cancel)

    # -- steps ----------------------------------------------------------------

    def _existing_record(self) -> index.ModelRecord | None:
        if self.filename is not None:
            record = index.find_by_file(self.repo, self.filename)
        elif self.entry_id is not None:
            record = index.load_index().get(self.entry_id)
        else:
            record = None
        # A file whose last verification failed is fetched again (and replaced).
        usable = record is not None and record.is_present() and record.verified_at is not None
        return record if usable else None

    def _from_hf_cache_offline(
        self, progress: ProgressCallback | None, cancel: threading.Event | None
    ) -> DownloadResult:
        cached = hub.find_in_hf_cache(self.repo, self.filename) if self.filename else None
        claimed = hub.cache_blob_sha256(cached) if cached else None
        if cached is None or claimed is None:
            raise hub.offline_error()
        # Offline the hub cannot be asked, but an LFS blob is named by its sha256:
        # hashing the file against that name still catches corruption.
        size = cached.stat().st_size
        remote = hub.RemoteFile(self.repo, self.filename or "", size, claimed, "", None, "main")
        result = self._verify_and_register_cache_copy(cached, remote, progress, cancel)
        if result is None:
            raise ChecksumMismatchError(
                f"the copy of {self.filename} in the Hugging Face cache ({cached}) does not "
                "match its recorded sha256; it was left untouched; download it again online"
            )
        return result

    def _reuse_hf_cache(
        self,
        remote: hub.RemoteFile,
        progress: ProgressCallback | None,
        cancel: threading.Event | None,
    ) -> DownloadResult | None:
        cached = hub.find_in_hf_cache(self.repo, remote.filename)
        if cached is None or cached.stat().st_size != remote.size:
            return None
        result = self._verify_and_register_cache_copy(cached, remote, progress, cancel)
        if result is None:
            log.warning("ignoring corrupt Hugging Face cache copy %s; downloading afresh", cached)
        return result

    def _verify_and_register_cache_copy(
        self,
        cached: Path,
        remote: hub.RemoteFile,
        progress: ProgressCallback | None,
        cancel: threading.Event | None,
    ) -> DownloadResult | None:
        size = cached.stat().st_size
        reporter = ProgressReporter(progress, size)
        if remote.sha256 is not None:
            matches = hash_prefix(cached, size, reporter, cancel).hexdigest() == remote.sha256
        else:
            matches = git_blob_sha1(cached) == remote.git_oid
        if not matches:
            return None
        reporter.report(size, "done", "found in the Hugging Face cache", force=True)
        record = self._register(cached, remote, owned=False)
        return self._result(record, "hf-cache")

    def _report_waiting(
        self, target: Path, remote: hub.RemoteFile, reporter: ProgressReporter
    ) -> Callable[[float], None]:
        part, _ = partial_paths(target)
        message = (
            f"another Quorum window or command is downloading {remote.filename}; "
            "waiting for it to finish"
        )

        def report(_waited: float) -> None:
            # The other process's partial shows how far it has come.
            try:
                done = min(part.stat().st_size, remote.size)
            except OSError:
                done = 0
            reporter.report(done, "waiting", message, force=True)

        return report

    def _download(
        self,
        target: Path,
        remote: hub.RemoteFile,
        reporter: ProgressReporter,
        cancel: threading.Event | None,
    ) -> DownloadResult:
        target.parent.mkdir(parents=True, exist_ok=True)
        part, sidecar = partial_paths(target)
        offset = resumable_offset(target, self._sidecar_data(remote))
        check_free_space(target.parent, remote.size - offset, remote.size, self.free_space)
        write_json_atomic(sidecar, self._sidecar_data(remote))
        digest = hash_prefix(part, offset, reporter, cancel) if offset else hashlib.sha256()
        reporter.report(offset, "downloading", force=True)
        fetcher = RangeFetcher(
            remote.download_url(),
            hub.request_headers(),
            remote.size,
            self.retry,
            self.timeouts,
        )
        try:
            with part.open("ab") as handle:
                digest = fetcher.fetch(handle, offset, digest, reporter, cancel)
        except BaseException as exc:
            # Refused before the first byte (401, 403, 404) or cancelled at once: an
            # empty partial has nothing to resume and would only clutter the folder.
            discard_if_empty(target)
            if isinstance(exc, OSError) and exc.errno in DISK_FULL:
                raise disk_full_error(target, remote.size) from exc
            raise
        self._check_digest(part, sidecar, remote, digest.hexdigest())
        os.replace(part, target)
        sidecar.unlink(missing_ok=True)
        reporter.report(remote.size, "done", force=True)
        record = self._register(target, remote, owned=True)
        return self._result(record, "resumed" if offset else "downloaded")

    def _sidecar_data(self, remote: hub.RemoteFile) -> dict[str, Any]:
        # The commit is informative; sha256 + size decide whether bytes can be reused,
        # so a new commit that did not touch the file still resumes.
        return {
            "schema_version": 1,
            "repo": remote.repo,
            "filename": remote.filename,
            "sha256": remote.sha256,
            "git_oid": remote.git_oid if remote.sha256 is None else None,
            "size": remote.size,
        }

    def _check_digest(self, part: Path, sidecar: Path, remote: hub.RemoteFile, sha256: str) -> None:
        if remote.sha256 is not None:
            expected, actual = remote.sha256, sha256
        else:
            expected, actual = remote.git_oid, git_blob_sha1(part)
        if actual == expected:
            return
        part.unlink(missing_ok=True)
        sidecar.unlink(missing_ok=True)
        raise ChecksumMismatchError(
            f"{remote.filename} arrived damaged: its checksum is {actual[:12]}…, the hub's is "
            f"{expected[:12]}…; the bad bytes were deleted, so try the download again"
        )

    def _register(self, path: Path, remote: hub.RemoteFile, owned: bool) -> index.ModelRecord:
        return index.register_file(
            path,
            repo=remote.repo,
            filename=remote.filename,
            size=remote.size,
            sha256=remote.sha256,
            commit=remote.commit,
            owned=owned,
            record_id=self.entry_id,
        )

    def _result(self, record: index.ModelRecord, how: str) -> DownloadResult:
        return DownloadResult(
            entry_id=record.id,
            path=record.file,
            repo=record.repo or self.repo,
            filename=record.filename or self.filename or "",
            size=record.size,
            sha256=record.sha256,
            commit=record.commit,
            how=how,
        )


def downloader_for(entry_id: str, **options: Any) -> Downloader:
    """A Downloader for a catalog entry (raises KeyError for an unknown id)."""
    entry = catalog.get_entry(entry_id)
    if entry is None:
        raise KeyError(entry_id)
    return Downloader(
        entry.repo,
        entry.filename,
        filename_glob=entry.filename_glob,
        entry_id=entry.id,
        **options,
    )


def partial_download(repo: str, filename: str, dest_dir: Path | None = None) -> Path | None:
    """The ``.part`` file of an unfinished download, if any."""
    part, _ = partial_paths(target_path(dest_dir or models_dir(), repo, filename))
    return part if part.exists() else None
