"""Items skipped as too long for a run's context: counted apart from other skips, and judged
again with a larger context by ``runs resume --retry-skipped --n-ctx N`` (the workflow's
``retry_too_long``), with the tiny scripted model at a small context so long items skip cheaply.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from flowjudge_tui.cli.main import main
from flowjudge_tui.errors import ModelError, SettingsError, StoreError
from flowjudge_tui.judging.backend import JudgeEngine, LoadSettings
from flowjudge_tui.runs.execute import INVALID_LOGITS
from flowjudge_tui.runs.retry import retry_companions, rope_notice, too_long_hint
from flowjudge_tui.runs.work import work_key
from flowjudge_tui.runs.workflow import create_run, resume_run
from flowjudge_tui.store import (
    TOO_LONG,
    NewVerdict,
    RunRecord,
    RunSettings,
    Store,
    open_store,
)
from tests.run_helpers import add_dataset, rubric, write_csv

RUBRIC = "relevance-query-binary"
SMALL_CTX = 2048
LONG = "word " * 600  # about 2,300 prompt tokens with the test vocabulary: over 2048


@pytest.fixture
def store() -> Iterator[Store]:
    with open_store() as opened:
        yield opened


def small_context_run(store: Store, model: Path) -> int:
    """A run at a 2048-token context over a short item, a long one, a short one and a fourth
    that a damaged model skipped for NaN logits (stored before the run starts)."""
    rub = rubric(RUBRIC)
    dataset_id = add_dataset(store, rub, ["Short.", LONG, "Short too.", "Fourth."])
    run = create_run(store, dataset_id, rub, model,
                     RunSettings(load=LoadSettings(n_ctx=SMALL_CTX, n_parallel=2)))
    fourth = store.items(dataset_id)[3]
    store.add_verdict(run.id, fourth.id, NewVerdict(
        status="skipped", work_key="nan", skip_reason="computed invalid numbers",
        stop_reason=INVALID_LOGITS))
    return run.id


def test_too_long_skips_are_counted_apart_and_retried_with_a_larger_context(
    store: Store, tiny_model_path: Path
) -> None:
    run_id = small_context_run(store, tiny_model_path)
    first = resume_run(store, run_id)
    assert (first.judged, first.skipped, first.too_long) == (2, 1, 1)
    run = store.get_run(run_id)
    assert (run.skipped, run.skipped_too_long, run.pending) == (2, 1, 0)
    assert [v.stop_reason for v in store.verdicts(run_id) if v.status == "skipped"] == [
        INVALID_LOGITS, TOO_LONG]
    assert too_long_hint(run) == (
        f"1 item was skipped as too long for the context of {SMALL_CTX} tokens; judge it "
        f"with a larger one: 'flowjudge runs resume {run_id} --retry-skipped --n-ctx 8192'.")

    for same in (None, SMALL_CTX):
        with pytest.raises(SettingsError, match="same or a smaller context would skip them again"):
            resume_run(store, run_id, retry_too_long=True, n_ctx=same)
    assert store.get_run(run_id).skipped_too_long == 1

    notices: list[str] = []
    loads: list[LoadSettings] = []

    def opener(path: Path, plans: Sequence[LoadSettings]) -> JudgeEngine:
        from flowjudge_tui.engine.loader import load_engine

        loads.extend(plans)
        return load_engine(path, plans)

    retried = resume_run(store, run_id, retry_too_long=True, n_ctx=8192, opener=opener,
                         on_notice=notices.append)
    # One sequence: the run's plan fitted two of its small contexts, not of the larger one.
    assert [(load.n_ctx, load.n_parallel) for load in loads] == [(8192, 1)]
    assert (retried.judged, retried.reused, retried.skipped) == (1, 0, 0)
    assert [n for n in notices if "RoPE" in n] == [
        "Phi-3 switches to its long-context RoPE factors above 4096 tokens of context, so the "
        f"items judged now with 8192 may score slightly differently from those judged with "
        f"{SMALL_CTX}."]
    run = store.get_run(run_id)
    assert (run.state, run.judged, run.skipped, run.skipped_too_long) == ("done", 3, 1, 0)
    verdicts = {v.item_id: v for v in store.verdicts(run_id)}
    long_item = store.items(run.dataset_id)[1]
    retried_verdict = verdicts[long_item.id]
    assert retried_verdict.status == "judged" and retried_verdict.score is not None
    # The settings it was judged with are the run's, but for the larger context.
    assert retried_verdict.work_key == work_key(
        run.model_fingerprint, run.rubric_hash, long_item.content_hash, run.settings.sampling,
        LoadSettings(n_ctx=8192))
    # The NaN skip is not retried.
    assert [v.stop_reason for v in verdicts.values() if v.status == "skipped"] == [
        INVALID_LOGITS]
    with pytest.raises(StoreError, match="nothing to retry"):
        resume_run(store, run_id, retry_too_long=True, n_ctx=8192)


def test_a_retry_killed_after_the_deletion_leaves_the_items_pending_never_half_done(
    store: Store, tiny_model_path: Path
) -> None:
    """The skips are deleted in one transaction before any judging: a kill right after it
    leaves the items pending. A plain resume judges them with the run's own context (so they
    are skipped as too long again, nothing lost); the same retry carries on."""
    run_id = small_context_run(store, tiny_model_path)
    resume_run(store, run_id)
    assert store.forget_too_long_skips(run_id) == 1  # the retry's first step, then a kill
    run = store.get_run(run_id)
    assert (run.pending, run.skipped, run.skipped_too_long) == (1, 1, 0)
    plain = resume_run(store, run_id)
    assert (plain.judged, plain.too_long) == (0, 1)
    assert store.forget_too_long_skips(run_id) == 1
    carried_on = resume_run(store, run_id, retry_too_long=True, n_ctx=4096)
    assert (carried_on.judged, carried_on.too_long, carried_on.run.pending) == (1, 0, 0)


def test_the_skips_are_not_deleted_while_another_process_judges_the_run(
    store: Store, tiny_model_path: Path
) -> None:
    run_id = small_context_run(store, tiny_model_path)
    resume_run(store, run_id)
    store.claim_run(run_id)  # this live process now "judges" it
    with pytest.raises(StoreError, match="is being judged by process"):
        resume_run(store, run_id, retry_too_long=True, n_ctx=4096)
    assert store.get_run(run_id).skipped_too_long == 1


def test_a_served_run_is_refused_and_the_notice_only_crosses_4096(
    store: Store, tiny_model_path: Path
) -> None:
    rub = rubric(RUBRIC)
    dataset_id = add_dataset(store, rub, ["A."])
    served = store.create_run(
        dataset_id=dataset_id, rubric=rub, model_name="judge", model_path="http://127.0.0.1:9",
        model_fingerprint="served-v1:x", fingerprint_kind="served-v1", settings=RunSettings(),
        total_items=1, server_url="http://127.0.0.1:9")
    with pytest.raises(ModelError, match="sets its own context size"):
        resume_run(store, served.id, retry_too_long=True, n_ctx=8192)
    assert rope_notice(tiny_model_path, 4096, 8192) is not None
    assert rope_notice(tiny_model_path, 2048, 4096) is None
    assert rope_notice(tiny_model_path, 8192, 16384) is None


def store_run(run_id: int) -> RunRecord:
    with open_store() as opened:
        return opened.get_run(run_id)


def test_cli_counts_too_long_skips_and_retries_them(
    capsys: pytest.CaptureFixture[str], tiny_model_path: Path, tmp_path: Path
) -> None:
    data = write_csv(tmp_path / "long.csv", ["query", "response"],
                     [["Q1?", "Short."], ["Q2?", LONG], ["Q3?", "Short too."]])
    code = main(["run", "--model", str(tiny_model_path), "--rubric", RUBRIC, "--data",
                 str(data), "--n-ctx", str(SMALL_CTX), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = json.loads(captured.out)
    run_id = summary["run_id"]
    assert (summary["skipped_now"], summary["too_long_now"], summary["skipped_too_long"]) == (
        1, 1, 1)
    retry = f"flowjudge runs resume {run_id} --retry-skipped --n-ctx 8192"
    assert "2 judged, 0 reused, 1 skipped (1 too long) in" in captured.err
    assert f"1 item was skipped as too long for the context of {SMALL_CTX} tokens; judge " \
           f"it with a larger one: '{retry}'." in captured.err

    assert main(["runs", "show", str(run_id)]) == 0
    shown = capsys.readouterr().out
    assert "skipped_too_long: 1" in shown and retry in shown
    assert main(["runs", "list"]) == 0
    listed = capsys.readouterr().out
    assert "1 (1 too long)" in listed and "--retry-skipped" in listed
    assert main(["stats", str(run_id)]) == 0
    assert "1 skipped (1 too long for the context)" in capsys.readouterr().out
    report = tmp_path / "report.html"
    assert main(["export", str(run_id), "--format", "html", "--out", str(report)]) == 0
    assert "1 skipped, 1 of them too long for the context)" in report.read_text("utf-8")
    capsys.readouterr()

    assert main(["runs", "resume", str(run_id), "--retry-skipped"]) == 2
    err = capsys.readouterr().err
    assert ("same or a smaller context would skip them again; give a larger one with --n-ctx "
            "8192.") in err
    assert "Traceback" not in err

    assert main(["runs", "resume", str(run_id), "--retry-skipped", "--n-ctx", "8192",
                 "--server", "http://127.0.0.1:9"]) == 2
    assert "drop --server" in capsys.readouterr().err

    # A retry with a context still too small: the hint names the context it tried.
    assert main(["runs", "resume", str(run_id), "--retry-skipped", "--n-ctx", "2100"]) == 0
    err = capsys.readouterr().err
    assert ("1 item was skipped as too long for the context of 2100 tokens; judge it with "
            f"a larger one: '{retry}'.") in err
    assert f"context of {SMALL_CTX} tokens" not in err
    # The run now says the context its retry used, and a retry must go beyond it.
    assert main(["runs", "show", str(run_id), "--json"]) == 0
    shown_json = json.loads(capsys.readouterr().out)
    assert (shown_json["n_ctx"], shown_json["retry_n_ctx"]) == (2100, 2100)
    assert shown_json["settings"]["load"]["n_ctx"] == SMALL_CTX
    assert main(["runs", "show", str(run_id)]) == 0
    assert "context of 2100 tokens" in capsys.readouterr().out
    assert main(["stats", str(run_id)]) == 0
    assert "context of 2100 tokens" in capsys.readouterr().out
    assert main(["runs", "resume", str(run_id), "--retry-skipped", "--n-ctx", "2090"]) == 2
    assert "skipped those items with a context of 2100 tokens" in capsys.readouterr().err
    assert store_run(run_id).skipped_too_long == 1

    assert main(["runs", "resume", str(run_id), "--retry-skipped", "--n-ctx", "8192",
                 "--json"]) == 0
    captured = capsys.readouterr()
    resumed = json.loads(captured.out)
    assert (resumed["judged_now"], resumed["skipped"], resumed["skipped_too_long"]) == (1, 0, 0)
    assert captured.err.count("long-context RoPE factors") == 1
    assert "too long for the context" not in captured.err


def test_the_stored_reason_is_neutral_and_each_front_end_says_how_to_fix_it(
    store: Store, capsys: pytest.CaptureFixture[str], tiny_model_path: Path
) -> None:
    """The skip reason says what happened with the sizes, and no front end's wording: the CLI
    adds its --n-ctx, the app its judge settings (spot check) and its Runs key (Review)."""
    from flowjudge_tui.errors import PromptTooLongError
    from flowjudge_tui.tui.review_rows import describe_entry
    from flowjudge_tui.tui.worker_errors import describe_error

    run_id = small_context_run(store, tiny_model_path)
    resume_run(store, run_id)
    [entry] = [e for e in store.judged_items(run_id) if e.verdict.stop_reason == TOO_LONG]
    reason = entry.verdict.skip_reason or ""
    assert reason.startswith("The item is too long to judge: its prompt is ")
    assert reason.endswith(f"but the context holds {SMALL_CTX} tokens.")
    assert "--n-ctx" not in reason and "8192" not in reason
    assert "`l` on the Runs screen" in describe_entry(entry, "response")

    error = PromptTooLongError(5000, 64, 4096)
    assert "--n-ctx" not in describe_error(error)
    assert "Raise the context size in the judge settings" in describe_error(error)

    code = main(["judge", "--model", str(tiny_model_path), "--rubric", RUBRIC, "--n-ctx",
                 "512", "--input", "query=Why?", "--output", LONG])
    err = capsys.readouterr().err
    assert code == 2
    assert "but the context holds 512 tokens. Judge it with a larger --n-ctx (up to 131072" \
        in err
    assert "(up to 8192)" not in err


def test_a_retry_offers_the_runs_started_with_it_and_judges_them_together(
    capsys: pytest.CaptureFixture[str], tiny_model_path: Path, tmp_path: Path
) -> None:
    """Runs started together (one per rubric over one file) share too-long items: retrying
    one names the others and the command that retries them all together."""
    data = write_csv(tmp_path / "long.csv", ["query", "response"],
                     [["Q1?", "Short."], ["Q2?", LONG]])
    assert main(["run", "--model", str(tiny_model_path), "--rubric", RUBRIC, "--rubric",
                 "relevance-query-3", "--data", str(data), "--n-ctx", str(SMALL_CTX),
                 "--json"]) == 0
    first, second = (entry["run_id"] for entry in json.loads(capsys.readouterr().out))
    with open_store() as opened:
        runs = [opened.get_run(first), opened.get_run(second)]
        assert [run.started_with for run in runs] == [first, first]
        assert [run.skipped_too_long for run in runs] == [1, 1]
        assert [r.id for r in retry_companions(opened, runs[1])] == [first]

    assert main(["runs", "resume", str(first), "--retry-skipped", "--n-ctx", "4096"]) == 0
    err = capsys.readouterr().err
    assert (f"Run {second}, started together with it, skipped 1 more item as too long for "
            "the context; to judge them together (sharing prompt prefixes), retry with "
            f"'flowjudge runs resume {first} {second} --retry-skipped --n-ctx 4096'.") in err
    assert store_run(second).skipped_too_long == 1  # offered, not done behind the back
    assert main(["runs", "resume", str(second), "--retry-skipped", "--n-ctx", "4096"]) == 0
    assert "started together" not in capsys.readouterr().err  # run 1 has none left
    assert store_run(second).skipped_too_long == 0


def test_a_run_made_alone_has_no_companions(store: Store, tiny_model_path: Path) -> None:
    run_id = small_context_run(store, tiny_model_path)
    resume_run(store, run_id)
    run = store.get_run(run_id)
    assert run.started_with is None and retry_companions(store, run) == []
