"""Inference servers the user added (a name and a base URL), kept beside the local models.

Only the name and the URL are stored, in ``servers.toml`` in the config directory; an API key
comes from the environment (``FLOWJUDGE_API_KEY`` or ``OPENAI_API_KEY``) when a server is used
and is never written here. Nothing in this module touches the network.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass

import tomli_w

from flowjudge_tui.errors import ModelError
from flowjudge_tui.files import atomic_write_text
from flowjudge_tui.settings import Paths, app_paths

SERVERS_FILE = "servers.toml"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# scheme, optional user:password@, host (or [IPv6]), optional port, optional path.
_URL = re.compile(r"^https?://(?P<userinfo>[^/@\s]*@)?(?:[^/:@\s\[\]]+|\[[0-9A-Fa-f:.]+\])"
                  r"(?::\d{1,5})?(?:/\S*)?$")


@dataclass(frozen=True)
class SavedServer:
    name: str
    url: str
    """The base URL, up to ``/v1``."""


def check_server_url(url: str) -> str:
    """``url`` as a base URL ending in ``/v1``; refuses what is not an http(s) server address
    and an address that holds credentials (it is stored and shown)."""
    base = url.strip().rstrip("/")
    match = _URL.match(base)
    if match is None:
        raise ModelError(
            f"'{url}' is not a server address; give its base URL, e.g. http://127.0.0.1:8080/v1."
        )
    if match.group("userinfo"):
        raise ModelError("The server URL holds credentials; put the key in FLOWJUDGE_API_KEY "
                         "(or OPENAI_API_KEY) and give the URL without them.")
    return base if base.endswith("/v1") else base + "/v1"


def load_servers(paths: Paths | None = None) -> list[SavedServer]:
    """The saved servers, in the order they were added; a damaged file reads as none."""
    path = (paths or app_paths()).config_dir / SERVERS_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []
    found = []
    for entry in data.get("servers", []):
        if isinstance(entry, dict) and isinstance(entry.get("name"), str) \
                and isinstance(entry.get("url"), str):
            found.append(SavedServer(entry["name"], entry["url"]))
    return found


def find_server(name: str, paths: Paths | None = None) -> SavedServer | None:
    return next((s for s in load_servers(paths) if s.name == name), None)


def add_server(name: str, url: str, paths: Paths | None = None) -> SavedServer:
    """Save a server under ``name`` (replacing one of that name)."""
    if not _NAME.match(name):
        raise ModelError(f"'{name}' cannot name a server; use letters, digits, '.', '_' or "
                         "'-' (up to 64).")
    server = SavedServer(name, check_server_url(url))
    kept = [s for s in load_servers(paths) if s.name != name]
    _save([*kept, server], paths)
    return server


def remove_server(name: str, paths: Paths | None = None) -> None:
    _save([s for s in load_servers(paths) if s.name != name], paths)


def _save(servers: list[SavedServer], paths: Paths | None) -> None:
    path = (paths or app_paths()).config_dir / SERVERS_FILE
    text = tomli_w.dumps({"servers": [{"name": s.name, "url": s.url} for s in servers]})
    try:
        atomic_write_text(path, text)
    except OSError as exc:
        raise ModelError(f"Cannot save the server list in {path} ({exc.strerror or exc}); "
                         "check that the config folder is writable.") from None
