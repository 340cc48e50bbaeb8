"""What the app knows about its judge: the state of the model in use, shown on Home and used
before judging. Which judge is in use is chosen by ``models.in_use.choose_model``, shared with
the command line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from flowjudge_tui.models.in_use import ModelSource
from flowjudge_tui.models.servers import SavedServer

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
