"""Argument types that check a value when the command line is parsed: before any file is
imported or any model loaded, a bad value ends in one sentence (argparse's usage error)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def whole_number(low: int, high: int | None = None) -> Callable[[str], int]:
    """An int from ``low`` (to ``high``)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
        if value < low or (high is not None and value > high):
            bounds = f"from {low} to {high}" if high is not None else f"{low} or more"
            raise argparse.ArgumentTypeError(f"{value} is out of range; give {bounds}")
        return value

    parse.__name__ = "whole number"
    return parse


def temperature(text: str) -> float:
    """A sampling temperature: a finite number from 0 to 2."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not math.isfinite(value) or not 0.0 <= value <= 2.0:
        raise argparse.ArgumentTypeError(f"{text} is not a temperature; give 0 to 2 (0.1 is "
                                         "the official setting)")
    return value


def run_name(text: str) -> str:
    """A run's name: not empty, not too long, no control characters (see ``check_run_name``)."""
    from flowjudge_tui.errors import StoreError
    from flowjudge_tui.store.records import check_run_name

    try:
        return check_run_name(text)
    except StoreError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


positive = whole_number(1)
seed = whole_number(0, 2**31 - 1)
context_size = whole_number(512, 131072)
gpu_layers = whole_number(0)
