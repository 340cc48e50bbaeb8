"""What the app remembers between sessions: the model last chosen and the rubric last used.

Kept in a small TOML file of its own in the config directory, apart from the core's settings.
A damaged file is ignored (and rewritten on the next save) rather than stopping the app.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, replace

import tomli_w

from flowjudge_tui.errors import FlowJudgeError
from flowjudge_tui.files import atomic_write_text
from flowjudge_tui.settings import Paths

PREFERENCES_FILE = "tui.toml"


@dataclass(frozen=True)
class Preferences:
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
