"""Every command against the standing hostile-input corpus (tests/hostile/, see its README).

Each case ends in a verdict (or a finished run) or in one clear sentence, with the documented
exit status, never a traceback, and nothing already in the store is lost or damaged.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowjudge_tui.cli.main import main
from flowjudge_tui.settings import app_paths
from flowjudge_tui.store import open_store
from tests.hostile.corpus import (
    Case,
    generated_cases,
    id_cases,
    make_paths,
    path_cases,
    static_cases,
)
from tests.model_files import write_small_gguf
from tests.run_helpers import add_dataset, add_run, judge_all, rubric

GENERATED = generated_cases()
CASES = [*static_cases(), *(case for case, _ in GENERATED), *path_cases(), *id_cases()]


@pytest.fixture(scope="module")
def generated_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    small = write_small_gguf(folder / "small.gguf").read_bytes()
    for case, make in GENERATED:
        path = folder / case.category / case.name
        path.parent.mkdir(parents=True, exist_ok=True)
        make(path, small)
    return folder


@pytest.fixture
def baseline() -> Iterator[int]:
    """A finished run already in the store: no hostile case may lose or change it."""
    with open_store() as store:
        rub = rubric("faithfulness-context-binary")
        run = add_run(store, add_dataset(store, rub, ["kept 1", "kept 2"]), rub)
        judge_all(store, run, [1, 0], [0, 1])
        store.finish_run(run.id, "done")
    yield run.id


def store_snapshot(run_id: int) -> tuple[object, ...]:
    conn = sqlite3.connect(app_paths().database)
    try:
        verdicts = conn.execute("SELECT id, score, distribution FROM verdicts WHERE run_id = ?"
                                " ORDER BY id", (run_id,)).fetchall()
        status = conn.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()
    return tuple(verdicts), status, integrity


def fill(argv: tuple[str, ...], values: dict[str, str]) -> list[str]:
    filled = []
    for arg in argv:
        for key, value in values.items():
            arg = arg.replace("{" + key + "}", value)
        filled.append(arg)
    return filled


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_a_hostile_input_ends_in_a_verdict_or_one_sentence(
    case: Case, baseline: int, tiny_model_path: Path, generated_folder: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = store_snapshot(baseline)
    values = {"model": str(tiny_model_path), "run": str(baseline),
              "case": str(case.path or generated_folder / case.category / case.name)}
    if case.category in ("paths", "ids"):
        values.update(make_paths(tmp_path / "paths", app_paths().database))
    code = main(fill(case.argv, values))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert code == case.status, f"{case.id} ({case.why}) exited {code}:\n{err[-1500:]}"
    if code == 2:
        last = err.strip().splitlines()[-1]
        assert last.startswith("flowjudge: ") and last.endswith("."), last
    elif case.argv[0] == "run":
        result = json.loads(out)
        assert result["judged_now"] + result["skipped_now"] + result["reused_now"] == \
            result["imported"] and result["imported"] >= 1
    elif case.argv[0] == "judge":
        verdict = json.loads(out)
        assert verdict["score"] in (0, 1)
        assert sum(verdict["distribution"].values()) == pytest.approx(1.0)
    assert store_snapshot(baseline) == before
