"""Load the official flow-judge 0.1.2 prompt formatter from the installed distribution.

The library's package ``__init__`` pulls in heavy optional backends, so the two small modules
the formatter needs are loaded straight from the installed files. Nothing is vendored: if
``flow-judge`` is not installed the parity tests are skipped with the command that installs it.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

INSTALL_HINT = "pip install --no-deps flow-judge==0.1.2"


def _package_dir() -> Path:
    try:
        from importlib.metadata import PackageNotFoundError, distribution
        dist = distribution("flow-judge")
    except PackageNotFoundError:
        pytest.skip(f"the official flow-judge library is not installed ({INSTALL_HINT})")
    assert dist.version == "0.1.2", f"parity is checked against 0.1.2, found {dist.version}"
    return Path(str(dist.locate_file("flow_judge")))


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def official_formatter() -> Any:
    """The official ``flow_judge.utils.prompt_formatter`` module."""
    if "flow_judge.utils.prompt_formatter" in sys.modules:
        return sys.modules["flow_judge.utils.prompt_formatter"]
    root = _package_dir()
    _load("flow_judge.metrics.metric", root / "metrics" / "metric.py")
    return _load("flow_judge.utils.prompt_formatter", root / "utils" / "prompt_formatter.py")


def official_prompt(
    criteria: str,
    scores: dict[int, str],
    inputs: list[tuple[str, str]],
    output: tuple[str, str],
) -> str:
    """What flow-judge's ``BaseFlowJudge._format_prompt`` produces for these values."""
    formatter = official_formatter()
    rubric_item = sys.modules["flow_judge.metrics.metric"].RubricItem
    variables = {
        "INPUTS": formatter.format_vars([{name: value} for name, value in inputs]),
        "OUTPUT": formatter.format_vars([{output[0]: output[1]}]),
        "EVALUATION_CRITERIA": criteria,
        "RUBRIC": formatter.format_rubric(
            [rubric_item(score=s, description=d) for s, d in scores.items()]
        ),
    }
    return str(formatter.format_user_prompt(variables))
