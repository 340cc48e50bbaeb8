"""The memory plan: how many layers go on the GPU, and which KV cache, for a memory budget.

llama.cpp's own fitting (``--fit``) is not reachable from llama-cpp-python, so the plan is
computed here from the model's tensor sizes (read from the GGUF header, or estimated from the
catalog's shape and file size before download) and the arithmetic in FLOW_JUDGE_FACTS.md:

* KV cache per token = n_layer x (n_embd_k_gqa + n_embd_v_gqa) x bytes per element
  (f16 2, q8_0 34/32, q4_0 18/32): 384 / 204 / 108 KiB for Flow-Judge.
* Compute buffer: the larger of the logits (n_vocab x n_ubatch floats) and, without flash
  attention, the attention scores (n_ctx x n_ubatch x n_head floats), plus the FFN activations.
* A fixed GPU runtime cost (CUDA context, cuBLAS) and a reserve for the desktop.

Predicted RAM counts what must stay resident; a process's RSS can show more, because the model
file is memory-mapped and pages read while loading stay mapped until the kernel needs them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from flowjudge_tui.engine.hardware import Hardware, probe_hardware
from flowjudge_tui.judging.backend import DEFAULT_N_CTX, KVCacheType, LoadSettings

if TYPE_CHECKING:
    from flowjudge_tui.models.catalog import CatalogEntry
    from flowjudge_tui.models.gguf_file import GGUFInfo

__all__ = ["Budget", "ModelMemory", "Plan", "fallback_plans", "load_plans", "parallel_steps",
           "plan_memory", "probe_hardware", "size_parallel"]

MIB = 1024 * 1024
GPU_RUNTIME_MIB = 160
HOST_RUNTIME_MIB = 300
DESKTOP_RESERVE_MIB = 384
HOST_IO_MIB = 16  # pinned host buffers for inputs and logits when every layer is on the GPU
# More sequences than this gain little (decode stops being memory-bound, and on a CPU the
# prompt, which batching does not speed up, dominates), and from 4 on llama.cpp's CPU kernels
# compute a step of several sequences differently from a single one, so a verdict would depend
# on what it was batched with (bench/RESULTS.md section 5). --parallel still asks for more.
MAX_PARALLEL = 3
KV_BYTES_PER_ELEMENT: dict[KVCacheType, float] = {"f16": 2.0, "q8_0": 34 / 32, "q4_0": 18 / 32}
_SMALLER_KV: dict[KVCacheType, tuple[KVCacheType, ...]] = {
    "f16": ("q8_0", "q4_0"), "q8_0": ("q4_0",), "q4_0": ()}
_LAYER = re.compile(r"^blk\.(\d+)\.")


@dataclass(frozen=True)
class ModelMemory:
    """What the planner needs to know about one model file."""

    name: str
    n_layer: int
    n_head: int
    n_head_kv: int
    n_embd_head_k: int
    n_embd_head_v: int
    n_ff: int
    n_vocab: int
    layer_bytes: tuple[int, ...]
    output_bytes: int
    input_bytes: int
    exact: bool

    @classmethod
    def from_gguf(cls, info: GGUFInfo) -> ModelMemory:
        """Sizes from the file's own tensor table (exact)."""
        layers = [0] * info.block_count
        output = token_embd = 0
        has_output = False
        for tensor in info.tensors:
            match = _LAYER.match(tensor.name)
            if match and int(match.group(1)) < len(layers):
                layers[int(match.group(1))] += tensor.n_bytes
            elif tensor.name.startswith("token_embd."):
                token_embd += tensor.n_bytes
            else:
                output += tensor.n_bytes
                has_output = has_output or tensor.name == "output.weight"
        if not has_output:
            output += token_embd  # tied embeddings: llama.cpp copies them to the output device
        return cls(
            name=info.path.name, n_layer=info.block_count, n_head=info.head_count,
            n_head_kv=info.head_count_kv, n_embd_head_k=info.key_length,
            n_embd_head_v=info.value_length, n_ff=info.feed_forward_length,
            n_vocab=info.vocab_size, layer_bytes=tuple(layers), output_bytes=output,
            input_bytes=token_embd, exact=True,
        )

    @classmethod
    def from_catalog(cls, entry: CatalogEntry) -> ModelMemory:
        """Sizes estimated from the shape, spreading the file size evenly over the parameters."""
        s = entry.shape
        head = s.n_embd // s.n_head
        qkv = s.n_embd * (s.n_embd + 2 * s.n_head_kv * head)
        per_layer = qkv + s.n_embd * s.n_embd + 3 * s.n_embd * s.n_ff + 2 * s.n_embd
        embedding = s.n_vocab * s.n_embd
        total = s.n_layer * per_layer + 2 * embedding + s.n_embd
        per_param = entry.size_bytes / total
        return cls(
            name=entry.name, n_layer=s.n_layer, n_head=s.n_head, n_head_kv=s.n_head_kv,
            n_embd_head_k=head, n_embd_head_v=head, n_ff=s.n_ff, n_vocab=s.n_vocab,
            layer_bytes=(round(per_layer * per_param),) * s.n_layer,
            output_bytes=round((embedding + s.n_embd) * per_param),
            input_bytes=round(embedding * per_param), exact=False,
        )

    def kv_bytes_per_token(self, type_k: KVCacheType, type_v: KVCacheType, layers: int) -> float:
        k = self.n_embd_head_k * self.n_head_kv * KV_BYTES_PER_ELEMENT[type_k]
        v = self.n_embd_head_v * self.n_head_kv * KV_BYTES_PER_ELEMENT[type_v]
        return layers * (k + v)

    def compute_bytes(self, n_ctx: int, n_ubatch: int, flash_attn: bool) -> int:
        logits = self.n_vocab * n_ubatch * 4
        scores = 0 if flash_attn else n_ctx * n_ubatch * self.n_head * 4
        return max(logits, scores) + 2 * self.n_ff * n_ubatch * 4


@dataclass(frozen=True)
class Budget:
    """The memory a plan may use, in MiB; ``vram_mib`` 0 means CPU only.

    A ``vram_mib`` given by hand is taken as a card's whole memory, so room is kept for the
    desktop (``DESKTOP_RESERVE_MIB``); a probed budget is already the free memory, and keeps
    only a margin for fragmentation and other programs' growth.
    """

    vram_mib: int
    ram_mib: int
    n_threads: int
    gpu_name: str = ""
    vram_reserve_mib: int | None = None

    @classmethod
    def from_hardware(
        cls, hardware: Hardware, vram_mib: int | None = None, ram_mib: int | None = None
    ) -> Budget:
        """Free memory of the best GPU and available RAM, unless given explicitly."""
        gpu = hardware.best_gpu
        reserve = None
        if vram_mib is None:
            vram_mib = gpu.free_mib if gpu is not None else 0
            reserve = max(128, vram_mib // 20)
        name = (gpu.description or gpu.name) if gpu is not None else ""
        return cls(vram_mib, ram_mib if ram_mib is not None else hardware.ram_available_mib,
                   hardware.physical_cores, name, reserve)

    @property
    def usable_vram_mib(self) -> int:
        reserve = self.vram_reserve_mib
        if reserve is None:
            reserve = DESKTOP_RESERVE_MIB + self.vram_mib // 20
        return self.vram_mib - reserve

    @property
    def usable_ram_mib(self) -> int:
        return self.ram_mib - max(512, self.ram_mib // 10)


@dataclass(frozen=True)
class Plan:
    """One way to load a model, with the memory it is predicted to take."""

    load: LoadSettings
    predicted_vram_mib: int
    predicted_ram_mib: int
    explanation: str
    fits: bool = True
    parallel_explanation: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self.load), "predicted_vram_mib": self.predicted_vram_mib,
                "predicted_ram_mib": self.predicted_ram_mib, "fits": self.fits,
                "explanation": self.explanation,
                "n_parallel_explanation": self.parallel_explanation}


def plan_memory(model: ModelMemory, budget: Budget, n_ctx: int = DEFAULT_N_CTX) -> Plan:
    """The best plan that fits ``budget``: all layers on the GPU with the least KV
    quantization that fits, else as many layers as fit with a q8_0 cache, else CPU only."""
    full = model.n_layer + 1
    if budget.vram_mib > 0:
        for kv in ("f16", "q8_0", "q4_0"):
            plan = _predict(model, budget, _settings(budget, n_ctx, full, kv))
            if plan.fits:
                return _explained(plan, model, budget)
        per_layer = _predict(model, budget, _settings(budget, n_ctx, 1, "q8_0"))
        base = per_layer.predicted_vram_mib - _layer_mib(model, per_layer.load)
        layers = min(model.n_layer, max(0, int(
            (budget.usable_vram_mib - base) // max(1.0, _layer_mib(model, per_layer.load)))))
        while layers > 0:
            plan = _predict(model, budget, _settings(budget, n_ctx, layers, "q8_0"))
            if plan.fits:
                return _explained(plan, model, budget)
            layers -= 1
    return _explained(_cpu_plan(model, budget, n_ctx), model, budget)


def fallback_plans(model: ModelMemory, plan: Plan, budget: Budget) -> list[Plan]:
    """Smaller plans to step down through, in order, when loading ``plan`` fails for memory:
    a smaller KV cache, then three quarters and half of the GPU layers, then the CPU alone."""
    load = plan.load
    steps = [replace(load, type_k=kv, type_v=kv, flash_attn=True)
             for kv in _SMALLER_KV[load.type_k]]
    if load.n_gpu_layers > 0:
        small = replace(load, type_k="q4_0", type_v="q4_0", flash_attn=True)
        for share in (3, 2):
            layers = min(load.n_gpu_layers, model.n_layer) * share // 4
            if 0 < layers < load.n_gpu_layers:
                steps.append(replace(small, n_gpu_layers=layers))
        steps.append(_cpu_plan(model, budget, load.n_ctx).load)
    return [_explained(_predict(model, budget, step), model, budget, fallback=True)
            for step in dict.fromkeys(steps) if step != load]


def load_plans(model: ModelMemory, budget: Budget, n_ctx: int = DEFAULT_N_CTX,
               n_parallel: int | None = None) -> list[Plan]:
    """The plan for ``budget`` followed by its fallbacks: what the loader tries, in order.

    The first plan decodes as many sequences as fit (``size_parallel``), or ``n_parallel``;
    if that load fails it steps down to fewer sequences, then to one, then to the smaller
    plans (each with one sequence).
    """
    base = plan_memory(model, budget, n_ctx)
    count = size_parallel(model, budget, base, n_parallel).load.n_parallel
    return [*parallel_steps(model, budget, base, count), *fallback_plans(model, base, budget)]


def size_parallel(model: ModelMemory, budget: Budget, plan: Plan,
                  n_parallel: int | None = None) -> Plan:
    """``plan`` with as many parallel sequences as the memory left after it holds.

    Each sequence beyond the first needs one more KV cache of ``n_ctx`` tokens (its GPU
    layers' share in VRAM, the rest in RAM); weights and compute buffers are shared.
    """
    load = plan.load
    on_gpu = min(load.n_gpu_layers, model.n_layer)
    per_token = model.kv_bytes_per_token(load.type_k, load.type_v, model.n_layer)
    gpu_seq = model.kv_bytes_per_token(load.type_k, load.type_v, on_gpu) * load.n_ctx / MIB
    ram_seq = per_token * load.n_ctx / MIB - gpu_seq
    room_vram = budget.usable_vram_mib - plan.predicted_vram_mib
    room_ram = budget.usable_ram_mib - plan.predicted_ram_mib
    fits = [MAX_PARALLEL - 1]
    parts = []
    if gpu_seq > 0:
        fits.append(int(max(0, room_vram) // gpu_seq))
        parts.append(f"{max(0, room_vram)} MiB of VRAM left / {gpu_seq:.0f} MiB per sequence")
    if ram_seq > 0:
        fits.append(int(max(0, room_ram) // ram_seq))
        parts.append(f"{max(0, room_ram)} MiB of RAM left / {ram_seq:.0f} MiB per sequence")
    sized = 1 + min(fits) if plan.fits else 1
    chosen = sized if n_parallel is None else max(1, n_parallel)
    text = (f"{sized} sequence{'s' if sized > 1 else ''} of {load.n_ctx} tokens fit: 1 + "
            f"min({MAX_PARALLEL - 1}, " + ", ".join(parts) + ")")
    if chosen != sized:
        text += f"; using {chosen}"
    extra = chosen - 1
    return replace(plan, load=replace(load, n_parallel=chosen),
                   predicted_vram_mib=plan.predicted_vram_mib + round(extra * gpu_seq),
                   predicted_ram_mib=plan.predicted_ram_mib + round(extra * ram_seq),
                   parallel_explanation=text + ".")


def parallel_steps(model: ModelMemory, budget: Budget, base: Plan, count: int) -> list[Plan]:
    """``base`` with each count of ``sequence_counts(count)``."""
    return [size_parallel(model, budget, base, step) for step in sequence_counts(count)]


def sequence_counts(count: int) -> list[int]:
    """The sequence counts a load steps down through when memory fails: ``count``, then half
    as many each time (3 steps to 2), down to one."""
    steps = [count]
    while count > 1:
        count = 2 if count == 3 else count // 2
        steps.append(count)
    return steps


def _settings(budget: Budget, n_ctx: int, layers: int, kv: KVCacheType) -> LoadSettings:
    return LoadSettings(n_ctx=n_ctx, n_gpu_layers=layers, type_k=kv, type_v=kv,
                        flash_attn=True, n_threads=budget.n_threads)


def _cpu_plan(model: ModelMemory, budget: Budget, n_ctx: int) -> Plan:
    """f16 KV without flash attention (the measured default) unless RAM asks for less."""
    options: Sequence[tuple[KVCacheType, bool]] = (("f16", False), ("q8_0", True), ("q4_0", True))
    plan: Plan | None = None
    for kv, flash in options:
        plan = _predict(model, budget, LoadSettings(
            n_ctx=n_ctx, n_gpu_layers=0, type_k=kv, type_v=kv, flash_attn=flash,
            n_threads=budget.n_threads))
        if plan.fits:
            return plan
    assert plan is not None
    return plan


def _layer_mib(model: ModelMemory, load: LoadSettings) -> float:
    weights = sum(model.layer_bytes) / max(1, model.n_layer)
    kv = model.kv_bytes_per_token(load.type_k, load.type_v, 1) * load.n_ctx
    return (weights + kv) / MIB


def _predict(model: ModelMemory, budget: Budget, load: LoadSettings) -> Plan:
    on_gpu = min(load.n_gpu_layers, model.n_layer)
    output_on_gpu = load.n_gpu_layers > model.n_layer
    gpu_layer_bytes = sum(model.layer_bytes[model.n_layer - on_gpu:]) if on_gpu else 0
    cpu_layer_bytes = sum(model.layer_bytes) - gpu_layer_bytes
    compute = model.compute_bytes(load.n_ctx, load.n_ubatch, load.flash_attn)
    kv_gpu = model.kv_bytes_per_token(load.type_k, load.type_v, on_gpu) * load.n_ctx
    kv_cpu = model.kv_bytes_per_token(load.type_k, load.type_v, model.n_layer - on_gpu) * load.n_ctx
    vram = 0.0
    if load.n_gpu_layers > 0:
        vram = (GPU_RUNTIME_MIB * MIB + gpu_layer_bytes + kv_gpu + compute
                + (model.output_bytes if output_on_gpu else 0))
    all_on_gpu = output_on_gpu and on_gpu == model.n_layer
    host_compute = HOST_IO_MIB * MIB if all_on_gpu else compute
    ram = (HOST_RUNTIME_MIB * MIB + model.input_bytes + cpu_layer_bytes + kv_cpu + host_compute
           + (0 if output_on_gpu else model.output_bytes))
    vram_mib, ram_mib = round(vram / MIB), round(ram / MIB)
    fits = ram_mib <= budget.usable_ram_mib and (
        load.n_gpu_layers == 0 or vram_mib <= budget.usable_vram_mib)
    return Plan(load, vram_mib, ram_mib, "", fits)


def _explained(plan: Plan, model: ModelMemory, budget: Budget, fallback: bool = False) -> Plan:
    load = plan.load
    kv = f"{load.type_k} KV cache" + (", flash attention" if load.flash_attn else "")
    ram = f"about {plan.predicted_ram_mib} MiB of RAM"
    if load.n_gpu_layers > model.n_layer:
        text = (f"all {load.n_gpu_layers} layers on the GPU with a {kv}: about "
                f"{plan.predicted_vram_mib} MiB of the {budget.vram_mib} MiB GPU budget, {ram}")
    elif load.n_gpu_layers > 0:
        text = (f"{load.n_gpu_layers} of {model.n_layer + 1} layers on the GPU with a {kv}: about "
                f"{plan.predicted_vram_mib} MiB of the {budget.vram_mib} MiB GPU budget, "
                f"the rest on the CPU with {ram}")
    else:
        why = "the GPU plans failed" if fallback else "not even one layer fits the GPU"
        if budget.vram_mib <= 0:
            why = "no GPU memory budget" if budget.gpu_name else "no GPU this llama.cpp can use"
        text = f"CPU only ({why}) with a {kv}: {ram} of {budget.ram_mib} MiB available"
    if not plan.fits:
        text += "; this may not fit, so close other programs or choose a smaller model"
    estimate = "" if model.exact else " (estimated from the catalog)"
    text = ("fallback: " if fallback else "") + text + estimate + "."
    return replace(plan, explanation=text[0].upper() + text[1:])
