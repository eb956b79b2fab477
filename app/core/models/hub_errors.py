"""Errors of downloading and verifying models, each with a message fit for a user.

``retryable`` tells the retry loop whether waiting and trying again can help
(dropped connections, 5xx) or not (401, 404, a full disk).
"""

from __future__ import annotations


class DownloadError(Exception):
    """A download could not complete; str(error) is a one-line explanation."""

    retryable = False


class HubOfflineError(DownloadError):
    """HF_HUB_OFFLINE is set: Quorum must not contact the hub."""


class HubUnreachableError(DownloadError):
    """No connection, a timeout or a dropped connection."""

    retryable = True


class HubServerError(DownloadError):
    """The hub answered 5xx or 429."""

    retryable = True


class HubAuthError(DownloadError):
    """401/403: private or gated repository, missing or insufficient token."""


class HubNotFoundError(DownloadError):
    """The repository, revision or file does not exist."""


class NotEnoughSpaceError(DownloadError):
    """The target folder lacks room for the file plus a safety margin."""


class ChecksumMismatchError(DownloadError):
    """The received bytes did not hash to the hub's sha256; they have been deleted."""


class DownloadInProgressError(DownloadError):
    """Another Quorum process or window is writing this file right now."""


class DownloadCancelled(Exception):
    """The caller's cancel event was set; the partial file is kept for resuming."""
