"""``flowjudge judge`` and ``flowjudge rubrics`` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from flowjudge_tui.cli.main import main

VERDICT_KEYS = {
    "score", "feedback", "distribution", "expected_score", "confidence", "rubric",
    "rubric_hash", "prompt_tokens", "completion_tokens", "seconds",
}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_judge_prints_one_json_verdict(
    capsys: pytest.CaptureFixture[str], tiny_model_path: Path
) -> None:
    code, out, err = run(
        capsys, "judge", "--model", str(tiny_model_path), "--rubric", "faithfulness-context-5",
        "--input", "query=Who wrote it?", "--input", "context=Ann wrote it.", "--output", "Ann.",
    )
    assert code == 0, err
    verdict = json.loads(out)
    assert verdict.keys() >= VERDICT_KEYS
    assert verdict["score"] == 4
    assert set(verdict["distribution"]) == {"1", "2", "3", "4", "5"}
    assert verdict["rubric"] == "faithfulness-context-5"
    assert len(verdict["rubric_hash"]) == 64


def test_judge_reads_an_item_file_and_streams(
    capsys: pytest.CaptureFixture[str], tiny_model_path: Path, tmp_path: Path
) -> None:
    item = tmp_path / "item.json"
    item.write_text(json.dumps({"inputs": {"query": "Q?"}, "output": "A."}), encoding="utf-8")
    code, out, err = run(capsys, "judge", "--model", str(tiny_model_path), "--rubric",
                         "relevance-query-binary", "--item", str(item), "--stream")
    assert code == 0
    assert json.loads(out)["score"] == 1
    assert "The response is supported." in err


def test_print_prompt_needs_no_model(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "judge", "--rubric", "relevance-query-binary",
                       "--input", "query=Q?", "--output", "A.", "--print-prompt")
    assert code == 0
    assert out.startswith("# GOAL\n")
    assert "<query>\nQ?\n</query>" in out


def test_print_prompt_does_not_import_llama_cpp() -> None:
    code = (
        "import sys\n"
        "from flowjudge_tui.cli.main import main\n"
        "main(['judge','--rubric','relevance-query-binary','--input','query=q','--output','a',"
        "'--print-prompt'])\n"
        "assert 'llama_cpp' not in sys.modules, 'llama_cpp was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--rubric", "nope", "--output", "a"], "No rubric named 'nope'"),
        (["--rubric", "relevance-query-binary", "--output", "a"], "lacks the input 'query'"),
        (["--rubric", "relevance-query-binary", "--input", "query", "--output", "a"],
         "is not NAME=TEXT"),
        (["--rubric", "relevance-query-binary", "--input", "query=q"], "Give the output"),
        (["--rubric", "relevance-query-binary", "--input", "query=q", "--output", "a"],
         "No model is in use yet; give one with --model"),
        (["--rubric", "relevance-query-binary", "--item", "/no/such/item.json"], "no such file"),
        (["--model", "/no/such/model.gguf", "--rubric", "relevance-query-binary",
          "--input", "query=q", "--output", "a"], "no model file at"),
    ],
)
def test_bad_input_is_one_sentence_without_traceback(
    capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    code, out, err = run(capsys, "judge", *argv)
    assert code == 2
    assert out == ""
    assert expected in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_an_item_file_of_the_wrong_shape(capsys: pytest.CaptureFixture[str],
                                         tmp_path: Path) -> None:
    item = tmp_path / "item.json"
    item.write_text(json.dumps({"inputs": ["query"], "output": 3}), encoding="utf-8")
    code, _, err = run(capsys, "judge", "--rubric", "relevance-query-binary", "--item", str(item),
                       "--print-prompt")
    assert code == 2
    assert "expected {" in err


def test_rubrics_list_show_validate(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "rubrics", "list", "--json")
    assert code == 0
    names = {r["name"] for r in json.loads(out)}
    assert "faithfulness-context-binary" in names
    code, out, _ = run(capsys, "rubrics", "show", "faithfulness-context-binary")
    assert code == 0
    assert 'name = "faithfulness-context-binary"' in out
    shown = tmp_path / "copy.toml"
    shown.write_text(out, encoding="utf-8")
    code, out, _ = run(capsys, "rubrics", "validate", str(shown))
    assert code == 0
    assert "valid rubric 'faithfulness-context-binary'" in out
    shown.write_text("name = 'x'\n", encoding="utf-8")
    code, _, err = run(capsys, "rubrics", "validate", str(shown))
    assert code == 2
    assert "key 'title' is missing" in err


def test_rubrics_delete_removes_only_a_users_own_rubric(
    capsys: pytest.CaptureFixture[str]
) -> None:
    from flowjudge_tui.judging.rubric import RubricLibrary
    from flowjudge_tui.settings import app_paths

    library = RubricLibrary(app_paths())
    library.save_user_rubric(library.get("helpfulness-5").rubric)  # shadows the built-in
    code, _, err = run(capsys, "rubrics", "delete", "coherence-5", "--yes")
    assert code == 2 and "built-in rubrics cannot be deleted" in err
    code, _, err = run(capsys, "rubrics", "delete", "helpfulness-5")  # no terminal to ask
    assert code == 2 and "add --yes" in err
    code, out, _ = run(capsys, "rubrics", "delete", "helpfulness-5", "--yes")
    assert code == 0 and "the built-in rubric of that name is in use again" in out
    assert library.get("helpfulness-5").source == "built-in"


def test_llama_cpps_own_log_stays_quiet_unless_asked(gemma_model_path: Path) -> None:
    """Gemma 3 makes llama.cpp warn about its SWA cache while loading: not on stderr."""
    argv = [sys.executable, "-m", "flowjudge_tui.cli.main", "judge", "--model",
            str(gemma_model_path), "--rubric", "coherence-5", "--output", "Fine.",
            "--max-tokens", "2"]
    quiet = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert quiet.returncode == 0, quiet.stderr
    assert all(line.startswith("flowjudge:") for line in quiet.stderr.splitlines())
    import os

    loud = subprocess.run(argv, capture_output=True, text=True, check=False,
                          env={**os.environ, "FLOWJUDGE_LLAMA_LOG": "1"})
    assert "llama_context" in loud.stderr
