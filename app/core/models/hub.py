"""Talking to the Hugging Face hub: metadata, URLs, auth, the local HF cache, errors.

huggingface_hub provides the URL layout, the auth headers, the JSON parsing and the
error classification. Requests go through its shared HTTP session but always with
an explicit timeout (its own calls have none, and a stalled server must not hang a
worker thread). Settings such as HF_ENDPOINT are read from the environment at call
time, because huggingface_hub freezes them when it is first imported.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx2
from huggingface_hub import hf_hub_url, try_to_load_from_cache
from huggingface_hub.errors import (
    GatedRepoError,
    HfHubHTTPError,
    OfflineModeIsEnabled,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.hf_api import RepoFile
from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

from app import __version__
from app.core.models.hub_errors import (
    DownloadError,
    HubAuthError,
    HubNotFoundError,
    HubOfflineError,
    HubServerError,
    HubUnreachableError,
)

DEFAULT_ENDPOINT = "https://huggingface.co"
METADATA_TIMEOUT = httpx2.Timeout(20.0, connect=10.0)
TOKEN_HINT = "set the HF_TOKEN environment variable or run `hf auth login`"
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


def hub_endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def offline_mode() -> bool:
    """HF_HUB_OFFLINE as set now (huggingface_hub only reads it at import)."""
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return value.strip().lower() in {"1", "on", "yes", "true"}


def offline_error() -> HubOfflineError:
    return HubOfflineError(
        "offline mode is on (HF_HUB_OFFLINE=1), so Quorum will not contact the Hugging "
        "Face hub; unset HF_HUB_OFFLINE to download models"
    )


def ensure_online() -> None:
    if offline_mode():
        raise offline_error()


def request_headers() -> dict[str, str]:
    """Hub headers with the user's token (HF_TOKEN or the `hf auth login` token file)."""
    headers = build_hf_headers(library_name="quorum", library_version=__version__)
    # The byte count must be the file's, not a compressed stream's.
    headers["Accept-Encoding"] = "identity"
    return headers


@dataclass(frozen=True)
class RemoteFile:
    """What the hub says about one file, fetched before any byte moves."""

    repo: str
    filename: str
    size: int
    sha256: str | None  # the LFS object id; None for small files kept in git
    git_oid: str  # git blob id (sha1 over "blob <size>\0" + bytes)
    commit: str | None  # the commit that last changed the file
    revision: str  # what was asked for ("main" by default)

    def download_url(self) -> str:
        # Pin the commit so the bytes cannot change between metadata and transfer.
        return hf_hub_url(
            self.repo, self.filename, revision=self.commit or self.revision, endpoint=hub_endpoint()
        )


def hub_json(
    method: str,
    url: str,
    repo: str,
    filename: str | None,
    what: str,
    data: dict[str, Any] | None = None,
) -> Any:
    """One metadata request to the hub, its errors already in Quorum's words."""
    try:
        response = get_session().request(
            method, url, data=data, headers=request_headers(), timeout=METADATA_TIMEOUT
        )
        hf_raise_for_status(response)
        return response.json()
    except (HfHubHTTPError, httpx2.HTTPError, OfflineModeIsEnabled) as exc:
        raise translate_error(exc, repo, filename) from exc
    except ValueError as exc:
        raise HubServerError(f"the hub sent an unreadable {what} for {repo}: {exc}") from exc


def fetch_file_info(repo: str, filename: str, revision: str = "main") -> RemoteFile:
    """Size, LFS sha256 and commit of ``repo``/``filename`` (POST .../paths-info)."""
    ensure_online()
    url = f"{hub_endpoint()}/api/models/{repo}/paths-info/{quote(revision, safe='')}"
    items = hub_json(
        "POST", url, repo, filename, "metadata response", data={"paths": [filename], "expand": True}
    )
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and item.get("type") == "file" and item.get("path") == filename:
            info = RepoFile(**item)
            return RemoteFile(
                repo=repo,
                filename=filename,
                size=info.size,
                sha256=info.lfs.sha256 if info.lfs else None,
                git_oid=info.blob_id,
                commit=info.last_commit.oid if info.last_commit else None,
                revision=revision,
            )
    raise HubNotFoundError(
        f"file '{filename}' not found in repository {repo} (revision {revision})"
    )


def list_repo_files(repo: str, revision: str = "main") -> list[str]:
    """File names at the top of a repo (GET .../tree/<revision>)."""
    ensure_online()
    url = f"{hub_endpoint()}/api/models/{repo}/tree/{quote(revision, safe='')}"
    items = hub_json("GET", url, repo, None, "file list")
    return [i["path"] for i in items if isinstance(i, dict) and i.get("type") == "file"]


def resolve_filename(repo: str, pattern: str, revision: str = "main") -> str:
    """The one file in ``repo`` matching ``pattern`` (case-insensitive glob)."""
    matches = [
        name
        for name in list_repo_files(repo, revision)
        if fnmatch.fnmatchcase(name.lower(), pattern.lower())
    ]
    if len(matches) != 1:
        found = ", ".join(matches) if matches else "none"
        raise HubNotFoundError(
            f"expected exactly one file matching '{pattern}' in {repo}, found {found}; "
            f"download it by name with `quorum models download {repo} FILE`"
        )
    return matches[0]


def hf_cache_dir() -> Path:
    """The standard Hugging Face cache, located the way huggingface_hub does, read now."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "huggingface" / "hub"


def find_in_hf_cache(repo: str, filename: str, revision: str = "main") -> Path | None:
    """A complete copy of the file in the Hugging Face cache, if one is there.

    Filesystem only: no request is made. hf_hub_download moves a file into the
    cache only once fully received, so a hit is complete (though not verified).
    """
    try:
        found = try_to_load_from_cache(repo, filename, cache_dir=hf_cache_dir(), revision=revision)
    except ValueError:  # invalid repo id or file name
        return None
    return Path(found) if isinstance(found, str) else None


def cache_blob_sha256(path: Path) -> str | None:
    """The sha256 a Hugging Face cache file claims: LFS blobs are named by it."""
    name = path.resolve().name
    return name if _SHA256_RE.match(name) else None


def token_sent() -> bool:
    """Whether requests carry a token (HF_TOKEN, or the `hf auth login` token file)."""
    return any(key.lower() == "authorization" for key in request_headers())


def auth_error(status: int, repo: str, filename: str | None = None) -> HubAuthError:
    """401/403 in words that fit: a refused token is not a missing one."""
    where = f"{repo}/{filename}" if filename else repo
    if not token_sent():
        return HubAuthError(
            f"the hub refused access to {where} (HTTP {status}): it is private, gated or does "
            f"not exist; if you have access, provide a token: {TOKEN_HINT}"
        )
    if status == 401:
        return HubAuthError(
            f"the hub refused your token for {where} (HTTP 401): it is invalid or has expired; "
            f"make a new one at {hub_endpoint()}/settings/tokens, then set HF_TOKEN or run "
            "`hf auth login`"
        )
    return HubAuthError(
        f"your token has no access to {where} (HTTP 403): the repository is private or gated; "
        f"request access at {hub_endpoint()}/{repo}, or use a token that has it"
    )


def error_for_status(status: int, repo: str, filename: str | None) -> DownloadError:
    """A user-facing error for an HTTP status seen while transferring bytes."""
    where = f"{repo}/{filename}" if filename else repo
    if status in (401, 403):
        return auth_error(status, repo, filename)
    if status == 404:
        return HubNotFoundError(f"file '{filename}' not found in repository {repo} (HTTP 404)")
    if status == 429 or status >= 500:
        return HubServerError(f"the hub answered HTTP {status} for {where}")
    return DownloadError(f"the hub answered HTTP {status} for {where}")


def translate_error(exc: BaseException, repo: str, filename: str | None) -> DownloadError:
    """Map huggingface_hub / httpx2 exceptions to one readable DownloadError."""
    if isinstance(exc, DownloadError):
        return exc
    if isinstance(exc, OfflineModeIsEnabled):
        return offline_error()
    if isinstance(exc, GatedRepoError):
        how = (
            "with the account your token belongs to"
            if token_sent()
            else f"with your account, then give Quorum your token: {TOKEN_HINT}"
        )
        return HubAuthError(f"{repo} is gated: accept its terms on {hub_endpoint()}/{repo} {how}")
    status = exc.response.status_code if isinstance(exc, HfHubHTTPError) else None
    if isinstance(exc, RepositoryNotFoundError):
        if status in (401, 403):
            return auth_error(status, repo)
        return HubNotFoundError(f"repository {repo} not found on the hub ({hub_endpoint()})")
    if isinstance(exc, RevisionNotFoundError):
        return HubNotFoundError(f"revision not found in repository {repo}")
    if isinstance(exc, RemoteEntryNotFoundError):
        return HubNotFoundError(f"file '{filename}' not found in repository {repo}")
    if status is not None:
        return error_for_status(status, repo, filename)
    if isinstance(exc, httpx2.TimeoutException | httpx2.NetworkError | httpx2.ProtocolError):
        return HubUnreachableError(
            f"could not reach the Hugging Face hub at {hub_endpoint()} "
            f"({type(exc).__name__}: {exc or 'no detail'}); check your network connection"
        )
    return DownloadError(f"hub request failed: {exc}")
