"""What this machine offers a model: GPU memory, RAM and CPU cores.

GPUs are seen through the ggml libraries that llama-cpp-python ships (ctypes, without importing
``llama_cpp``), so a GPU is reported only when this llama.cpp build can use it. NVML is asked
separately, only to tell a user whose CPU-only build hides an NVIDIA GPU. Nothing here raises:
whatever cannot be probed is reported as absent.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

MIB = 1024 * 1024
_GPU_DEVICE_TYPE = 1  # GGML_BACKEND_DEVICE_TYPE_GPU: a GPU with its own memory


@dataclass(frozen=True)
class GPU:
    name: str
    description: str
    total_mib: int
    free_mib: int


@dataclass(frozen=True)
class Hardware:
    gpus: tuple[GPU, ...] = ()
    ram_total_mib: int = 0
    ram_available_mib: int = 0
    physical_cores: int = 1
    problems: tuple[str, ...] = field(default=(), compare=False)

    @property
    def best_gpu(self) -> GPU | None:
        return max(self.gpus, key=lambda g: g.free_mib, default=None)


def probe_hardware() -> Hardware:
    """GPUs this llama.cpp build can use, RAM (total and available) and physical cores."""
    problems: list[str] = []
    try:
        gpus = ggml_gpus()
    except (OSError, AttributeError, ValueError) as exc:
        gpus = ()
        problems.append(f"could not ask ggml for GPUs ({exc})")
    total, available = memory_mib()
    return Hardware(gpus, total, available, physical_cores(), tuple(problems))


def llama_lib_dir() -> Path | None:
    """Where llama-cpp-python keeps its libraries (``LLAMA_CPP_LIB_PATH`` overrides)."""
    override = os.environ.get("LLAMA_CPP_LIB_PATH")
    if override:
        return Path(override)
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "lib"


def _load(directory: Path, base: str) -> ctypes.CDLL:
    names = {"win32": [f"{base}.dll", f"lib{base}.dll"], "darwin": [f"lib{base}.dylib",
             f"lib{base}.so"]}.get(sys.platform, [f"lib{base}.so"])
    for name in names:
        if (directory / name).exists():
            return ctypes.CDLL(str(directory / name), mode=ctypes.RTLD_GLOBAL)
    raise OSError(f"no {base} library in {directory}")


def ggml_gpus() -> tuple[GPU, ...]:
    """Dedicated-memory GPUs registered in this build's ggml backends, with free/total memory."""
    directory = llama_lib_dir()
    if directory is None:
        return ()
    _load(directory, "ggml-base")
    ggml = _load(directory, "ggml")
    ggml.ggml_backend_dev_count.restype = ctypes.c_size_t
    ggml.ggml_backend_dev_get.argtypes = [ctypes.c_size_t]
    ggml.ggml_backend_dev_get.restype = ctypes.c_void_p
    ggml.ggml_backend_dev_type.argtypes = [ctypes.c_void_p]
    ggml.ggml_backend_dev_type.restype = ctypes.c_int
    for text_fn in (ggml.ggml_backend_dev_name, ggml.ggml_backend_dev_description):
        text_fn.argtypes = [ctypes.c_void_p]
        text_fn.restype = ctypes.c_char_p
    ggml.ggml_backend_dev_memory.argtypes = [
        ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t), ctypes.POINTER(ctypes.c_size_t)]
    ggml.ggml_backend_dev_memory.restype = None
    gpus: list[GPU] = []
    for index in range(int(ggml.ggml_backend_dev_count())):
        device = ggml.ggml_backend_dev_get(index)
        if not device or ggml.ggml_backend_dev_type(device) != _GPU_DEVICE_TYPE:
            continue
        free, total = ctypes.c_size_t(0), ctypes.c_size_t(0)
        ggml.ggml_backend_dev_memory(device, ctypes.byref(free), ctypes.byref(total))
        gpus.append(GPU(
            name=_text(ggml.ggml_backend_dev_name(device)),
            description=_text(ggml.ggml_backend_dev_description(device)),
            total_mib=total.value // MIB,
            free_mib=free.value // MIB,
        ))
    return tuple(gpus)


def nvml_gpus() -> tuple[GPU, ...]:
    """NVIDIA GPUs the driver reports, whether or not llama.cpp was built to use them."""
    try:
        nvml = ctypes.CDLL("nvml.dll" if sys.platform == "win32" else "libnvidia-ml.so.1")
        if nvml.nvmlInit_v2() != 0:
            return ()
    except (OSError, AttributeError):
        return ()

    class Memory(ctypes.Structure):
        _fields_ = [("total", ctypes.c_ulonglong), ("free", ctypes.c_ulonglong),
                    ("used", ctypes.c_ulonglong)]

    gpus: list[GPU] = []
    try:
        count = ctypes.c_uint(0)
        if nvml.nvmlDeviceGetCount_v2(ctypes.byref(count)) != 0:
            return ()
        for index in range(count.value):
            handle = ctypes.c_void_p()
            if nvml.nvmlDeviceGetHandleByIndex_v2(index, ctypes.byref(handle)) != 0:
                continue
            name = ctypes.create_string_buffer(96)
            memory = Memory()
            nvml.nvmlDeviceGetName(handle, name, 96)
            if nvml.nvmlDeviceGetMemoryInfo(handle, ctypes.byref(memory)) != 0:
                continue
            gpus.append(GPU(_text(name.value), "NVML", memory.total // MIB, memory.free // MIB))
    finally:
        nvml.nvmlShutdown()
    return tuple(gpus)


def memory_mib() -> tuple[int, int]:
    """Total and available RAM in MiB (available includes reclaimable page cache)."""
    try:
        fields: dict[str, int] = {}
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                key, _, rest = line.partition(":")
                fields[key] = int(rest.split()[0]) // 1024
        return fields["MemTotal"], fields.get("MemAvailable", fields.get("MemFree", 0))
    except (OSError, KeyError, ValueError, IndexError):
        pass
    try:
        page = os.sysconf("SC_PAGE_SIZE")
        total = os.sysconf("SC_PHYS_PAGES") * page // MIB
        available = os.sysconf("SC_AVPHYS_PAGES") * page // MIB
        return total, available
    except (OSError, ValueError, AttributeError):
        return 0, 0


def physical_cores() -> int:
    """Cores this process may run on, counting each hyper-threaded core once."""
    try:
        allowed = sorted(os.sched_getaffinity(0))
    except AttributeError:
        allowed = list(range(os.cpu_count() or 1))
    cores: set[tuple[str, str]] = set()
    for cpu in allowed:
        topology = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            package = (topology / "physical_package_id").read_text().strip()
            core = (topology / "core_id").read_text().strip()
        except OSError:
            cores.add(("cpu", str(cpu)))
            continue
        cores.add((package, core))
    return max(1, len(cores))


def _text(value: bytes | None) -> str:
    return value.decode("utf-8", "replace") if value else ""


def llama_build_info() -> dict[str, object]:
    """llama-cpp-python's version, whether it can offload to a GPU, and llama.cpp's build line;
    ``version`` is None (and ``error`` says why) when it cannot be imported."""
    try:
        import llama_cpp
    except Exception as exc:  # a broken native build raises more than ImportError
        return {"version": None, "gpu_offload": None, "error": str(exc)}
    system = bytes(llama_cpp.llama_print_system_info()).decode("utf-8", "replace").strip()
    return {"version": str(llama_cpp.__version__),
            "gpu_offload": bool(llama_cpp.llama_supports_gpu_offload()),
            "system_info": system}
