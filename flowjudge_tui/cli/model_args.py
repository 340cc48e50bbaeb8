"""``--model`` or ``--server``, and the load options shared by every command that judges."""

from __future__ import annotations

import argparse
import sys

from flowjudge_tui.cli import arg_types
from flowjudge_tui.errors import ModelError
from flowjudge_tui.judging.backend import JudgeEngine
from flowjudge_tui.runs.workflow import DEFAULT_SERVER_CONCURRENCY

NO_MODEL_IN_USE = (
    "No model is in use yet; give one with --model NAME_OR_PATH.gguf or --server URL, or set "
    "one up with 'flowjudge models pull' or 'flowjudge models add PATH' (or on the app's "
    "Models screen)."
)


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", default=None,
        help="a catalog name (see 'flowjudge models list') or a .gguf path (default: the "
        "model in use, as the app chose it)",
    )
    parser.add_argument("--n-ctx", type=arg_types.context_size, default=None,
                        help="context size (default 4096; above 4096 Phi-3 switches RoPE factors)")
    parser.add_argument("--gpu-layers", type=arg_types.gpu_layers, default=None,
                        help="layers to offload to the GPU (default: the memory plan)")
    add_server_arguments(parser)


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--server", metavar="URL",
        help="judge on an OpenAI-compatible server instead of --model, e.g. "
        "http://127.0.0.1:8080/v1 (key from FLOWJUDGE_API_KEY or OPENAI_API_KEY)",
    )
    parser.add_argument("--server-model", metavar="NAME",
                        help="the model to use when the server serves several")
    parser.add_argument("--server-timeout", type=float, default=60.0, metavar="SECONDS",
                        help="give up on a server unreachable this long (default %(default)s)")


def add_concurrency_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--concurrency", type=int, default=None, metavar="N",
        help=f"items in flight at once on a server (default {DEFAULT_SERVER_CONCURRENCY}; "
        "in-process judging takes one at a time)",
    )


def concurrency_from_args(args: argparse.Namespace, served: bool) -> int:
    wanted = getattr(args, "concurrency", None)
    if wanted is not None and wanted < 1:
        raise ModelError("--concurrency must be at least 1.")
    if not served:
        if wanted not in (None, 1):
            print_notice("--concurrency applies to a server; in-process judging takes one "
                         "item at a time.")
        return 1
    return int(wanted or DEFAULT_SERVER_CONCURRENCY)


def server_timeout(args: argparse.Namespace) -> float:
    if args.server_timeout <= 0:
        raise ModelError("--server-timeout must be more than 0 seconds.")
    return float(args.server_timeout)


def load_from_args(args: argparse.Namespace, n_parallel: int | None = 1) -> JudgeEngine:
    """Connect to ``--server`` (``--concurrency`` judgments in flight), or resolve ``--model``
    (with neither, the model in use: ``settle_judge``) and load it with the memory plan,
    honouring explicit overrides; ``n_parallel`` sequences decode together in-process (None:
    as many as the plan fits)."""
    from flowjudge_tui.runs.workflow import open_engine, open_served

    settle_judge(args)
    if args.server:
        if args.model:
            raise ModelError("Give either --model or --server, not both.")
        if args.n_ctx is not None or args.gpu_layers is not None:
            raise ModelError("--n-ctx and --gpu-layers are the server's to set; drop them "
                             "with --server.")
        return open_served(args.server, args.server_model,
                           unreachable_after=server_timeout(args),
                           concurrency=concurrency_from_args(args, True))
    return open_engine(args.model, n_ctx=args.n_ctx, gpu_layers=args.gpu_layers,
                       n_parallel=n_parallel, on_notice=print_notice)


def settle_judge(args: argparse.Namespace) -> None:
    """With neither ``--model`` nor ``--server``, judge with the model in use (the one the app
    remembers, else the downloaded default, else the GGUF added last): fill it into ``args``
    and say which on stderr. Cheap (no model load), so commands call it before importing data.
    """
    if args.model or args.server:
        return
    from flowjudge_tui.models.in_use import choose_model, load_preferences
    from flowjudge_tui.settings import app_paths

    paths = app_paths()
    choice = choose_model(None, load_preferences(paths), paths)
    if choice.problem:
        print_notice(f"warning: {choice.problem}")
    if choice.server is not None:
        if args.n_ctx is not None or args.gpu_layers is not None:
            raise ModelError(f"The model in use is the server {choice.server.name}, which sets "
                             "its own context and layers; drop --n-ctx and --gpu-layers, or "
                             "give --model.")
        args.server = choice.server.url
    elif choice.path is not None:
        args.model = str(choice.path)
    else:
        raise ModelError(NO_MODEL_IN_USE)
    print_notice(f"using the model in use: {choice.describe()} ({choice.describe_source()})")


def print_notice(message: str) -> None:
    print(f"flowjudge: {message}", file=sys.stderr)
