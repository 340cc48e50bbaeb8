"""Model downloads from the Hugging Face hub: the only module that uses the network, and only
when the user asks for a pull.

Files go into the standard hub cache (``HF_HOME``, ``HF_HUB_CACHE``) so other tools share them.
A download writes ``blobs/<sha256>.incomplete`` and resumes it, both after a dropped
connection (within the pull) and after an interrupted pull (the next one). The finished file
is checked against the sha256 the hub gives for it (``X-Linked-Etag``; huggingface_hub does not
check it) before it takes its place in the cache; ``hf_hub_download`` then links it into the
snapshot. huggingface_hub reads ``HF_ENDPOINT``, ``HF_TOKEN`` and ``HF_HUB_OFFLINE`` itself.
"""

from __future__ import annotations

import importlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flowjudge_tui.errors import FlowJudgeError, ModelError, NetworkError
from flowjudge_tui.models.catalog import CatalogEntry, default_entry, find_entry, load_catalog
from flowjudge_tui.models.gguf_file import read_gguf
from flowjudge_tui.models.installed import cached_path
from flowjudge_tui.models.verified import (
    SHA256_PATTERN,
    Cancelled,
    record_verified,
    verified_sha256,
    verify_cached,
    verify_file,
)
from flowjudge_tui.progress import ProgressCallback, RateMeter

StopCheck = Callable[[], bool]
DownloadCancelled = Cancelled


@dataclass(frozen=True)
class PullResult:
    entry: CatalogEntry
    path: Path
    sha256: str
    downloaded: bool


def pull_model(
    name: str | None = None,
    on_progress: ProgressCallback | None = None,
    should_stop: StopCheck | None = None,
) -> PullResult:
    """Download a catalog model (default: the catalog's default) and verify it.

    A file already pulled is returned (verified offline if needed), also when the hub cannot
    be reached. Raises ``NetworkError`` when the hub is needed and cannot be reached,
    ``ModelError`` when the file fails its sha256, and ``DownloadCancelled`` when
    ``should_stop`` returns True (the partial file stays and the next pull resumes it).
    """
    from huggingface_hub import constants

    entry = _catalog_entry(name)
    existing = cached_path(entry)

    def cached() -> PullResult:
        assert existing is not None
        return PullResult(entry, existing, verify_cached(existing, entry.name, on_progress), False)

    if constants.is_offline_mode():
        if existing is None:
            raise NetworkError(
                f"HF_HUB_OFFLINE is set, so {entry.name} cannot be downloaded; unset "
                "HF_HUB_OFFLINE, or copy the .gguf file here and run 'flowjudge models add PATH'."
            )
        return cached()
    try:
        meta = _metadata(entry)
    except NetworkError:
        if existing is None:
            raise
        return cached()
    sha = meta.etag.lower()
    if existing is not None and Path(os.path.realpath(existing)).name == sha:
        return cached()
    try:
        return _pull(entry, meta, sha, on_progress, should_stop)
    except _transport_errors() as exc:
        raise _as_user_error(exc, entry) from None


def _metadata(entry: CatalogEntry) -> Any:
    """The hub's answer to a HEAD of the file: sha256 (etag), size and download location."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    try:
        meta = get_hf_file_metadata(hf_hub_url(entry.repo, entry.file, revision=entry.revision))
    except _transport_errors() as exc:
        raise _as_user_error(exc, entry) from None
    sha = (meta.etag or "").lower()
    if not SHA256_PATTERN.match(sha) or (entry.sha256 and entry.sha256.lower() != sha):
        raise ModelError(
            f"The hub gives no sha256 matching the catalog for {entry.file} in {entry.repo}, "
            "so it cannot be verified; update flowjudge-tui or report the catalog entry."
        )
    return meta


def _pull(entry: CatalogEntry, meta: Any, sha: str, on_progress: ProgressCallback | None,
          should_stop: StopCheck | None) -> PullResult:
    from huggingface_hub import constants, hf_hub_download

    # Private names (tests/test_architecture.py fails if one disappears): we write the blob
    # ourselves so a partial file resumes and its sha256 is checked before it enters the cache,
    # which hf_hub_download does not offer; these give the cache's folder name and its lock.
    from huggingface_hub.file_download import repo_folder_name
    from huggingface_hub.utils import WeakFileLock  # type: ignore[attr-defined]

    folder = repo_folder_name(repo_id=entry.repo, repo_type="model")
    blob = Path(constants.HF_HUB_CACHE) / folder / "blobs" / sha
    downloaded = False
    if not blob.is_file():
        lock = Path(constants.HF_HUB_CACHE) / ".locks" / folder / f"{sha}.flowjudge.lock"
        lock.parent.mkdir(parents=True, exist_ok=True)
        blob.parent.mkdir(parents=True, exist_ok=True)
        with WeakFileLock(lock):
            if not blob.is_file():
                _download(entry, meta, sha, blob, on_progress, should_stop)
                downloaded = True
    if verified_sha256(blob) != sha:
        verify_file(blob, sha, entry.name, on_progress, should_stop)
    path = Path(hf_hub_download(entry.repo, entry.file, revision=entry.revision))
    if Path(os.path.realpath(path)) != blob.resolve():
        verify_file(path, sha, entry.name, on_progress, should_stop)
    read_gguf(path)
    return PullResult(entry, path, sha, downloaded)


def _download(entry: CatalogEntry, meta: Any, sha: str, blob: Path,
              on_progress: ProgressCallback | None, should_stop: StopCheck | None) -> None:
    """Fetch into ``<blob>.incomplete`` (resuming it), verify it, then move it into place."""
    from huggingface_hub import constants

    # Private names, see _pull: the request with the hub's own headers and resume support.
    from huggingface_hub.file_download import http_get
    from huggingface_hub.utils import build_hf_headers  # type: ignore[attr-defined]

    partial = blob.with_name(blob.name + ".incomplete")
    have = partial.stat().st_size if partial.exists() else 0
    if meta.size is not None and have > meta.size:
        partial.unlink()
        have = 0
    needed, free = (meta.size or 0) - have, shutil.disk_usage(blob.parent).free
    if needed > free:
        raise ModelError(
            f"{entry.file} needs {needed / 1e9:.2f} GB more disk space but {blob.parent} has "
            f"{free / 1e9:.2f} GB free; free some space or set HF_HOME to a larger disk."
        )
    headers = build_hf_headers()
    if urlsplit(meta.location).netloc != urlsplit(constants.ENDPOINT).netloc:
        headers.pop("authorization", None)
    bar = _progress_bar_class(f"Downloading {entry.name}", on_progress, should_stop)
    with partial.open("ab") as handle:
        http_get(meta.location, handle, resume_size=have, headers=headers,
                 expected_size=meta.size, displayed_filename=entry.file, tqdm_class=bar)
    verify_file(partial, sha, entry.name, on_progress, should_stop)
    os.replace(partial, blob)
    record_verified(blob, sha)


def _catalog_entry(name: str | None) -> CatalogEntry:
    if name is None:
        return default_entry()
    entry = find_entry(name)
    if entry is None:
        names = ", ".join(e.name for e in load_catalog())
        raise ModelError(f"'{name}' is not in the model catalog; choose one of {names}.")
    return entry


def _progress_bar_class(task: str, on_progress: ProgressCallback | None,
                        should_stop: StopCheck | None) -> type:
    """A tqdm stand-in for huggingface_hub that turns its updates into ``Progress`` events."""

    class Bar:
        def __init__(self, *, total: int | None = None, initial: int = 0, **_: Any) -> None:
            self.n, self.total = initial, total
            self.meter = RateMeter(task, total, unit="bytes", start_done=initial)

        def __enter__(self) -> Bar:
            return self

        def __exit__(self, *_: object) -> None:
            self.close()

        def update(self, n: int = 1) -> None:
            self.n += n
            if should_stop is not None and should_stop():
                raise Cancelled
            if on_progress is not None:
                done = self.total is not None and self.n >= self.total
                on_progress(self.meter.event(self.n, finished=done))

        def close(self) -> None:
            pass

    return Bar


def _transport_errors() -> tuple[type[Exception], ...]:
    """What a failed request raises: OSError (hub errors included) and the HTTP client's."""
    errors: list[type[Exception]] = [OSError]
    for client in ("httpx2", "httpx"):
        try:
            errors.append(importlib.import_module(client).HTTPError)
        except (ImportError, AttributeError):
            continue
    return tuple(errors)


def _as_user_error(exc: Exception, entry: CatalogEntry) -> FlowJudgeError:
    from huggingface_hub import constants
    from huggingface_hub.errors import (
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    where, hub = f"{entry.file} of {entry.repo}", constants.ENDPOINT
    if isinstance(exc, OfflineModeIsEnabled):
        return NetworkError(f"HF_HUB_OFFLINE is set, so {where} cannot be downloaded; unset it.")
    if isinstance(exc, HfHubHTTPError):
        status = exc.response.status_code if exc.response is not None else "?"
        if isinstance(exc, RepositoryNotFoundError | RemoteEntryNotFoundError
                      | RevisionNotFoundError):
            return NetworkError(
                f"The hub at {hub} has no {where} for this account (HTTP {status}); check "
                "HF_ENDPOINT, or set HF_TOKEN if the repository needs a login."
            )
        return NetworkError(
            f"The hub at {hub} answered HTTP {status} for {where}; try again later "
            "(an interrupted download resumes)."
        )
    reason = (str(exc).splitlines() or [type(exc).__name__])[0][:120] or type(exc).__name__
    return NetworkError(
        f"Cannot download {where} from {hub} ({reason}); check the network connection or "
        "HF_ENDPOINT and pull again (it resumes), or copy the .gguf file here and run "
        "'flowjudge models add PATH'."
    )
