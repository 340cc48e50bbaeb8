"""Real GGUF files for the model tests, written with the ``gguf`` package's GGUFWriter.

* ``write_small_gguf``: a complete file with real tensor data (kilobytes), of any architecture
  and tensor type, for the header reader, the hub tests and ``models add``.
* ``write_flow_judge_header``: the exact tensor table of Flow-Judge-v0.1 Q4_K_M (Phi-3.5-mini,
  llama.cpp's Q4_K_M type mix) followed by a sparse hole instead of tensor data: a 2.39 GB file
  that takes no disk space, for planning from "the file's own tensor sizes".
"""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np

Q = gguf.GGMLQuantizationType


def _pad(n: int, alignment: int = 32) -> int:
    return -(-n // alignment) * alignment


def _hyperparameters(writer: gguf.GGUFWriter, n_layer: int, n_embd: int, n_head: int,
                     n_ff: int, n_ctx: int) -> None:
    writer.add_context_length(n_ctx)
    writer.add_embedding_length(n_embd)
    writer.add_feed_forward_length(n_ff)
    writer.add_block_count(n_layer)
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_head)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_dimension_count(n_embd // n_head)


def write_small_gguf(path: Path, arch: str = "phi3", n_layer: int = 2, n_embd: int = 64,
                     n_head: int = 4, n_ff: int = 128, n_vocab: int = 96,
                     matrix_type: Q = Q.F32, tied: bool = False) -> Path:
    """A complete, tiny GGUF: random weights, a ``n_vocab``-token vocabulary.

    ``tied``: no output.weight (the output reuses token_embd, as in Gemma).
    """
    rng = np.random.default_rng(0)
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_name(f"test-{arch}")
    _hyperparameters(writer, n_layer, n_embd, n_head, n_ff, 4096)
    writer.add_tokenizer_model("llama")
    writer.add_token_list([f"t{i}" for i in range(n_vocab)])
    writer.add_token_scores([0.0] * n_vocab)
    writer.add_token_types([1] * n_vocab)

    def add(name: str, rows: int, cols: int) -> None:
        data = rng.standard_normal((rows, cols), dtype=np.float32)
        if matrix_type == Q.F32:
            writer.add_tensor(name, data)
        elif matrix_type == Q.F16:
            writer.add_tensor(name, data.astype(np.float16))
        else:
            writer.add_tensor(name, gguf.quants.quantize(data, matrix_type), raw_dtype=matrix_type)

    add("token_embd.weight", n_vocab, n_embd)
    writer.add_tensor("output_norm.weight", np.ones(n_embd, dtype=np.float32))
    if not tied:
        add("output.weight", n_vocab, n_embd)
    for layer in range(n_layer):
        blk = f"blk.{layer}"
        writer.add_tensor(f"{blk}.attn_norm.weight", np.ones(n_embd, dtype=np.float32))
        add(f"{blk}.attn_qkv.weight", 3 * n_embd, n_embd)
        add(f"{blk}.attn_output.weight", n_embd, n_embd)
        writer.add_tensor(f"{blk}.ffn_norm.weight", np.ones(n_embd, dtype=np.float32))
        add(f"{blk}.ffn_up.weight", 2 * n_ff, n_embd)
        add(f"{blk}.ffn_down.weight", n_embd, n_ff)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _more_bits(i: int, n: int) -> bool:
    """llama.cpp's ``use_more_bits``: the layers Q4_K_M stores with Q6_K."""
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def flow_judge_q4_k_m_tensors() -> list[tuple[str, tuple[int, int], Q]]:
    """(name, (rows, cols), type) of every tensor of Flow-Judge-v0.1 Q4_K_M."""
    n_layer, n_embd, n_ff, n_vocab = 32, 3072, 8192, 32064
    tensors = [("token_embd.weight", (n_vocab, n_embd), Q.Q4_K),
               ("output_norm.weight", (1, n_embd), Q.F32),
               ("output.weight", (n_vocab, n_embd), Q.Q6_K),
               ("rope_factors_long.weight", (1, 48), Q.F32),
               ("rope_factors_short.weight", (1, 48), Q.F32)]
    for i in range(n_layer):
        more = Q.Q6_K if _more_bits(i, n_layer) else Q.Q4_K
        tensors += [(f"blk.{i}.attn_norm.weight", (1, n_embd), Q.F32),
                    (f"blk.{i}.attn_qkv.weight", (3 * n_embd, n_embd), more),
                    (f"blk.{i}.attn_output.weight", (n_embd, n_embd), Q.Q4_K),
                    (f"blk.{i}.ffn_norm.weight", (1, n_embd), Q.F32),
                    (f"blk.{i}.ffn_up.weight", (2 * n_ff, n_embd), Q.Q4_K),
                    (f"blk.{i}.ffn_down.weight", (n_embd, n_ff), more)]
    return tensors


def write_flow_judge_header(path: Path) -> Path:
    """Flow-Judge Q4_K_M's header and tensor table, its data left as a sparse hole."""
    writer = gguf.GGUFWriter(str(path), "phi3")
    writer.add_name("Flow-Judge-v0.1 (tensor table only)")
    _hyperparameters(writer, 32, 3072, 32, 8192, 4096)
    writer.add_file_type(15)  # LLAMA_FTYPE_MOSTLY_Q4_K_M
    writer.add_tokenizer_model("llama")
    writer.add_token_list([f"<t{i}>" for i in range(32064)])
    data = 0
    for name, (rows, cols), kind in flow_judge_q4_k_m_tensors():
        block, size = gguf.GGML_QUANT_SIZES[kind]
        nbytes = rows * cols // block * size
        shape = (cols,) if rows == 1 else (rows, cols)
        writer.add_tensor_info(name, shape, np.dtype(np.float32), nbytes, raw_dtype=kind)
        data += _pad(nbytes)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    writer.close()
    header = path.stat().st_size
    with path.open("r+b") as handle:
        handle.truncate(_pad(header) + data)
    return path
