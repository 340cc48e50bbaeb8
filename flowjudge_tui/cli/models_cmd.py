"""``flowjudge models list|pull|add|remove|plan``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from flowjudge_tui.cli.output import print_json, print_table, refusal_to_confirm
from flowjudge_tui.cli.progress_bar import ProgressPrinter
from flowjudge_tui.format import format_amount
from flowjudge_tui.judging.backend import DEFAULT_N_CTX


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add this module's verbs to the flowjudge parser."""
    models = commands.add_parser(
        "models", help="list, download, add, remove and plan judge models",
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
    remove = verbs.add_parser(
        "remove", help="forget a registered GGUF or a saved server; delete a downloaded model",
        description="Forget a GGUF registered with 'models add' (the file itself stays), "
        "delete a catalog model's downloaded file from the hub cache, or remove a server saved "
        "on the app's Models screen. If it is the model in use, that choice is cleared.",
    )
    remove.add_argument("name", metavar="NAME_OR_PATH",
                        help="a catalog or registered name, a saved server's name (or "
                        "server:NAME), or the registered file's path")
    remove.add_argument("--yes", action="store_true", help="do not ask first")
    remove.set_defaults(handler=_remove)
    plan = verbs.add_parser("plan", help="how a model would be loaded on this machine")
    plan.add_argument("--model", default=None,
                      help="a catalog name, local name or .gguf path (default: Q4_K_M)")
    budget_arguments(plan)
    plan.add_argument("--json", action="store_true", help="print JSON")
    plan.set_defaults(handler=_plan)


def budget_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--vram-mib", type=int, default=None,
                        help="plan for a GPU with this much memory (0: CPU only; "
                        "default: the free memory of the GPU llama.cpp sees)")
    parser.add_argument("--ram-mib", type=int, default=None,
                        help="plan for this much RAM (default: the RAM available now)")
    parser.add_argument("--n-ctx", type=int, default=DEFAULT_N_CTX, help="context size")


def _list(args: argparse.Namespace) -> int:
    from flowjudge_tui.models.installed import list_models
    from flowjudge_tui.models.servers import load_servers

    listings = list_models()
    servers = load_servers()
    if args.json:
        print_json([m.as_dict() for m in listings] + [
            {"name": s.name, "source": "server", "quantization": "", "size_bytes": 0,
             "size_exact": True, "downloaded": False, "verified": None, "path": None,
             "default": False, "notes": s.url} for s in servers])
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
    rows.extend([s.name, "server", "-", "saved", s.url] for s in servers)
    print_table(["NAME", "SOURCE", "SIZE", "STATUS", "PATH"], rows)
    print("\n* the default. Download with 'flowjudge models pull NAME'; add a file with "
          "'flowjudge models add PATH'; remove one with 'flowjudge models remove NAME'.")
    return 0


def _pull(args: argparse.Namespace) -> int:
    from flowjudge_tui.models.download import pull_model

    result = pull_model(args.name, on_progress=ProgressPrinter())
    done = "downloaded and verified" if result.downloaded else "already downloaded and verified"
    print(f"{result.entry.name}: {done} (sha256 {result.sha256[:16]}…)")
    print(result.path)
    return 0


def _add(args: argparse.Namespace) -> int:
    from flowjudge_tui.models.catalog import register_local_model
    from flowjudge_tui.models.gguf_file import read_gguf

    model = register_local_model(args.path, name=args.name)
    print(f"Added '{model.name}' ({model.architecture}, "
          f"{format_amount(model.size_bytes, 'bytes')}): {model.path}")
    mismatch = read_gguf(model.path).flow_judge_mismatch
    if mismatch:
        print(f"flowjudge: warning: {mismatch}", file=sys.stderr)
    print(f"Judge with it: flowjudge judge --model {model.name} ...")
    return 0


def _remove(args: argparse.Namespace) -> int:
    from flowjudge_tui.models.removal import find_removable, remove_model

    target = find_removable(args.name)
    refused = refusal_to_confirm(args.yes, target.action, target.question(), "Nothing removed.")
    if refused is not None:
        return refused
    print(remove_model(target).sentence())
    return 0


def plans_for_args(
    args: argparse.Namespace, name_or_path: str | None
) -> tuple[str, bool, list[Any]]:
    """The model's name, whether its sizes are exact, and its plans for the budget options."""
    from flowjudge_tui.engine.plans import model_memory_for, plans_for_budget

    model = model_memory_for(name_or_path)
    plans = plans_for_budget(model, vram_mib=args.vram_mib, ram_mib=args.ram_mib,
                             n_ctx=args.n_ctx)
    return model.name, model.exact, plans


def _plan(args: argparse.Namespace) -> int:
    name, exact, plans = plans_for_args(args, args.model)
    if args.json:
        print_json({"model": name, "exact": exact, **plans[0].as_dict(),
                    "fallbacks": [p.as_dict() for p in plans[1:]]})
        return 0
    plan = plans[0]
    print(f"{name}: {plan.explanation}")
    print(f"  {plan.load.describe()}, batch {plan.load.n_batch}/{plan.load.n_ubatch}, "
          f"{plan.load.n_threads} threads")
    print(f"  runs: {plan.parallel_explanation}")
    for fallback in plans[1:]:
        print(f"  if that fails: {fallback.load.describe()} "
              f"(~{fallback.predicted_vram_mib} MiB GPU, ~{fallback.predicted_ram_mib} MiB RAM)")
    return 0
