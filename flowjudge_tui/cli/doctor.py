"""``flowjudge doctor``: one screen that says whether this machine is ready to judge.

It never touches the network, unless asked to check a server (``--server URL``, see
``doctor_server``). Each problem is one sentence with its fix.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any

from flowjudge_tui import __version__
from flowjudge_tui.cli.model_args import add_server_arguments
from flowjudge_tui.cli.models_cmd import budget_arguments, plans_for_args
from flowjudge_tui.cli.output import print_json
from flowjudge_tui.engine.hardware import llama_build_info, nvml_gpus, probe_hardware
from flowjudge_tui.errors import FlowJudgeError
from flowjudge_tui.format import format_amount
from flowjudge_tui.settings import Paths, app_paths

CUDA_REINSTALL = ('CMAKE_ARGS="-DGGML_CUDA=on" pip install --force-reinstall --no-cache-dir '
                  "llama-cpp-python")


def register(commands: argparse._SubParsersAction[Any]) -> None:
    doctor = commands.add_parser(
        "doctor", help="one screen of health: llama.cpp, GPU, memory, models and disk")
    budget_arguments(doctor)
    doctor.add_argument("--json", action="store_true", help="print JSON")
    add_server_arguments(doctor)
    doctor.add_argument("--vocab", type=Path, default=None, metavar="PATH.gguf",
                        help="with --server: the Phi-3 vocabulary to compare its tokenizer "
                        "with (default: a pulled Flow-Judge GGUF)")
    doctor.set_defaults(handler=_doctor)


def _doctor(args: argparse.Namespace) -> int:
    if args.server:
        from flowjudge_tui.cli.doctor_server import collect_server, render_server

        served = collect_server(args)
        if args.json:
            print_json(served)
        else:
            render_server(served)
        return 0 if not served["problems"] else 1
    report = collect(args)
    if args.json:
        print_json(report)
    else:
        render(report)
    return 0 if not report["problems"] else 1


def collect(args: argparse.Namespace) -> dict[str, Any]:
    """Everything the doctor checks, as plain data (also the ``--json`` output)."""
    problems: list[str] = []
    notes: list[str] = []
    hardware = probe_hardware()
    llama = llama_build_info()
    if llama["version"] is None:
        problems.append(f"llama-cpp-python cannot be imported ({llama['error']}); reinstall it "
                        "with 'pip install --force-reinstall llama-cpp-python'.")
    if llama.get("gpu_offload") is False:
        for gpu in nvml_gpus():
            problems.append(
                f"This llama.cpp was built without GPU support, so {gpu.name} "
                f"({gpu.total_mib} MiB) is unused; reinstall it with {CUDA_REINSTALL}."
            )
    paths = app_paths()
    store = _store(paths, problems, notes)
    models = _models(problems, notes)
    from flowjudge_tui.models.installed import hub_cache_info

    hub_cache = hub_cache_info()
    plan: dict[str, Any] | None = None
    try:
        best = plans_for_args(args, None)[2][0]
        plan = best.as_dict()
        if not best.fits:
            problems.append(best.explanation)
    except FlowJudgeError as exc:
        problems.append(str(exc))
    return {
        "flowjudge": __version__,
        "llama_cpp": llama,
        "gpus": [vars(g) for g in hardware.gpus],
        "ram_total_mib": hardware.ram_total_mib,
        "ram_available_mib": hardware.ram_available_mib,
        "physical_cores": hardware.physical_cores,
        "data_dir": str(paths.data_dir),
        "data_dir_free_bytes": _free_disk(paths.data_dir),
        "config_dir": str(paths.config_dir),
        "store": store,
        "hub_cache": hub_cache["hub_cache"],
        "hub_cache_free_bytes": _free_disk(Path(hub_cache["hub_cache"])),
        "hub_endpoint": hub_cache["hub_endpoint"],
        "hub_offline": hub_cache["hub_offline"],
        "models": models,
        "plan": plan,
        "problems": problems + [f"GPU probe: {p}." for p in hardware.problems],
        "notes": notes,
    }


def _store(paths: Paths, problems: list[str], notes: list[str]) -> dict[str, Any]:
    """The database (integrity, writable) and the data and config folders."""
    from flowjudge_tui.store.health import check_store, folder_problem

    for label, folder in (("data", paths.data_dir), ("config", paths.config_dir)):
        problem = folder_problem(label, folder)
        if problem:
            problems.append(problem)
    health = check_store(paths.database)
    problems.extend(health.problems)
    notes.extend(f"flagged model {flag}" for flag in health.flagged_models)
    return {"path": str(health.path), "exists": health.exists, "schema": health.schema,
            "intact": health.intact, "writable": health.writable,
            "flagged_models": health.flagged_models}


def _models(problems: list[str], notes: list[str]) -> list[dict[str, Any]]:
    from flowjudge_tui.models.catalog import default_entry
    from flowjudge_tui.models.installed import list_models

    try:
        listings = list_models()
    except FlowJudgeError as exc:
        problems.append(str(exc))
        return []
    for m in listings:
        if m.source == "local" and not m.downloaded:
            problems.append(f"The local model '{m.name}' is gone from {m.path}; add it again "
                            "with 'flowjudge models add PATH'.")
        elif m.downloaded and m.verified is False:
            notes.append(f"{m.name} is downloaded but not verified yet; "
                         f"'flowjudge models pull {m.name}' verifies it.")
    if not any(m.downloaded for m in listings):
        entry = default_entry()
        problems.append(f"No judge model is on this machine; run 'flowjudge models pull' "
                        f"({entry.name}, {entry.display_size}) or "
                        "'flowjudge models add PATH.gguf'.")
    return [m.as_dict() for m in listings]


def _free_disk(path: Path) -> int | None:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return shutil.disk_usage(candidate).free
    return None


def render(report: dict[str, Any]) -> None:
    llama = report["llama_cpp"]
    if llama["version"]:
        offload = "GPU offload" if llama["gpu_offload"] else "CPU only (no GPU offload)"
        llama_line = f"llama-cpp-python {llama['version']}, {offload}"
    else:
        llama_line = "not importable"
    gpus = "; ".join(f"{g['description'] or g['name']}: {g['free_mib']} MiB free of "
                     f"{g['total_mib']} MiB" for g in report["gpus"]) or "none llama.cpp can use"
    state = {True: "verified", False: "unverified", None: "local"}
    models = ", ".join(f"{m['name']} ({state[m['verified']]})"
                       for m in report["models"] if m["downloaded"]) or "none"
    plan = report["plan"]
    lines = [
        ("flowjudge", report["flowjudge"]),
        ("llama.cpp", llama_line),
        ("GPU", gpus),
        ("RAM", f"{report['ram_available_mib']} MiB available of {report['ram_total_mib']} MiB, "
                f"{report['physical_cores']} physical cores"),
        ("data dir", f"{report['data_dir']} ({_disk(report['data_dir_free_bytes'])})"),
        ("database", _store_line(report["store"])),
        ("hub cache", f"{report['hub_cache']} ({_disk(report['hub_cache_free_bytes'])}), "
                      f"{report['hub_endpoint']}"
                      + (", HF_HUB_OFFLINE" if report["hub_offline"] else "")),
        ("models", models),
        ("plan", plan["explanation"] if plan else "none"),
    ]
    width = max(len(label) for label, _ in lines)
    for label, value in lines:
        print(f"{label.ljust(width)}  {value}")
    for note in report["notes"]:
        print(f"note: {note}")
    for problem in report["problems"]:
        print(f"problem: {problem}")
    if not report["problems"]:
        print("ready to judge.")


def _store_line(store: dict[str, Any]) -> str:
    if not store["exists"]:
        return f"{store['path']} (not created yet)"
    intact = {True: "intact", False: "DAMAGED", None: "unchecked"}[store["intact"]]
    writable = {True: "writable", False: "NOT writable", None: "unchecked"}[store["writable"]]
    return f"{store['path']} (schema {store['schema']}, {intact}, {writable})"


def _disk(free: int | None) -> str:
    return "free disk unknown" if free is None else f"{format_amount(free, 'bytes')} free"
