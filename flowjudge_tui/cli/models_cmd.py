"""``flowjudge models list|pull|add|plan`` and ``flowjudge doctor``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from flowjudge_tui.cli.output import print_json, print_table
from flowjudge_tui.cli.progress_bar import ProgressPrinter, format_amount
from flowjudge_tui.engine.fit import DEFAULT_N_CTX, Budget, ModelMemory, Plan, load_plans
from flowjudge_tui.engine.hardware import Hardware, probe_hardware


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add this module's verbs to the flowjudge parser."""
    models = commands.add_parser(
        "models", help="list, download, add and plan judge models",
        description="Judge models: the catalog (downloaded from the Hugging Face hub and "
        "verified) and GGUF files registered on this machine.",
    )
    verbs = models.add_subparsers(dest="models_command", metavar="VERB")
    listing = verbs.add_parser("list", help="catalog and local models, downloaded or not")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=_list)
    pull = verbs.add_parser("pull", help="download a catalog model and verify its sha256")
    pull.add_argument("name", nargs="?", default=None,
                      help="a catalog name (default: the catalog's default, Q4_K_M)")
    pull.set_defaults(handler=_pull)
    add = verbs.add_parser("add", help="register a local .gguf file under a name")
    add.add_argument("path", type=Path, help="the .gguf file")
    add.add_argument("--name", default=None, help="the name to use (default: the file name)")
    add.set_defaults(handler=_add)
    plan = verbs.add_parser("plan", help="how a model would be loaded on this machine")
    plan.add_argument("--model", default=None,
                      help="a catalog name, local name or .gguf path (default: Q4_K_M)")
    _budget_arguments(plan)
    plan.add_argument("--json", action="store_true", help="print JSON")
    plan.set_defaults(handler=_plan)
    doctor = commands.add_parser(
        "doctor", help="one screen of health: llama.cpp, GPU, memory, models and disk")
    _budget_arguments(doctor)
    doctor.add_argument("--json", action="store_true", help="print JSON")
    doctor.set_defaults(handler=_doctor)


def _budget_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--vram-mib", type=int, default=None,
                        help="plan for a GPU with this much memory (0: CPU only; "
                        "default: the free memory of the GPU llama.cpp sees)")
    parser.add_argument("--ram-mib", type=int, default=None,
                        help="plan for this much RAM (default: the RAM available now)")
    parser.add_argument("--n-ctx", type=int, default=DEFAULT_N_CTX, help="context size")


def _list(args: argparse.Namespace) -> int:
    from flowjudge_tui.installed import list_models

    listings = list_models()
    if args.json:
        print_json([m.as_dict() for m in listings])
        return 0
    rows = []
    for m in listings:
        if m.source == "local":
            status = "local" if m.downloaded else "missing"
        elif not m.downloaded:
            status = "not downloaded"
        else:
            status = "verified" if m.verified else "unverified"
        size = format_amount(m.size_bytes, "bytes")
        rows.append([m.name + (" *" if m.default else ""), m.source, size if m.size_exact
                     else f"~{size}", status, str(m.path) if m.path else ""])
    print_table(["NAME", "SOURCE", "SIZE", "STATUS", "PATH"], rows)
    print("\n* the default. Download with 'flowjudge models pull NAME'; "
          "add a file with 'flowjudge models add PATH'.")
    return 0


def _pull(args: argparse.Namespace) -> int:
    from flowjudge_tui.hub import pull_model

    result = pull_model(args.name, on_progress=ProgressPrinter())
    done = "downloaded and verified" if result.downloaded else "already downloaded and verified"
    print(f"{result.entry.name}: {done} (sha256 {result.sha256[:16]}…)")
    print(result.path)
    return 0


def _add(args: argparse.Namespace) -> int:
    from flowjudge_tui.catalog import register_local_model

    model = register_local_model(args.path, name=args.name)
    print(f"Added '{model.name}' ({model.architecture}, "
          f"{format_amount(model.size_bytes, 'bytes')}): {model.path}")
    print(f"Judge with it: flowjudge judge --model {model.name} ...")
    return 0


def model_memory_for(name_or_path: str | None) -> ModelMemory:
    """The model's sizes: from its file when it is on disk, else from the catalog entry."""
    from flowjudge_tui.catalog import default_entry, find_entry
    from flowjudge_tui.gguf_file import read_gguf
    from flowjudge_tui.installed import cached_path, resolve_model_path

    entry = default_entry() if name_or_path is None else find_entry(name_or_path)
    if entry is not None:
        path = cached_path(entry)
        return ModelMemory.from_gguf(read_gguf(path)) if path else ModelMemory.from_catalog(entry)
    assert name_or_path is not None
    return ModelMemory.from_gguf(read_gguf(resolve_model_path(name_or_path)))


def plans_for_args(args: argparse.Namespace, hardware: Hardware,
                   model: ModelMemory) -> list[Plan]:
    """The plan and its fallbacks for the budget options of ``args``."""
    budget = Budget.from_hardware(hardware, vram_mib=args.vram_mib, ram_mib=args.ram_mib)
    return load_plans(model, budget, n_ctx=args.n_ctx)


def _plan(args: argparse.Namespace) -> int:
    model = model_memory_for(args.model)
    plans = plans_for_args(args, probe_hardware(), model)
    if args.json:
        print_json({"model": model.name, "exact": model.exact, **plans[0].as_dict(),
                    "fallbacks": [p.as_dict() for p in plans[1:]]})
        return 0
    plan = plans[0]
    print(f"{model.name}: {plan.explanation}")
    print(f"  {plan.load.describe()}, batch {plan.load.n_batch}/{plan.load.n_ubatch}, "
          f"{plan.load.n_threads} threads")
    for fallback in plans[1:]:
        print(f"  if that fails: {fallback.load.describe()} "
              f"(~{fallback.predicted_vram_mib} MiB GPU, ~{fallback.predicted_ram_mib} MiB RAM)")
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from flowjudge_tui.cli.doctor import collect, render

    report = collect(args)
    if args.json:
        print_json(report)
    else:
        render(report)
    return 0 if not report["problems"] else 1
