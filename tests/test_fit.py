"""The memory plan against the arithmetic of FLOW_JUDGE_FACTS.md, from the catalog's shape and
from real GGUF tensor tables (Flow-Judge's exact one, and small complete files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowjudge_tui.engine.fit import (
    Budget,
    ModelMemory,
    fallback_plans,
    load_plans,
    plan_memory,
    probe_hardware,
)
from flowjudge_tui.engine.hardware import GPU, Hardware
from flowjudge_tui.models.catalog import find_entry
from flowjudge_tui.models.gguf_file import read_gguf
from tests.model_files import Q, write_flow_judge_header, write_small_gguf

MIB = 1024 * 1024
GIB = 1024


def catalog_model(name: str) -> ModelMemory:
    entry = find_entry(name)
    assert entry is not None
    return ModelMemory.from_catalog(entry)


@pytest.fixture(scope="module")
def header_model(tmp_path_factory: pytest.TempPathFactory) -> ModelMemory:
    path = write_flow_judge_header(tmp_path_factory.mktemp("fj") / "flow-judge-v0.1-Q4_K_M.gguf")
    return ModelMemory.from_gguf(read_gguf(path))


def budget(vram_mib: int, ram_mib: int = 16 * GIB) -> Budget:
    return Budget(vram_mib=vram_mib, ram_mib=ram_mib, n_threads=2)


def test_kv_cache_per_token_matches_the_facts() -> None:
    model = catalog_model("Q4_K_M")
    per_token = {kv: model.kv_bytes_per_token(kv, kv, model.n_layer) / 1024
                 for kv in ("f16", "q8_0", "q4_0")}
    assert per_token == {"f16": 384, "q8_0": 204, "q4_0": 108}
    assert {kv: v * 4096 / 1024 for kv, v in per_token.items()} == {
        "f16": 1536, "q8_0": 816, "q4_0": 432}


def test_compute_buffers_are_close_to_the_measured_ones() -> None:
    model = catalog_model("Q4_K_M")
    assert model.compute_bytes(4096, 512, flash_attn=True) / MIB == pytest.approx(91, rel=0.1)
    assert model.compute_bytes(4096, 512, flash_attn=False) / MIB == pytest.approx(294, rel=0.1)


def test_flow_judge_tensor_sizes_match_the_facts(header_model: ModelMemory) -> None:
    layers = [b / MIB for b in header_model.layer_bytes]
    assert len(layers) == 32 and min(layers) > 60 and max(layers) < 75
    on_gpu = (sum(header_model.layer_bytes) + header_model.output_bytes) / MIB
    assert on_gpu == pytest.approx(2232, rel=0.01)
    estimated = catalog_model("Q4_K_M")
    assert (sum(estimated.layer_bytes) + estimated.output_bytes) / MIB == pytest.approx(
        on_gpu, rel=0.02)


@pytest.mark.parametrize("source", ["catalog", "header"])
def test_a_4_gib_card_takes_all_layers_with_a_q8_0_cache(
    source: str, header_model: ModelMemory
) -> None:
    model = catalog_model("Q4_K_M") if source == "catalog" else header_model
    plan = plan_memory(model, budget(4096))
    load = plan.load
    assert (load.n_gpu_layers, load.n_ctx, load.flash_attn) == (33, 4096, True)
    assert (load.type_k, load.type_v) == ("q8_0", "q8_0")
    assert plan.fits and plan.predicted_vram_mib <= 3.5 * GIB
    assert plan.predicted_vram_mib == pytest.approx(3.15 * GIB, rel=0.05)
    assert plan.explanation.startswith("All 33 layers on the GPU with a q8_0 KV cache")


def test_a_2_gib_card_takes_part_of_the_model() -> None:
    plan = plan_memory(catalog_model("Q4_K_M"), budget(2048))
    assert 0 < plan.load.n_gpu_layers < 32
    assert plan.predicted_vram_mib <= 2048 and plan.fits
    assert plan.load.type_v != "f16" and plan.load.flash_attn
    assert f"{plan.load.n_gpu_layers} of 33 layers on the GPU" in plan.explanation


def test_no_gpu_means_cpu_only() -> None:
    plan = plan_memory(catalog_model("Q4_K_M"), budget(0))
    assert plan.load.n_gpu_layers == 0 and plan.predicted_vram_mib == 0
    assert plan.load.type_k == "f16" and plan.fits
    assert plan.explanation.startswith("CPU only")


def test_bigger_quantizations_follow_the_facts() -> None:
    q5 = plan_memory(catalog_model("Q5_K_M"), budget(4096))
    assert (q5.load.n_gpu_layers, q5.load.type_k) == (33, "q4_0")
    q8 = plan_memory(catalog_model("Q8_0"), budget(4096))
    assert 0 < q8.load.n_gpu_layers < 33
    roomy = plan_memory(catalog_model("Q4_K_M"), budget(8192))
    assert (roomy.load.n_gpu_layers, roomy.load.type_k) == (33, "f16")


def test_fallbacks_step_down_to_the_cpu() -> None:
    model = catalog_model("Q4_K_M")
    plans = load_plans(model, budget(4096))
    first, *rest = plans
    assert rest == fallback_plans(model, first, budget(4096))
    vram = [p.predicted_vram_mib for p in plans]
    assert vram == sorted(vram, reverse=True) and len(set(vram)) == len(vram)
    assert (rest[0].load.n_gpu_layers, rest[0].load.type_k) == (33, "q4_0")
    assert rest[-1].load.n_gpu_layers == 0
    assert all(p.load.flash_attn for p in plans if p.load.type_v != "f16")
    assert all(p.explanation.startswith("Fallback: ") for p in rest)


def test_too_little_ram_picks_a_smaller_cache_and_says_when_nothing_fits() -> None:
    model = catalog_model("Q4_K_M")
    tight = plan_memory(model, budget(0, ram_mib=4500))
    assert (tight.load.type_k, tight.load.flash_attn, tight.fits) == ("q8_0", True, True)
    hopeless = plan_memory(model, budget(0, ram_mib=2000))
    assert not hopeless.fits and "this may not fit" in hopeless.explanation


def test_sizes_come_from_the_files_own_tensors(tmp_path: Path) -> None:
    path = write_small_gguf(tmp_path / "small.gguf", matrix_type=Q.Q8_0)
    model = ModelMemory.from_gguf(read_gguf(path))

    def q8(rows: int, cols: int) -> int:
        return rows * cols * 34 // 32

    layer = 2 * 64 * 4 + q8(192, 64) + q8(64, 64) + q8(256, 64) + q8(64, 128)
    assert model.layer_bytes == (layer, layer)
    assert (model.input_bytes, model.output_bytes) == (q8(96, 64), q8(96, 64) + 64 * 4)
    assert (model.n_head, model.n_head_kv, model.n_embd_head_k, model.n_vocab) == (4, 4, 16, 96)
    tied = ModelMemory.from_gguf(read_gguf(
        write_small_gguf(tmp_path / "tied.gguf", matrix_type=Q.Q8_0, tied=True)))
    assert tied.output_bytes == q8(96, 64) + 64 * 4
    plan = plan_memory(model, budget(1024))
    assert plan.load.n_gpu_layers == 3 and plan.load.type_k == "f16"


def test_the_probe_never_fails(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    hardware = probe_hardware()
    assert hardware.ram_total_mib > 0 and hardware.physical_cores >= 1
    monkeypatch.setenv("LLAMA_CPP_LIB_PATH", str(tmp_path))
    without = probe_hardware()
    assert without.gpus == () and without.problems


def test_a_probed_gpu_budget_is_its_free_memory() -> None:
    card = GPU("CUDA0", "NVIDIA GeForce GTX 1650", total_mib=4096, free_mib=3700)
    hardware = Hardware(gpus=(card,), ram_total_mib=16000, ram_available_mib=12000,
                        physical_cores=4)
    probed = Budget.from_hardware(hardware)
    assert (probed.vram_mib, probed.ram_mib, probed.n_threads) == (3700, 12000, 4)
    assert probed.usable_vram_mib == 3700 - 185
    plan = plan_memory(catalog_model("Q4_K_M"), probed)
    assert plan.load.n_gpu_layers == 33 and plan.load.n_threads == 4
    assert Budget.from_hardware(hardware, vram_mib=0).vram_mib == 0


def test_a_plan_reads_as_json() -> None:
    data = plan_memory(catalog_model("Q4_K_M"), budget(4096)).as_dict()
    for key in ("n_gpu_layers", "n_ctx", "type_k", "type_v", "flash_attn",
                "predicted_vram_mib", "predicted_ram_mib", "n_batch", "n_ubatch", "n_threads"):
        assert key in data


@pytest.mark.parametrize(("vram_mib", "ram_mib", "expected"), [
    (4096, 16 * GIB, 1),   # 217 MiB left after the q8_0 plan; a sequence needs 816 MiB more
    (2048, 16 * GIB, 1),   # the layers fill the card: no VRAM for another sequence's cache
    (0, 16 * GIB, 3),      # CPU: 1536 MiB of f16 KV per sequence, RAM holds the cap of 3
    (0, 8 * GIB, 2),       # CPU with 8 GiB: 1 + 2970 MiB left // 1536 MiB per sequence
    (8192, 16 * GIB, 3),   # 8 GiB card, f16 KV: 1 + 3388 MiB left // 1536 MiB per sequence
])
def test_the_plan_sizes_the_parallel_sequences(vram_mib: int, ram_mib: int,
                                               expected: int) -> None:
    model = catalog_model("Q4_K_M")
    plans = load_plans(model, budget(vram_mib, ram_mib))
    first = plans[0]
    assert first.load.n_parallel == expected
    assert first.parallel_explanation.startswith(
        f"{expected} sequence{'s' if expected > 1 else ''} of 4096 tokens fit: 1 + min(2, ")
    one = plan_memory(model, budget(vram_mib, ram_mib))
    kv = model.kv_bytes_per_token(one.load.type_k, one.load.type_v, model.n_layer) * 4096
    extra = (expected - 1) * kv / MIB
    assert (first.predicted_vram_mib + first.predicted_ram_mib) == pytest.approx(
        one.predicted_vram_mib + one.predicted_ram_mib + extra, abs=2)
    # A load that fails steps down to fewer sequences (3, 2, 1), then smaller plans.
    counts = [p.load.n_parallel for p in plans]
    steps = list(range(expected, 0, -1))
    assert counts[: len(steps)] == steps and set(counts[len(steps):]) <= {1}
    assert all(p.load.n_parallel == 1 for p in fallback_plans(model, one, budget(vram_mib)))


def test_asking_for_more_sequences_than_fit_says_so() -> None:
    model = catalog_model("Q4_K_M")
    plans = load_plans(model, budget(4096), n_parallel=4)
    assert [p.load.n_parallel for p in plans[:3]] == [4, 2, 1]
    assert plans[0].parallel_explanation.endswith("; using 4.")
    assert plans[0].as_dict()["n_parallel"] == 4


def test_a_failing_load_steps_down_through_fewer_sequences() -> None:
    from flowjudge_tui.engine.fit import sequence_counts

    assert sequence_counts(1) == [1]
    assert sequence_counts(3) == [3, 2, 1]
    assert sequence_counts(4) == [4, 2, 1]
    assert sequence_counts(8) == [8, 4, 2, 1]
