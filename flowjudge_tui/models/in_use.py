"""The model in use: the judge the app remembers (``tui.toml``) and how it is chosen.

The app and the command line share it: the app remembers the judge the user picked on Models
(a model file, or ``server:NAME`` for a server saved there), and ``flowjudge judge`` / ``run``
use that judge when neither ``--model`` nor ``--server`` is given.

In order: the model given (``create_app(model=...)``), else the one remembered, else the
catalog's default model if it has been downloaded, else the GGUF file registered last with
``flowjudge models add``, else none. Resolving a catalog name may import the hub (its offline
cache lookups), so the app calls ``choose_model`` in a worker.

The preference file is kept apart from the core's settings. A damaged file is ignored (and
rewritten on the next save) rather than stopping anything.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal

import tomli_w

from flowjudge_tui.errors import FlowJudgeError
from flowjudge_tui.files import atomic_write_text
from flowjudge_tui.models.servers import SavedServer
from flowjudge_tui.settings import Paths, app_paths

PREFERENCES_FILE = "tui.toml"
SERVER_PREFIX = "server:"

ModelSource = Literal["given", "remembered", "default", "local", "chosen", "run", "none"]


@dataclass(frozen=True)
class Preferences:
    """What the app remembers between sessions: the model last chosen, the rubric last used."""

    model: str = ""
    rubric: str = ""

    def with_model(self, model: str) -> Preferences:
        return replace(self, model=model)

    def with_rubric(self, rubric: str) -> Preferences:
        return replace(self, rubric=rubric)


def load_preferences(paths: Paths) -> Preferences:
    path = paths.config_dir / PREFERENCES_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return Preferences()
    return Preferences(
        model=str(data.get("model", "")),
        rubric=str(data.get("rubric", "")),
    )


def save_preferences(paths: Paths, preferences: Preferences) -> None:
    path = paths.config_dir / PREFERENCES_FILE
    try:
        atomic_write_text(path, tomli_w.dumps(asdict(preferences)))
    except OSError as exc:
        raise FlowJudgeError(
            f"Cannot remember your choice in {path} ({exc.strerror or exc}); check that the "
            "config folder is writable."
        ) from None


def forget_model_in_use(paths: Paths, is_removed: Callable[[str], bool]) -> bool:
    """Clear the remembered model when ``is_removed`` says it names what was just removed;
    whether it did."""
    preferences = load_preferences(paths)
    if not preferences.model or not is_removed(preferences.model):
        return False
    save_preferences(paths, preferences.with_model(""))
    return True


@dataclass(frozen=True)
class ModelChoice:
    path: Path | None
    source: ModelSource
    problem: str = ""
    server: SavedServer | None = None
    name: str = ""
    """The catalog or registered name, when the choice came from one."""

    def describe_source(self) -> str:
        """Why this judge, for someone on the command line."""
        return {
            "given": "given on the command line",
            "remembered": "remembered from the app",
            "default": "the catalog's default model, downloaded",
            "local": "the local GGUF you added last",
            "chosen": "chosen in the app",
            "run": "the run's own model",
            "none": "",
        }[self.source]

    def describe(self) -> str:
        """The judge in a few words: a server with its address, else the file."""
        if self.server is not None:
            return f"the server {self.server.name} at {self.server.url}"
        if self.path is None:
            return "no model"
        return f"{self.name} at {self.path}" if self.name else str(self.path)


def choose_model(given: str | None, preferences: Preferences,
                 paths: Paths | None = None) -> ModelChoice:
    """The model to use; ``problem`` says why an earlier candidate was passed over."""
    from flowjudge_tui.models.catalog import default_entry, load_local_models
    from flowjudge_tui.models.installed import default_model_path, resolve_model_path
    from flowjudge_tui.models.servers import find_server

    paths = paths or app_paths()
    problem = ""
    candidates: list[tuple[str, ModelSource]] = []
    if given:
        candidates.append((given, "given"))
    if preferences.model:
        candidates.append((preferences.model, "remembered"))
    for name_or_path, source in candidates:
        if name_or_path.startswith(SERVER_PREFIX):
            server = find_server(name_or_path[len(SERVER_PREFIX):], paths)
            if server is not None:
                return ModelChoice(None, source, problem, server)
            problem = problem or (f"The server '{name_or_path[len(SERVER_PREFIX):]}' is no "
                                  "longer on Models; add it again or choose another judge.")
            continue
        try:
            return ModelChoice(resolve_model_path(name_or_path), source, problem)
        except FlowJudgeError as exc:
            problem = problem or str(exc)
    default = default_model_path()
    if default is not None:
        return ModelChoice(default, "default", problem, name=default_entry().name)
    for local in reversed(load_local_models(paths)):
        if local.path.is_file():
            return ModelChoice(local.path, "local", problem, name=local.name)
    return ModelChoice(None, "none", problem)
