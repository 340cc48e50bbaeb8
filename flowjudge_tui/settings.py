"""Where flowjudge keeps its state, and the defaults a user can change.

All config and data live under one home. ``FLOWJUDGE_HOME`` relocates everything (tests and
users who keep separate homes); otherwise the platform's standard directories are used.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "flowjudge"
HOME_ENV = "FLOWJUDGE_HOME"


@dataclass(frozen=True)
class Paths:
    """The directories and files flowjudge writes to."""

    config_dir: Path
    data_dir: Path

    @property
    def rubrics_dir(self) -> Path:
        """User rubrics; a file here shadows a built-in rubric of the same name."""
        return self.config_dir / "rubrics"

    @property
    def database(self) -> Path:
        """The one SQLite file that holds datasets, runs, verdicts and labels."""
        return self.data_dir / "flowjudge.sqlite3"

    @property
    def local_models_file(self) -> Path:
        """Local GGUF files the user registered with ``models add``."""
        return self.config_dir / "local_models.toml"

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    def ensure(self) -> Paths:
        """Create the directories if they do not exist yet, and return self."""
        for directory in (self.config_dir, self.data_dir, self.rubrics_dir):
            directory.mkdir(parents=True, exist_ok=True)
        return self


def app_paths() -> Paths:
    """The paths in force now: under ``$FLOWJUDGE_HOME`` if set, else the platform defaults."""
    home = os.environ.get(HOME_ENV)
    if home:
        root = Path(home).expanduser()
        return Paths(config_dir=root / "config", data_dir=root / "data")
    return Paths(
        config_dir=Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
        data_dir=Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
    )


def package_data_dir(name: str) -> Path:
    """A folder shipped with the package (``rubrics`` or ``models``).

    In a wheel they are installed under ``flowjudge_tui/_data``; in a source checkout they sit
    at the top of the repository.
    """
    here = Path(__file__).resolve().parent
    installed = here / "_data" / name
    if installed.is_dir():
        return installed
    return here.parent / name
