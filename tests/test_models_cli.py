"""``flowjudge models list|pull|add|plan`` and ``flowjudge doctor``, run in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flowjudge_tui.cli.main import main
from tests import hub_server
from tests.hub_server import FILE, REPO, FakeHub, reload_hub_constants
from tests.model_files import Q, write_small_gguf

fake_hub, hub_env, model_bytes = hub_server.fake_hub, hub_server.hub_env, hub_server.model_bytes


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    code, out, err = run(capsys, *argv, "--json")
    assert code in (0, 1), err
    return json.loads(out)


def refusal(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """The command fails with exit status 2 and one line on stderr, never a traceback."""
    code, _, err = run(capsys, *argv)
    assert code == 2 and "Traceback" not in err
    assert err.startswith("flowjudge: ") and err.count("\n") == 1
    return err


def test_list_shows_the_catalog_before_anything_is_downloaded(
    capsys: pytest.CaptureFixture[str],
) -> None:
    models = run_json(capsys, "models", "list")
    assert isinstance(models, list)
    by_name = {m["name"]: m for m in models}
    assert {"Q4_K_M", "bf16", "Q2_K", "Q5_K_M", "Q8_0", "Q4_0", "Q4_1"} <= set(by_name)
    assert by_name["Q4_K_M"]["default"] and by_name["Q4_K_M"]["source"] == "official"
    assert all(m["downloaded"] is False and m["path"] is None for m in models)
    code, out, _ = run(capsys, "models", "list")
    assert code == 0 and "Q4_K_M *" in out and "not downloaded" in out


def test_add_registers_a_checked_gguf_by_name(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from flowjudge_tui.models.installed import resolve_model_path

    path = write_small_gguf(tmp_path / "my-judge.gguf")
    code, out, _ = run(capsys, "models", "add", str(path), "--name", "mine")
    assert code == 0 and "Added 'mine' (phi3" in out
    local = {m["name"]: m for m in run_json(capsys, "models", "list")}["mine"]  # type: ignore
    assert (local["source"], local["downloaded"], local["path"]) == ("local", True, str(path))
    assert resolve_model_path("mine") == path

    notes = tmp_path / "notes.gguf"
    notes.write_text("not a model at all, just some words")
    assert "is not a GGUF model file" in refusal(capsys, "models", "add", str(notes))
    assert "is a catalog model name" in refusal(
        capsys, "models", "add", str(path), "--name", "Q4_K_M")


def test_plan_for_the_default_model_on_a_4_gib_card(capsys: pytest.CaptureFixture[str]) -> None:
    plan = run_json(capsys, "models", "plan", "--vram-mib", "4096", "--ram-mib", "16000")
    assert isinstance(plan, dict)
    assert (plan["model"], plan["exact"], plan["n_gpu_layers"], plan["n_ctx"]) == (
        "Q4_K_M", False, 33, 4096)
    assert (plan["type_k"], plan["type_v"], plan["flash_attn"]) == ("q8_0", "q8_0", True)
    assert plan["predicted_vram_mib"] <= 3584 and plan["predicted_ram_mib"] > 0
    assert plan["fallbacks"][-1]["n_gpu_layers"] == 0
    assert plan["n_parallel"] == 1 and plan["n_parallel_explanation"].startswith(
        "1 sequence of 4096 tokens fit: 1 + min(2, 217 MiB of VRAM left / 816 MiB per sequence")
    roomy = run_json(capsys, "models", "plan", "--vram-mib", "0", "--ram-mib", "16384")
    assert isinstance(roomy, dict) and roomy["n_parallel"] == 3
    assert [f["n_parallel"] for f in roomy["fallbacks"][:2]] == [2, 1]  # 3, then 2, then 1
    cpu = run_json(capsys, "models", "plan", "--vram-mib", "0")
    assert isinstance(cpu, dict) and cpu["n_gpu_layers"] == 0
    code, out, _ = run(capsys, "models", "plan", "--vram-mib", "2048")
    assert code == 0 and "of 33 layers on the GPU" in out and "if that fails: CPU only" in out


def test_plan_for_a_file_uses_its_own_tensors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write_small_gguf(tmp_path / "small.gguf", matrix_type=Q.Q8_0)
    plan = run_json(capsys, "models", "plan", "--model", str(path), "--vram-mib", "1024")
    assert isinstance(plan, dict)
    assert (plan["model"], plan["exact"], plan["n_gpu_layers"]) == ("small.gguf", True, 3)
    assert "There is no model called 'Q2_K_typo'" in refusal(
        capsys, "models", "plan", "--model", "Q2_K_typo")


def test_pull_shows_progress_then_the_model_is_verified(
    capsys: pytest.CaptureFixture[str], hub_env: Path, fake_hub: FakeHub,
    model_bytes: bytes,
) -> None:
    fake_hub.serve(REPO, FILE, model_bytes)
    code, out, err = run(capsys, "models", "pull", "tiny")
    assert code == 0, err
    assert "tiny: downloaded and verified" in out
    assert "Downloading tiny" in err and "100.0%" in err and "Verifying tiny" in err
    tiny = {m["name"]: m for m in run_json(capsys, "models", "list")}["tiny"]  # type: ignore
    assert (tiny["downloaded"], tiny["verified"]) == (True, True)
    code, out, _ = run(capsys, "models", "pull", "tiny")
    assert code == 0 and "already downloaded and verified" in out


def test_pull_without_a_hub_is_one_sentence(
    capsys: pytest.CaptureFixture[str], hub_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    reload_hub_constants()
    assert "Cannot download tiny-judge-Q8_0.gguf" in refusal(capsys, "models", "pull", "tiny")
    assert "Cannot download flow-judge-v0.1-Q4_K_M.gguf" in refusal(capsys, "models", "pull")


def test_doctor_reports_on_one_screen(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    report = run_json(capsys, "doctor", "--ram-mib", "16000")
    assert isinstance(report, dict)
    assert report["llama_cpp"]["version"] and isinstance(report["llama_cpp"]["gpu_offload"], bool)
    assert report["plan"]["n_ctx"] == 4096
    assert any("No judge model is on this machine" in p for p in report["problems"])
    write_small_gguf(tmp_path / "j.gguf")
    assert run(capsys, "models", "add", str(tmp_path / "j.gguf"))[0] == 0
    code, out, _ = run(capsys, "doctor", "--ram-mib", "16000")
    assert "No judge model" not in out and "models     j (local)" in out
    assert out.count("\n") < 25
    assert code == (1 if "problem:" in out else 0)


def test_add_warns_in_one_line_about_a_file_that_is_not_flow_judge(
    capsys: pytest.CaptureFixture[str], gemma_model_path: Path, tmp_path: Path
) -> None:
    """A gemma3 file was added without a word; a Flow-Judge-like phi3 file still gets none."""
    code, out, err = run(capsys, "models", "add", str(gemma_model_path), "--name", "gemma")
    assert code == 0 and "Added 'gemma' (gemma3" in out
    assert err == (
        f"flowjudge: warning: {gemma_model_path.name} is a gemma3 model, not Flow-Judge's "
        "phi3: its scores may be unreliable (Flow-Judge is a fine-tuned Phi-3.5-mini), and "
        "it has no chat template, so Flow-Judge's Phi-3 prompt wrapper is used.\n")
    phi3 = write_small_gguf(tmp_path / "judge.gguf")
    code, _, err = run(capsys, "models", "add", str(phi3), "--name", "phi3-no-template")
    assert code == 0
    assert err == ("flowjudge: warning: judge.gguf is a phi3 model: its scores may be "
                   "unreliable (Flow-Judge is a fine-tuned Phi-3.5-mini), and it has no chat "
                   "template, so Flow-Judge's Phi-3 prompt wrapper is used.\n")
