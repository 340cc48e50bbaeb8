"""Which judge the app uses: a model file, or a server the user added on Models.

In order: the model given to ``create_app(model=...)``, else the one remembered from last time
(a file, or ``server:NAME``),
else the catalog's default model if it has been downloaded, else the GGUF file registered
last with ``flowjudge models add``, else none (Home then offers a download or a local file).
Runs in a worker: resolving a catalog name may import the hub.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from flowjudge_tui.errors import FlowJudgeError
from flowjudge_tui.models.servers import SavedServer
from flowjudge_tui.tui.preferences import Preferences

SERVER_PREFIX = "server:"

ModelSource = Literal["given", "remembered", "default", "local", "chosen", "run", "none"]


@dataclass(frozen=True)
class ModelChoice:
    path: Path | None
    source: ModelSource
    problem: str = ""
    server: SavedServer | None = None


def choose_model(given: str | None, preferences: Preferences) -> ModelChoice:
    """The model to use; ``problem`` says why an earlier candidate was passed over."""
    from flowjudge_tui.models.catalog import load_local_models
    from flowjudge_tui.models.installed import default_model_path, resolve_model_path
    from flowjudge_tui.models.servers import find_server

    problem = ""
    candidates: list[tuple[str, ModelSource]] = []
    if given:
        candidates.append((given, "given"))
    if preferences.model:
        candidates.append((preferences.model, "remembered"))
    for name_or_path, source in candidates:
        if name_or_path.startswith(SERVER_PREFIX):
            server = find_server(name_or_path[len(SERVER_PREFIX):])
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
        return ModelChoice(default, "default", problem)
    for local in reversed(load_local_models()):
        if local.path.is_file():
            return ModelChoice(local.path, "local", problem)
    return ModelChoice(None, "none", problem)


ModelState = Literal["choosing", "none", "unloaded", "loading", "loaded"]


@dataclass(frozen=True)
class ModelStatus:
    """What the app knows about its model, as shown on Home and used before judging."""

    state: ModelState = "choosing"
    path: Path | None = None
    source: ModelSource = "none"
    problem: str = ""
    plan: str = ""
    n_ctx: int = 0
    server: SavedServer | None = None
    """The judge is this server (``path`` is then None)."""

    @property
    def name(self) -> str:
        if self.server is not None:
            return f"{self.server.name} (server)"
        return self.path.name if self.path is not None else "no model"

    @property
    def has_judge(self) -> bool:
        return self.path is not None or self.server is not None

    def describe_source(self) -> str:
        return {
            "given": "chosen when the app was opened",
            "remembered": "remembered from last time",
            "default": "the catalog's default model",
            "local": "the local file you added last",
            "chosen": "chosen in this session",
            "run": "loaded to resume a run with its own model",
            "none": "",
        }[self.source]
