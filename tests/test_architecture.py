"""The house rules that no linter sees: start-up imports stay light, no module imports another
that imports it back, and the private huggingface_hub names we rely on still exist."""

from __future__ import annotations

import subprocess
import sys

import grimp
import pytest

HEAVY = ("numpy", "llama_cpp", "huggingface_hub")


@pytest.mark.parametrize("module", ["flowjudge_tui.entry", "flowjudge_tui.cli.main",
                                    "flowjudge_tui.tui.app"])
def test_starting_flowjudge_loads_no_heavy_library(module: str) -> None:
    """Importing the entry point, every command's parser and the app loads none of numpy,
    llama_cpp or huggingface_hub: they are imported by the work that needs them."""
    code = (
        f"import sys, {module}\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == ""


def test_python_dash_m_runs_the_flowjudge_command() -> None:
    """``python -m flowjudge_tui VERB`` is the command line, where the script is not on the
    PATH (it once failed: the package had no ``__main__``)."""
    result = subprocess.run([sys.executable, "-m", "flowjudge_tui", "rubrics", "list"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "faithfulness-context-binary" in result.stdout


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan, iteratively)."""
    modules = sorted(m for m in graph.modules if m.startswith("flowjudge_tui"))
    edges = {m: sorted(i for i in graph.find_modules_directly_imported_by(m)
                       if i.startswith("flowjudge_tui") and i != m) for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in modules:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, child = work.pop()
            if child == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            targets = edges.get(node, [])
            if child < len(targets):
                work.append((node, child + 1))
                target = targets[child]
                if target not in index:
                    work.append((target, 0))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return groups


def test_no_module_imports_one_that_imports_it_back() -> None:
    graph = grimp.build_graph("flowjudge_tui", exclude_type_checking_imports=True)
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for name in ("flowjudge_tui.a", "flowjudge_tui.b", "flowjudge_tui.c"):
        graph.add_module(name)
    graph.add_import(importer="flowjudge_tui.a", imported="flowjudge_tui.b")
    graph.add_import(importer="flowjudge_tui.b", imported="flowjudge_tui.a")
    graph.add_import(importer="flowjudge_tui.c", imported="flowjudge_tui.a")
    assert _cycles(graph) == [["flowjudge_tui.a", "flowjudge_tui.b"]]


def test_the_private_hub_names_the_download_relies_on_still_exist() -> None:
    """models/download.py resumes partial blobs and checks their sha256 before they enter the
    cache, which huggingface_hub's public API does not offer; it uses these names for that.
    If an upgrade removes one, this fails before a user's download does."""
    from huggingface_hub import file_download, utils

    for owner, name in ((file_download, "http_get"), (file_download, "repo_folder_name"),
                        (utils, "WeakFileLock"), (utils, "build_hf_headers")):
        assert callable(getattr(owner, name, None)), f"huggingface_hub lost {name}"
