"""How fast ``flowjudge`` imports a large dataset: 100,000 rows of CSV and of JSON Lines.

Rows are built from the HaluEval sample (about 560 bytes each), repeated with a row number so
that every row is distinct. Prints rows per second for each format; the target is 100,000 rows
in at most 20 s on a 2-core machine.

    python bench/import_speed.py [ROWS]
"""

from __future__ import annotations

import csv
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_models import HALUEVAL  # noqa: E402

FIELDS = ("query", "context", "response", "human_label")


def sample_rows() -> list[dict[str, object]]:
    if HALUEVAL.is_file():
        return [json.loads(line) for line in HALUEVAL.read_text(encoding="utf-8").splitlines()]
    text = "The quick brown fox jumps over the lazy dog. " * 8
    return [{"query": "Who jumped?", "context": text, "response": "The fox.", "human_label": 1}]


def write_files(folder: Path, rows: int) -> tuple[Path, Path]:
    base = sample_rows()
    jsonl, csv_path = folder / "big.jsonl", folder / "big.csv"
    with jsonl.open("w", encoding="utf-8") as j, csv_path.open("w", encoding="utf-8",
                                                               newline="") as c:
        writer = csv.writer(c)
        writer.writerow(FIELDS)
        for n in range(rows):
            row = dict(base[n % len(base)])
            row["query"] = f"{row['query']} (#{n})"
            j.write(json.dumps({k: row[k] for k in FIELDS}, ensure_ascii=False) + "\n")
            writer.writerow([row[k] for k in FIELDS])
    return csv_path, jsonl


def main() -> int:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["FLOWJUDGE_HOME"] = str(Path(tmp) / "home")
        sys.path.insert(0, str(ROOT))
        from flowjudge_tui.datasets import import_dataset
        from flowjudge_tui.judging.rubric import load_rubric
        from flowjudge_tui.store import open_store

        rubric = load_rubric(ROOT / "rubrics" / "faithfulness-context-binary.toml")
        files = write_files(Path(tmp), rows)
        with open_store() as store:
            for path in files:
                size = path.stat().st_size / 1e6
                started = time.perf_counter()
                result = import_dataset(store, path, rubric, label="human_label")
                seconds = time.perf_counter() - started
                assert result.imported == rows and not result.problems
                print(f"{path.suffix[1:]:>5}: {rows:,} rows ({size:.1f} MB) in {seconds:.2f} s "
                      f"= {rows / seconds:,.0f} rows/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
