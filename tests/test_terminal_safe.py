"""Escape sequences in user text never reach the terminal raw: CLI messages and the app."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flowjudge_tui.cli.output import print_json, print_table
from flowjudge_tui.cli.terminal import SafeTerminalStream
from flowjudge_tui.format import terminal_safe

OSC_TITLE = "\x1b]0;PWNED\x07"
CLEAR_SCREEN = "\x1b[2J\x1b[H"
C1_CSI = "\x9b31m"
HOSTILE = f"{OSC_TITLE}{CLEAR_SCREEN}{C1_CSI}\rfake line\x7f"


def run_on_a_terminal(args: list[str]) -> tuple[int, bytes]:
    """Run ``flowjudge ARGS`` with stdout and stderr on a real pseudo-terminal."""
    master, slave = os.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "flowjudge_tui.cli.main", *args],
        stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, cwd=Path(__file__).parent.parent,
    )
    os.close(slave)
    output = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the terminal's other end closed
            break
        if not chunk:
            break
        output += chunk
    os.close(master)
    return process.wait(), output


def test_terminal_safe_shows_every_control_as_a_visible_symbol() -> None:
    shown = terminal_safe(HOSTILE)
    assert "\x1b" not in shown and "\x9b" not in shown and "\r" not in shown
    assert "\x07" not in shown and "\x7f" not in shown
    assert "␛]0;PWNED␇" in shown
    assert terminal_safe("a\nb\tc") == "a\nb\tc"
    assert terminal_safe("a\nb\tc", one_line=True) == "a␊b␉c"
    assert len(terminal_safe(HOSTILE)) == len(HOSTILE)


def test_cli_messages_with_escape_sequences_are_terminal_safe(tmp_path: Path) -> None:
    evil = tmp_path / f"data{OSC_TITLE}{CLEAR_SCREEN}.csv"
    code, output = run_on_a_terminal(
        ["run", "--rubric", "faithfulness-context-binary", "--model", "none.gguf",
         "--data", str(evil)]
    )
    assert code == 2
    assert b"\x1b" not in output and b"\x07" not in output
    assert "␛]0;PWNED␇".encode() in output
    assert b"Traceback" not in output


def test_cli_output_to_a_pipe_is_left_byte_for_byte(tmp_path: Path) -> None:
    toml = tmp_path / "r.toml"
    toml.write_text('name = "x"\n')
    result = subprocess.run(
        [sys.executable, "-m", "flowjudge_tui.cli.main", "judge", "--rubric",
         "faithfulness-context-binary", "--input", f"query={OSC_TITLE}", "--input",
         "context=c", "--output", "o", "--print-prompt"],
        capture_output=True, check=False, cwd=Path(__file__).parent.parent,
    )
    assert result.returncode == 0, result.stderr
    assert OSC_TITLE.encode() in result.stdout


def test_the_safe_stream_passes_only_our_own_carriage_return() -> None:
    raw = io.StringIO()
    stream = SafeTerminalStream(raw)
    stream.write_control("\r")
    stream.write(f"progress {HOSTILE}")
    assert raw.getvalue().count("\r") == 1 and "\x1b" not in raw.getvalue()


def test_json_and_tables_stay_valid_and_inert(capsys: pytest.CaptureFixture[str]) -> None:
    print_json({"value": HOSTILE})
    out = capsys.readouterr().out
    assert json.loads(out) == {"value": HOSTILE}
    assert "\x9b" not in out and "\x1b" not in out and "\x7f" not in out
    print_table(["NAME"], [[HOSTILE]])
    table = capsys.readouterr().out
    assert "\x1b" not in table and "\r" not in table
