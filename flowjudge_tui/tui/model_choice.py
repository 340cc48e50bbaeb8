"""Which model file the app uses.

In order: the model given to ``create_app(model=...)``, else the one remembered from last time,
else the catalog's default model if it has been downloaded, else the GGUF file registered
last with ``flowjudge models add``, else none (Home then offers a download or a local file).
Runs in a worker: resolving a catalog name may import the hub.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from flowjudge_tui.errors import FlowJudgeError
from flowjudge_tui.tui.preferences import Preferences

ModelSource = Literal["given", "remembered", "default", "local", "chosen", "run", "none"]


@dataclass(frozen=True)
class ModelChoice:
    path: Path | None
    source: ModelSource
    problem: str = ""


def choose_model(given: str | None, preferences: Preferences) -> ModelChoice:
    """The model to use; ``problem`` says why an earlier candidate was passed over."""
    from flowjudge_tui.models.catalog import load_local_models
    from flowjudge_tui.models.installed import default_model_path, resolve_model_path

    problem = ""
    candidates: list[tuple[str, ModelSource]] = []
    if given:
        candidates.append((given, "given"))
    if preferences.model:
        candidates.append((preferences.model, "remembered"))
    for name_or_path, source in candidates:
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

    @property
    def name(self) -> str:
        return self.path.name if self.path is not None else "no model"

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
