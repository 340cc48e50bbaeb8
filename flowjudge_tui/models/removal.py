"""Removing a model: forget a registered GGUF, delete a downloaded catalog file, or remove a
saved server. The CLI (``flowjudge models remove``) and the app's Models screen both use it.

A user's own GGUF file is never deleted, only its registration. A catalog model's files in the
hub cache are deleted (the snapshot link, then the blob it points to, unless another revision
still links it: a kill in between leaves a blob the next pull reuses). Removing the model in
use clears that preference, so the next choice falls to the default or the file added last.
Nothing here touches the network or loads a model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from flowjudge_tui.errors import ModelError
from flowjudge_tui.format import format_amount
from flowjudge_tui.models.catalog import (
    CatalogEntry,
    find_entry,
    load_catalog,
    load_local_models,
    unregister_local_model,
)
from flowjudge_tui.models.in_use import SERVER_PREFIX, forget_model_in_use, load_preferences
from flowjudge_tui.models.installed import cached_path
from flowjudge_tui.models.servers import SavedServer, load_servers, remove_server
from flowjudge_tui.settings import Paths, app_paths

RemovableKind = Literal["local", "catalog", "server"]


@dataclass(frozen=True)
class Removable:
    """Something ``remove_model`` can remove, found by ``find_removable``."""

    kind: RemovableKind
    name: str
    path: Path | None = None
    """The registered file (kept), or the downloaded file (deleted)."""
    size_bytes: int = 0
    """What deleting a downloaded file frees (0 for the rest)."""
    server: SavedServer | None = None
    in_use: bool = False

    @property
    def action(self) -> str:
        """What removing it does, as a verb phrase: 'delete the downloaded model Q4_K_M'."""
        if self.kind == "local":
            return f"forget the local model '{self.name}'"
        if self.kind == "server":
            return f"remove the saved server '{self.name}'"
        return f"delete the downloaded model {self.name}"

    def question(self) -> str:
        if self.kind == "local":
            detail = f"Its file stays where it is: {self.path}."
        elif self.kind == "server":
            detail = f"It judges at {self.server.url if self.server else ''}."
        else:
            detail = (f"This frees {format_amount(self.size_bytes, 'bytes')} ({self.path}); "
                      "'flowjudge models pull' downloads it again.")
        in_use = " It is the model in use." if self.in_use else ""
        return f"{self.action[:1].upper()}{self.action[1:]}? {detail}{in_use}"


@dataclass(frozen=True)
class Removal:
    removed: Removable
    freed_bytes: int
    was_in_use: bool

    def sentence(self) -> str:
        target = self.removed
        if target.kind == "local":
            said = f"Forgot the local model '{target.name}'; its file stays at {target.path}."
        elif target.kind == "server":
            said = f"Removed the saved server '{target.name}'."
        else:
            said = (f"Deleted the downloaded model {target.name}: "
                    f"{format_amount(self.freed_bytes, 'bytes')} freed.")
        if self.was_in_use:
            said += " It was the model in use; the next judge is chosen anew."
        return said


def find_removable(name_or_path: str, paths: Paths | None = None) -> Removable:
    """What ``name_or_path`` names: a catalog name, a registered name, ``server:NAME`` or a
    saved server's name, or the path of a registered or downloaded file."""
    paths = paths or app_paths()
    text = name_or_path.strip()
    if text.startswith(SERVER_PREFIX):
        return _server(text[len(SERVER_PREFIX):], paths) or _unknown(text)
    if text.lower().endswith(".gguf") or "/" in text or os.sep in text:
        return _by_path(Path(text).expanduser(), paths)
    entry = find_entry(text)
    if entry is not None:
        return _catalog(entry, paths)
    wanted = text.lower()
    local = next((m for m in load_local_models(paths) if m.name.lower() == wanted), None)
    server = _server(text, paths)
    if local is not None and server is not None:
        raise ModelError(f"'{text}' names both a local model and a saved server; give "
                         f"{SERVER_PREFIX}{text} for the server, or the file's path.")
    if local is not None:
        return _in_use_marked(Removable("local", local.name, local.path), paths)
    return server or _unknown(text)


def remove_model(target: Removable, paths: Paths | None = None) -> Removal:
    """Remove ``target``; the model in use is forgotten when it was this one."""
    paths = paths or app_paths()
    freed = 0
    if target.kind == "local":
        unregister_local_model(target.name, paths)
    elif target.kind == "server":
        remove_server(target.name, paths)
    elif target.path is not None:
        freed = _delete_download(target.path)
    was_in_use = forget_model_in_use(paths, lambda value: _names(target, value, paths))
    return Removal(target, freed, was_in_use)


def _catalog(entry: CatalogEntry, paths: Paths) -> Removable:
    path = cached_path(entry)
    if path is None:
        raise ModelError(f"The model {entry.name} is not downloaded, so there is nothing to "
                         "delete.")
    try:
        size = Path(os.path.realpath(path)).stat().st_size
    except OSError:
        size = 0
    return _in_use_marked(Removable("catalog", entry.name, path, size), paths)


def _server(name: str, paths: Paths) -> Removable | None:
    server = next((s for s in load_servers(paths) if s.name == name), None)
    if server is None:
        return None
    return _in_use_marked(Removable("server", server.name, server=server), paths)


def _by_path(path: Path, paths: Paths) -> Removable:
    for local in load_local_models(paths):
        if _same_file(local.path, path):
            return _in_use_marked(Removable("local", local.name, local.path), paths)
    for entry in load_catalog():
        cached = cached_path(entry)
        if cached is not None and _same_file(cached, path):
            return _catalog(entry, paths)
    raise ModelError(f"{path} is not a registered or downloaded model; flowjudge deletes no "
                     "other file (see 'flowjudge models list').")


def _unknown(text: str) -> Removable:
    raise ModelError(f"There is no model or saved server called '{text}'; see 'flowjudge "
                     "models list'.")


def _in_use_marked(target: Removable, paths: Paths) -> Removable:
    remembered = load_preferences(paths).model
    in_use = bool(remembered) and _names(target, remembered, paths)
    return Removable(target.kind, target.name, target.path, target.size_bytes, target.server,
                     in_use)


def _names(target: Removable, value: str, paths: Paths) -> bool:
    """Whether a remembered model (a name, a path or ``server:NAME``) is ``target``."""
    if target.kind == "server":
        return value == SERVER_PREFIX + target.name
    if value.startswith(SERVER_PREFIX):
        return False
    if value.strip().lower() == target.name.lower():
        return True
    return target.path is not None and _same_file(target.path, Path(value).expanduser())


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.realpath(a) == os.path.realpath(b)
    except (OSError, ValueError):
        return False


def _delete_download(path: Path) -> int:
    """Delete a downloaded file (its snapshot link, then its blob); the bytes freed."""
    blob = Path(os.path.realpath(path))
    freed = 0
    try:
        if path.is_symlink():
            path.unlink()
            if blob.is_file() and not _still_linked(blob, path):
                freed = blob.stat().st_size
                blob.unlink()
        elif path.is_file():
            freed = path.stat().st_size
            path.unlink()
    except OSError as exc:
        raise ModelError(f"Cannot delete {path} ({exc.strerror or exc}); check the permissions "
                         "of the Hugging Face cache (HF_HOME).") from None
    return freed


def _still_linked(blob: Path, removed: Path) -> bool:
    """Whether another snapshot of the hub cache's repo folder still links to ``blob``."""
    repo_folder = blob.parent.parent
    snapshots = repo_folder / "snapshots"
    if blob.parent.name != "blobs" or not snapshots.is_dir():
        return False
    for link in snapshots.rglob("*"):
        if link != removed and link.is_symlink() and _same_file(link, blob):
            return True
    return False
