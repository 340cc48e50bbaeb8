"""What the Models screen lists: catalog files and local files, each with its state on disk
and its memory plan for this machine, then the servers the user added. Built in a worker (it
reads headers and probes hardware; servers are not contacted).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from flowjudge_tui.errors import FlowJudgeError
from flowjudge_tui.models.servers import SavedServer
from flowjudge_tui.settings import Paths

if TYPE_CHECKING:
    from flowjudge_tui.engine.fit import Budget

ModelKind = Literal["catalog", "local", "server"]


@dataclass(frozen=True)
class ModelRow:
    key: str
    name: str
    kind: ModelKind
    quantization: str
    size: str
    state: str
    path: Path | None
    plan: str
    notes: str = ""
    server: SavedServer | None = None

    @property
    def on_disk(self) -> bool:
        return self.path is not None

    @property
    def usable(self) -> bool:
        """A file on disk, or a server: it can be the judge in use."""
        return self.path is not None or self.server is not None


@dataclass(frozen=True)
class ModelScan:
    rows: list[ModelRow]
    machine: str
    problems: list[str]


def describe_machine() -> tuple[str, Budget]:
    """One line about this machine, and the memory budget plans are made for."""
    from flowjudge_tui.engine.fit import Budget, probe_hardware

    hardware = probe_hardware()
    budget = Budget.from_hardware(hardware)
    gpu = hardware.best_gpu
    where = (f"GPU {gpu.description or gpu.name}: {gpu.free_mib:,} of {gpu.total_mib:,} MiB free"
             if gpu is not None else "no GPU this llama.cpp build can use")
    line = (f"{where} · RAM {hardware.ram_available_mib:,} of {hardware.ram_total_mib:,} MiB "
            f"available · {hardware.physical_cores} cores")
    return line, budget


def scan_models(paths: Paths) -> ModelScan:
    from flowjudge_tui.engine.fit import ModelMemory, load_plans
    from flowjudge_tui.models.catalog import load_catalog, load_local_models
    from flowjudge_tui.models.gguf_file import read_gguf
    from flowjudge_tui.models.installed import cached_path, is_verified

    machine, budget = describe_machine()
    problems: list[str] = []
    rows: list[ModelRow] = []
    for entry in load_catalog():
        path = cached_path(entry)
        if path is None:
            state = "not downloaded"
        else:
            state = "verified" if is_verified(path) else "downloaded, not verified yet"
        plan = load_plans(ModelMemory.from_catalog(entry), budget)[0].explanation
        rows.append(ModelRow(
            key=f"catalog:{entry.name}", name=entry.name, kind="catalog",
            quantization=entry.quantization, size=entry.display_size,
            state=state + (" · default" if entry.is_default else ""), path=path, plan=plan,
            notes=f"{entry.notes} ({entry.source}, {entry.repo})",
        ))
    try:
        local_models = load_local_models(paths)
    except FlowJudgeError as exc:
        problems.append(str(exc))
        local_models = []
    for local in local_models:
        present = local.path.is_file()
        plan = ""
        if present:
            try:
                plan = load_plans(ModelMemory.from_gguf(read_gguf(local.path)), budget)[0]\
                    .explanation
            except FlowJudgeError as exc:
                plan = str(exc)
        rows.append(ModelRow(
            key=f"local:{local.name}", name=local.name, kind="local",
            quantization=local.architecture, size=f"{local.size_bytes / 1e9:.2f} GB",
            state="registered" if present else "missing: the file is gone",
            path=local.path if present else None, plan=plan, notes=str(local.path),
        ))
    rows.extend(server_rows(paths))
    return ModelScan(rows, machine, problems)


def server_rows(paths: Paths) -> list[ModelRow]:
    from flowjudge_tui.models.servers import load_servers

    return [
        ModelRow(
            key=f"server:{server.name}", name=server.name, kind="server", quantization="-",
            size="-", state=server.url, path=None, plan="", server=server,
            notes="Judged on this OpenAI-compatible server (llama.cpp's server or vLLM), "
                  "several items at once in a run; an API key comes from FLOWJUDGE_API_KEY "
                  "or OPENAI_API_KEY. 'flowjudge doctor --server URL' checks it.",
        )
        for server in load_servers(paths)
    ]
