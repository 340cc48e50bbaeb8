"""A label off the rubric's scale: the row is judged without a label, and each front end says
so in one line (``flowjudge run``, ``flowjudge rubrics try``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flowjudge_tui.cli.main import main
from flowjudge_tui.datasets import import_dataset
from flowjudge_tui.store import open_store
from tests.run_helpers import rubric, write_csv

RUBRIC = "relevance-query-binary"
OFF_SCALE_LINE = ("flowjudge: 4 rows had a label off the 0-1 scale (lines 3, 4, 6, ...: '7', "
                  "'x', '-1', ...); they are judged without a label.")


def labelled(tmp_path: Path) -> Path:
    labels = ["1", "7", "x", "", "-1", "0.5", "0"]
    return write_csv(tmp_path / "labels.csv", ["query", "response", "human"],
                     [[f"Question {n}?", f"Answer {n}.", label]
                      for n, label in enumerate(labels)])


def test_run_judges_rows_with_off_scale_labels_and_says_so_once(
    capsys: pytest.CaptureFixture[str], tiny_model_path: Path, tmp_path: Path
) -> None:
    data = labelled(tmp_path)
    code = main(["run", "--model", str(tiny_model_path), "--rubric", RUBRIC, "--data",
                 str(data), "--label", "human", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = json.loads(captured.out)
    assert (summary["imported"], summary["judged_now"], summary["bad_rows"]) == (7, 7, [])
    assert summary["labels_off_scale"] == {
        "scale": "0-1", "count": 4,
        "examples": [{"line": 3, "value": "7"}, {"line": 4, "value": "x"},
                     {"line": 6, "value": "-1"}]}
    lines = captured.err.splitlines()
    assert [line for line in lines if "off the" in line] == [OFF_SCALE_LINE]
    with open_store() as store:
        items = store.items(summary["dataset_id"])
    # The empty cell (line 5) is unlabelled silently; the off-scale ones are unlabelled too.
    assert [i.human_label for i in items] == [1, None, None, None, None, None, 0]


def test_an_import_made_when_off_scale_rows_were_dropped_is_not_reused(tmp_path: Path) -> None:
    """An import with a label column made before (its off-scale rows left out) carries the
    source hash of that time: the file is imported again, with every row."""
    import hashlib

    from flowjudge_tui.store import NewItem

    data = labelled(tmp_path)
    rub = rubric(RUBRIC)
    fields = {"query": "query", "response": "response"}
    digest = hashlib.sha256(data.read_bytes())
    digest.update(json.dumps(["csv", sorted(fields.items()), "human", None, None,
                              list(rub.inputs), rub.output, list(rub.score_values)],
                             ensure_ascii=False).encode("utf-8"))
    with open_store() as store:
        earlier = store.add_dataset(
            name="labels", source_path=str(data), format="csv",
            columns=["query", "response", "human"], mapping=fields, rubric=rub,
            items=[NewItem(2, {"query": "Question 0?"}, "Answer 0.", 1)],
            label_column="human", source_hash=digest.hexdigest())
        now = import_dataset(store, data, rub, label="human")
        assert not now.reused and now.dataset.id != earlier.id and now.imported == 7
        again = import_dataset(store, data, rub, label="human")
        assert again.reused and again.dataset.id == now.dataset.id


def test_rubrics_try_leaves_off_scale_rows_out_of_the_sample_in_one_line(
    capsys: pytest.CaptureFixture[str], tiny_model_path: Path, tmp_path: Path
) -> None:
    rows = [(f"Question {n}?", f"Context {n}.", f"Answer {n}.", label)
            for n, label in enumerate(["1", "0", "5", "1", "0"])]
    data = write_csv(tmp_path / "lab.csv", ["query", "context", "response", "human_label"],
                     rows)
    code = main(["rubrics", "try", "faithfulness-context-binary", "--data", str(data),
                 "--label", "human_label", "--sample", "4", "--model", str(tiny_model_path),
                 "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    tried = json.loads(captured.out)
    assert tried["labelled_rows"] == 4 and tried["unusable_rows"] == []
    assert tried["labels_off_scale"]["count"] == 1
    assert [line for line in captured.err.splitlines() if "off the" in line] == [
        "flowjudge: 1 row had a label off the 0-1 scale (line 4: '5'); it is left out of the "
        "sample as unlabelled."]


def test_rubrics_of_different_scales_each_check_the_labels_against_their_own_scale(
    capsys: pytest.CaptureFixture[str], tiny_model_path: Path, tmp_path: Path
) -> None:
    """One label column, a pass/fail rubric and a 1-3 one started together: a 0 is a label
    for the first and off the scale of the second (it used to reach the 1-3 run as a label,
    and ``stats`` then failed on it)."""
    data = write_csv(tmp_path / "both.csv", ["query", "response", "human"],
                     [["Q0?", "A0.", "1"], ["Q1?", "A1.", "0"], ["Q2?", "A2.", "3"]])
    code = main(["run", "--model", str(tiny_model_path), "--rubric", RUBRIC,
                 "--rubric", "relevance-query-3", "--data", str(data), "--label", "human",
                 "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    binary, three = json.loads(captured.out)
    assert binary["labels_off_scale"]["examples"] == [{"line": 4, "value": "3"}]
    assert three["labels_off_scale"]["examples"] == [{"line": 3, "value": "0"}]
    assert [line for line in captured.err.splitlines() if "off the" in line] == [
        "flowjudge: 1 row had a label off the 0-1 scale (line 4: '3'); it is judged without "
        "a label.",
        "flowjudge: 1 row had a label off the 1-3 scale (line 3: '0'); it is judged without "
        "a label."]
    with open_store() as store:
        assert [i.human_label for i in store.items(binary["dataset_id"])] == [1, 0, None]
        assert [i.human_label for i in store.items(three["dataset_id"])] == [1, None, 3]
    assert main(["stats", str(three["run_id"])]) == 0
    assert "ALL LABELLED (2)" in capsys.readouterr().out
