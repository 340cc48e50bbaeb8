"""Which judge models exist: the shipped catalog and the GGUF files the user registered.

The catalog is one TOML file per model family in ``models/`` (``package_data_dir("models")``);
each lists the known GGUF files of that family with their hub location, size and shape, so
memory can be planned before a file is downloaded. Local models are files the user added with
``flowjudge models add``; they live in ``Paths.local_models_file``.
"""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, ValidationError

from flowjudge_tui.errors import ModelError
from flowjudge_tui.files import atomic_write_text
from flowjudge_tui.settings import Paths, app_paths, package_data_dir

ModelSource = Literal["official", "community"]


class ModelShape(BaseModel):
    """The hyperparameters that decide memory use (same names as llama.cpp's)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    n_layer: int
    n_embd: int
    n_head: int
    n_head_kv: int
    n_ff: int
    n_vocab: int
    n_ctx_train: int


class _FileEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    repo: str
    file: str
    revision: str = "main"
    quantization: str
    size_bytes: int
    size_exact: bool = True
    source: ModelSource
    notes: str = ""
    sha256: str | None = None


class _FamilyFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    family: str
    title: str
    architecture: str
    license: str
    default: str | None = None
    shape: ModelShape
    model: list[_FileEntry]


class CatalogEntry(BaseModel):
    """One known GGUF file of a model family."""

    model_config = ConfigDict(frozen=True)

    name: str
    family: str
    title: str
    architecture: str
    license: str
    repo: str
    file: str
    revision: str
    quantization: str
    size_bytes: int
    size_exact: bool
    source: ModelSource
    notes: str
    sha256: str | None
    shape: ModelShape
    is_default: bool

    @property
    def display_size(self) -> str:
        approx = "" if self.size_exact else "~"
        return f"{approx}{self.size_bytes / 1e9:.2f} GB"


class LocalModel(BaseModel):
    """A GGUF file on this machine that the user registered under a name."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    path: Path
    size_bytes: int
    architecture: str
    added: str


def user_catalog_dir(paths: Paths | None = None) -> Path:
    """Catalog files the user adds (same format); they extend the shipped catalog."""
    return (paths or app_paths()).config_dir / "models"


def load_catalog(directory: Path | None = None) -> list[CatalogEntry]:
    """Every catalog entry, family files in name order.

    By default the shipped catalog then the user's (``user_catalog_dir``); with ``directory``,
    only the files there. Names are unique across all of them.
    """
    directories = [directory] if directory else [package_data_dir("models"), user_catalog_dir()]
    entries: list[CatalogEntry] = []
    seen: dict[str, Path] = {}
    for path in [p for d in directories for p in sorted(d.glob("*.toml"))]:
        for entry in _family_entries(path, path.stat().st_mtime_ns):
            key = entry.name.lower()
            if key in seen:
                raise ModelError(
                    f"The model catalog names '{entry.name}' twice ({seen[key].name} and "
                    f"{path.name}); give each catalog entry a unique name."
                )
            seen[key] = path
            entries.append(entry)
    return entries


@lru_cache(maxsize=32)
def _family_entries(path: Path, mtime_ns: int) -> tuple[CatalogEntry, ...]:
    family = _read_family(path)
    return tuple(
        CatalogEntry(
            family=family.family, title=family.title, architecture=family.architecture,
            license=family.license, shape=family.shape,
            is_default=item.name == family.default, **item.model_dump(),
        )
        for item in family.model
    )


def _read_family(path: Path) -> _FamilyFile:
    try:
        family = _FamilyFile.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ModelError(f"The model catalog file {path} cannot be read ({exc}).") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ModelError(
            f"The model catalog file {path} is invalid at '{where}': {first['msg']}."
        ) from None
    if family.default is not None and family.default not in {m.name for m in family.model}:
        raise ModelError(
            f"The model catalog file {path} names default '{family.default}', "
            "which it does not list."
        )
    return family


def find_entry(name: str, directory: Path | None = None) -> CatalogEntry | None:
    """The catalog entry called ``name`` (case-insensitive), or None."""
    wanted = name.lower()
    return next((e for e in load_catalog(directory) if e.name.lower() == wanted), None)


def default_entry(directory: Path | None = None) -> CatalogEntry:
    """The model ``flowjudge models pull`` fetches when no name is given."""
    entries = load_catalog(directory)
    for entry in entries:
        if entry.is_default:
            return entry
    if not entries:
        raise ModelError("The model catalog is empty; reinstall flowjudge-tui.")
    return entries[0]


def load_local_models(paths: Paths | None = None) -> list[LocalModel]:
    """The user's registered GGUF files, in the order they were added."""
    file = (paths or app_paths()).local_models_file
    if not file.is_file():
        return []
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
        return [LocalModel.model_validate(item) for item in data.get("model", [])]
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, ValidationError) as exc:
        raise ModelError(
            f"The local model list {file} cannot be read ({_short(exc)}); "
            "fix or delete it and add the models again."
        ) from None


def find_local_model(name: str, paths: Paths | None = None) -> LocalModel | None:
    wanted = name.lower()
    return next((m for m in load_local_models(paths) if m.name.lower() == wanted), None)


def register_local_model(
    path: Path, name: str | None = None, paths: Paths | None = None
) -> LocalModel:
    """Check ``path`` is a GGUF llama.cpp can run, then remember it under ``name``.

    The name defaults to the file's stem. Re-adding a name replaces its entry; a catalog
    name cannot be taken, so ``--model NAME`` always means one thing.
    """
    from flowjudge_tui.models.gguf_file import read_gguf

    try:
        path = Path(path).expanduser().resolve(strict=True)
    except FileNotFoundError:
        raise ModelError(f"No file at {path}; check the path.") from None
    except (OSError, RuntimeError) as exc:
        raise ModelError(f"Cannot follow the path {path} ({_short(exc)}); give the model "
                         "file's real path.") from None
    info = read_gguf(path)
    name = (name or path.stem).strip()
    if not name or any(c.isspace() for c in name):
        raise ModelError(f"'{name}' cannot name a model; use a name without spaces.")
    if find_entry(name) is not None:
        raise ModelError(
            f"'{name}' is a catalog model name; register the file under another name with --name."
        )
    model = LocalModel(
        name=name, path=path, size_bytes=info.file_size, architecture=info.architecture,
        added=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    paths = paths or app_paths()
    kept = [m for m in load_local_models(paths) if m.name.lower() != name.lower()]
    try:
        paths.ensure()
        _write_local_models([*kept, model], paths.local_models_file)
    except OSError as exc:
        raise ModelError(
            f"Cannot record the model in {paths.local_models_file} ({_short(exc)}); check the "
            "permissions of the config folder, or set FLOWJUDGE_HOME to a writable folder."
        ) from None
    return model


def unregister_local_model(name: str, paths: Paths | None = None) -> LocalModel:
    """Forget the registered model ``name``; its file is the user's and stays where it is."""
    paths = paths or app_paths()
    models = load_local_models(paths)
    wanted = name.lower()
    found = next((m for m in models if m.name.lower() == wanted), None)
    if found is None:
        raise ModelError(f"No local model is registered as '{name}'; see 'flowjudge models list'.")
    _write_local_models([m for m in models if m is not found], paths.local_models_file)
    return found


def _write_local_models(models: list[LocalModel], file: Path) -> None:
    data: dict[str, Any] = {"model": [m.model_dump(mode="json") for m in models]}
    try:
        atomic_write_text(file, tomli_w.dumps(data))
    except OSError as exc:
        raise ModelError(
            f"Cannot write the local model list {file} ({exc.strerror or exc}); check that "
            "the config folder is writable, or set FLOWJUDGE_HOME to a writable folder."
        ) from None


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
