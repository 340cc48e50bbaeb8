"""Memory plans for a named model or a file: the one place the front ends ask "how would this
model run here?".

``engine.fit`` does the arithmetic; this module finds the model's sizes (from its file when it
is on disk, else from the catalog entry) and this machine's budget, and applies the user's
overrides. The command line (``models plan``, ``doctor``, ``--n-ctx``/``--gpu-layers``) and the
app (Home, Models) call it alike.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from flowjudge_tui.engine.fit import Budget, ModelMemory, Plan, load_plans
from flowjudge_tui.engine.hardware import Hardware, probe_hardware
from flowjudge_tui.judging.backend import DEFAULT_N_CTX, LoadSettings


def model_memory_for(name_or_path: str | None) -> ModelMemory:
    """The model's sizes: from its file when it is on disk, else from the catalog entry.

    ``None`` means the catalog's default model.
    """
    from flowjudge_tui.models.catalog import default_entry, find_entry
    from flowjudge_tui.models.gguf_file import read_gguf
    from flowjudge_tui.models.installed import cached_path, resolve_model_path

    entry = default_entry() if name_or_path is None else find_entry(name_or_path)
    if entry is not None:
        path = cached_path(entry)
        return ModelMemory.from_gguf(read_gguf(path)) if path else ModelMemory.from_catalog(entry)
    assert name_or_path is not None
    return ModelMemory.from_gguf(read_gguf(resolve_model_path(name_or_path)))


def model_memory_of_file(path: Path) -> ModelMemory:
    from flowjudge_tui.models.gguf_file import read_gguf

    return ModelMemory.from_gguf(read_gguf(Path(path)))


def plans_for_budget(
    model: ModelMemory,
    hardware: Hardware | None = None,
    vram_mib: int | None = None,
    ram_mib: int | None = None,
    n_ctx: int | None = None,
    n_parallel: int | None = None,
) -> list[Plan]:
    """The plan and its fallbacks for this machine (or the budget given by hand).

    The first plan decodes ``n_parallel`` sequences together (None: as many as fit); the
    fallbacks step down to fewer, then one, then to smaller plans.
    """
    budget = Budget.from_hardware(hardware or probe_hardware(), vram_mib=vram_mib,
                                  ram_mib=ram_mib)
    return load_plans(model, budget, n_ctx=n_ctx or DEFAULT_N_CTX, n_parallel=n_parallel)


def plan_for_file(path: Path, hardware: Hardware | None = None) -> Plan:
    """How the model file would be loaded on this machine (the plan's ``explanation`` says it
    in one sentence)."""
    return plans_for_budget(model_memory_of_file(path), hardware)[0]


def load_settings_for(
    path: Path, n_ctx: int | None = None, n_gpu_layers: int | None = None,
    n_parallel: int | None = 1,
) -> list[LoadSettings]:
    """The load settings to try for ``path``, best first, with the user's overrides applied;
    ``n_gpu_layers`` pins the offload and drops the other candidates (but fewer sequences).

    ``n_parallel`` sequences decode together (None: as many as the plan fits); one by default,
    for a spot check needs no more.
    """
    plans = [p.load for p in plans_for_budget(model_memory_of_file(path), n_ctx=n_ctx,
                                              n_parallel=n_parallel)]
    if n_gpu_layers is not None:
        first = replace(plans[0], n_parallel=1)
        plans = [replace(plan, n_gpu_layers=n_gpu_layers) for plan in plans
                 if replace(plan, n_parallel=1) == first]
    return list(dict.fromkeys(plans))
