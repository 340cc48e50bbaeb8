"""What the app remembers between sessions: the model last chosen and the rubric last used.

Kept in a small TOML file of its own in the config directory, apart from the core's settings.
A damaged file is ignored (and rewritten on the next save) rather than stopping the app.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, replace

import tomli_w

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
    paths.ensure()
    path = paths.config_dir / PREFERENCES_FILE
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text(tomli_w.dumps(asdict(preferences)), encoding="utf-8")
    tmp.replace(path)
