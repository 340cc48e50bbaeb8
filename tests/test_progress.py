"""The one progress event type and its text rendering."""

from __future__ import annotations

import io

from flowjudge_tui.cli.progress_bar import ProgressPrinter, render
from flowjudge_tui.progress import Progress, RateMeter


def test_a_bar_shows_amounts_rate_and_eta() -> None:
    line = render(Progress("Download", 5e8, 1e9, unit="bytes", rate=2.5e7, eta_seconds=20))
    assert "50.0%" in line
    assert "500.00 MB/1.00 GB" in line
    assert "25.00 MB/s" in line
    assert "ETA 0:20" in line


def test_an_unknown_total_has_no_percentage() -> None:
    line = render(Progress("Import", 1200, None, unit="rows"))
    assert "%" not in line
    assert "1,200" in line


def test_the_meter_computes_rate_and_eta() -> None:
    meter = RateMeter("Run", total=10, unit="verdicts")
    meter.started -= 10.0
    event = meter.event(5)
    assert event.rate is not None and abs(event.rate - 0.5) < 0.01
    assert event.eta_seconds is not None and abs(event.eta_seconds - 10.0) < 0.5


def test_a_rate_counts_only_the_work_done_and_the_eta_covers_what_remains() -> None:
    """A run's bar counts reused and skipped verdicts, its rate only the judged ones."""
    meter = RateMeter("Run", total=100, unit="verdicts", rate_unit="judged")
    meter.started -= 60.0
    event = meter.event(50, worked=2)  # 48 reused, 2 judged in a minute
    assert event.done == 50 and event.rate is not None and abs(event.rate * 60 - 2.0) < 0.01
    assert event.eta_seconds is not None and abs(event.eta_seconds - 1500.0) < 20
    assert "2.0 judged/min" in render(event) and "50/100" in render(event)
    assert meter.event(50, worked=0).rate is None


def test_a_log_gets_one_line_per_step_and_no_repeats() -> None:
    stream = io.StringIO()
    printer = ProgressPrinter(stream)
    for done in range(101):
        printer(Progress("Run", done, 100))
    printer(Progress("Run", 100, 100, finished=True))
    lines = stream.getvalue().splitlines()
    assert 20 <= len(lines) <= 22
    assert len(lines) == len(set(lines))
    assert "100.0%" in lines[-1]


def test_counts_say_their_noun_in_the_right_number() -> None:
    from flowjudge_tui.format import count_of

    assert [count_of(n, "item") for n in (0, 1, 2, 1234)] == [
        "0 items", "1 item", "2 items", "1,234 items"]
    assert count_of(1, "this", "these") == "1 this" and count_of(3, "is", "are") == "3 are"
