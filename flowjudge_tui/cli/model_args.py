"""``--model`` and the load options shared by every command that judges."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from flowjudge_tui.engine.base import JudgeEngine


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", required=True,
        help="a catalog name (see 'flowjudge models list') or a .gguf path",
    )
    parser.add_argument("--n-ctx", type=int, default=None,
                        help="context size (default 4096; above 4096 Phi-3 switches RoPE factors)")
    parser.add_argument("--gpu-layers", type=int, default=None,
                        help="layers to offload to the GPU (default: the memory plan)")


def resolve_model(name_or_path: str) -> Path:
    path = Path(name_or_path).expanduser()
    if path.suffix == ".gguf" or path.is_file():
        return path
    from flowjudge_tui.hub import resolve_model_path

    return resolve_model_path(name_or_path)


def load_from_args(args: argparse.Namespace) -> JudgeEngine:
    """Resolve ``--model`` and load it with the memory plan, honouring explicit overrides."""
    from flowjudge_tui.engine.loader import load_engine, plans_for

    path = resolve_model(args.model)
    plans = plans_for(path, n_ctx=args.n_ctx, n_gpu_layers=args.gpu_layers)
    return load_engine(path, plans, on_notice=_notice)


def _notice(message: str) -> None:
    print(f"flowjudge: {message}", file=sys.stderr)
