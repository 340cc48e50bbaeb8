"""``--model`` and the load options shared by every command that judges."""

from __future__ import annotations

import argparse
import sys

from flowjudge_tui.judging.backend import JudgeEngine


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", required=True,
        help="a catalog name (see 'flowjudge models list') or a .gguf path",
    )
    parser.add_argument("--n-ctx", type=int, default=None,
                        help="context size (default 4096; above 4096 Phi-3 switches RoPE factors)")
    parser.add_argument("--gpu-layers", type=int, default=None,
                        help="layers to offload to the GPU (default: the memory plan)")


def load_from_args(args: argparse.Namespace, n_parallel: int | None = 1) -> JudgeEngine:
    """Resolve ``--model`` and load it with the memory plan, honouring explicit overrides;
    ``n_parallel`` sequences decode together (None: as many as the plan fits)."""
    from flowjudge_tui.runs.workflow import open_engine

    return open_engine(args.model, n_ctx=args.n_ctx, gpu_layers=args.gpu_layers,
                       n_parallel=n_parallel, on_notice=print_notice)


def print_notice(message: str) -> None:
    print(f"flowjudge: {message}", file=sys.stderr)
