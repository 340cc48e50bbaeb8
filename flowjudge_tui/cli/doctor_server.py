"""``flowjudge doctor --server URL``: is this server ready to judge? One line each."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from flowjudge_tui.errors import FlowJudgeError

PROBE_PROMPT = "<|user|>\nHello<|end|>\n<|assistant|>\n"


def collect_server(args: argparse.Namespace) -> dict[str, Any]:
    """What the server says about itself, as plain data (also the ``--json`` output)."""
    from flowjudge_tui.engine.served import ServedEngine
    from flowjudge_tui.engine.served_http import ServerOptions

    report: dict[str, Any] = {"server": args.server, "reachable": False, "problems": []}
    problems: list[str] = report["problems"]
    try:
        engine = ServedEngine(args.server, args.server_model,
                              ServerOptions(unreachable_after=args.server_timeout))
    except FlowJudgeError as exc:
        problems.append(str(exc))
        return report
    try:
        report.update(reachable=True, kind=engine.kind, model=engine.model, n_ctx=engine.n_ctx,
                      slots=engine.slots)
        if engine.n_ctx < 4096:
            how = ("llama-cpp-python: --n_ctx 4096" if engine.text_prompts
                   else "llama.cpp: -c parallel x 4096")
            problems.append(f"The server gives each request {engine.n_ctx} tokens of context; "
                            f"Flow-Judge needs 4096 ({how}).")
        report["logprobs"] = _logprobs(engine, report, problems)
        report["tokenizer"] = _tokenizer(engine, _vocab(args), problems)
    finally:
        engine.close()
    return report


def _logprobs(engine: Any, report: dict[str, Any], problems: list[str]) -> int | None:
    try:
        count, how = engine.logprobs_check(PROBE_PROMPT)
    except FlowJudgeError as exc:
        problems.append(str(exc))
        return None
    report["logprobs_by"] = how
    return int(count)


def _vocab(args: argparse.Namespace) -> Path | None:
    if args.vocab is not None:
        return Path(args.vocab)
    from flowjudge_tui.models.installed import list_models

    try:
        listings = list_models()
    except FlowJudgeError:
        return None
    return next((m.path for m in listings
                 if m.downloaded and m.source != "local" and m.path is not None), None)


def _tokenizer(engine: Any, vocab: Path | None, problems: list[str]) -> dict[str, Any] | None:
    if vocab is None:
        return None
    from flowjudge_tui.engine.tokenizer_check import compare_tokenizer

    try:
        check = compare_tokenizer(engine, vocab)
    except FlowJudgeError as exc:
        problems.append(str(exc))
        return None
    if not check.same:
        problems.append(
            f"The server tokenizes the probe differently from {vocab.name} ({check.server_tokens} "
            f"tokens against {check.reference_tokens}, first difference at token "
            f"{check.first_difference}); it does not serve Flow-Judge's tokenizer."
        )
    return {"vocab": str(vocab), "same": check.same, "tokens": check.reference_tokens}


def render_server(report: dict[str, Any]) -> None:
    lines = [("server", f"{report['server']}: "
                        + (f"reachable ({report['kind']})" if report["reachable"]
                           else "not reachable"))]
    if report["reachable"]:
        lines.append(("model", report["model"]))
        lines.append(("context", f"{report['n_ctx']} tokens per request"))
        if report.get("slots"):
            lines.append(("slots", f"{report['slots']} request(s) at a time"))
        count, how = report.get("logprobs"), report.get("logprobs_by")
        if how == "with token ids":
            lines.append(("log-probs", f"yes (top {count} with token ids)"))
        else:
            lines.append(("log-probs", f"yes ({how})" if count else "no"))
        tokenizer = report.get("tokenizer")
        if tokenizer is None:
            text = "not checked (give --vocab PATH.gguf: a Flow-Judge GGUF or ggml-vocab-phi-3)"
        elif tokenizer["same"]:
            text = (f"same as {Path(tokenizer['vocab']).name} on the probe "
                    f"({tokenizer['tokens']} tokens)")
        else:
            text = f"differs from {Path(tokenizer['vocab']).name}"
        lines.append(("tokenizer", text))
    width = max(len(label) for label, _ in lines)
    for label, value in lines:
        print(f"{label.ljust(width)}  {value}")
    for problem in report["problems"]:
        print(f"problem: {problem}")
    if not report["problems"]:
        print("ready to judge.")
