"""The models on this machine: pulled catalog files and registered local files.

Nothing here touches the network: a pulled file is found in the hub cache with
``try_to_load_from_cache`` (never ``from_pretrained``, which asks the hub even when cached).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from flowjudge_tui.errors import ModelError
from flowjudge_tui.models.catalog import (
    CatalogEntry,
    default_entry,
    find_entry,
    find_local_model,
    load_catalog,
    load_local_models,
)
from flowjudge_tui.models.verified import verified_sha256, verify_cached
from flowjudge_tui.progress import ProgressCallback


@dataclass(frozen=True)
class ModelListing:
    """One line of ``flowjudge models list``; ``verified`` is None for local files."""

    name: str
    source: str
    quantization: str
    size_bytes: int
    size_exact: bool
    downloaded: bool
    verified: bool | None
    path: Path | None
    default: bool
    notes: str

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = str(self.path) if self.path is not None else None
        return data


def hub_cache_info() -> dict[str, Any]:
    """Where the hub cache is, which hub would be asked, and whether HF_HUB_OFFLINE is set."""
    from huggingface_hub import constants

    return {"hub_cache": str(constants.HF_HUB_CACHE), "hub_endpoint": constants.ENDPOINT,
            "hub_offline": constants.is_offline_mode()}


def cached_path(entry: CatalogEntry) -> Path | None:
    """Where the pulled file is in the hub cache, or None."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(entry.repo, entry.file, revision=entry.revision)
    return Path(found) if isinstance(found, str) else None


def is_verified(path: Path) -> bool:
    """Whether ``path`` passed its sha256 check and is unchanged since (no hashing)."""
    return verified_sha256(path) is not None


def list_models() -> list[ModelListing]:
    """Catalog models (pulled or not) then local models; never hashes a file."""
    listings = []
    for entry in load_catalog():
        path = cached_path(entry)
        listings.append(ModelListing(
            name=entry.name, source=entry.source, quantization=entry.quantization,
            size_bytes=path.stat().st_size if path else entry.size_bytes,
            size_exact=path is not None or entry.size_exact, downloaded=path is not None,
            verified=path is not None and is_verified(path), path=path,
            default=entry.is_default, notes=entry.notes,
        ))
    for local in load_local_models():
        present = local.path.is_file()
        listings.append(ModelListing(
            name=local.name, source="local", quantization="", size_bytes=local.size_bytes,
            size_exact=True, downloaded=present, verified=None, path=local.path,
            default=False, notes="" if present else "the file is gone",
        ))
    return listings


def resolve_model_path(name_or_path: str, on_progress: ProgressCallback | None = None) -> Path:
    """The file to load for a catalog name, a registered local name, or a .gguf path.

    A catalog model must have been pulled; if it was pulled by another tool and not verified
    yet, it is verified here first (hashing, with progress). Paths are checked with the GGUF
    header reader, so a wrong or truncated file is refused before llama.cpp sees it.
    """
    from flowjudge_tui.models.gguf_file import read_gguf

    text = name_or_path.strip()
    candidate = Path(text).expanduser()
    if candidate.suffix.lower() != ".gguf" and "/" not in text and os.sep not in text:
        entry = find_entry(text)
        if entry is not None:
            path = cached_path(entry)
            if path is None:
                raise ModelError(
                    f"The model {entry.name} is not downloaded yet; run "
                    f"'flowjudge models pull {entry.name}' ({entry.display_size})."
                )
            verify_cached(path, entry.name, on_progress)
            return path
        local = find_local_model(text)
        if local is not None:
            candidate = local.path
            if not candidate.is_file():
                raise ModelError(
                    f"The local model '{local.name}' was at {local.path}, which is gone; "
                    "add it again with 'flowjudge models add PATH'."
                )
        elif not candidate.is_file():
            raise ModelError(
                f"There is no model called '{text}'; see 'flowjudge models list', "
                "or give the path of a .gguf file."
            )
    read_gguf(candidate)
    return candidate


def default_model_path() -> Path | None:
    """The catalog's default model if it is pulled and verified (no hashing, no network)."""
    path = cached_path(default_entry())
    return path if path is not None and is_verified(path) else None
