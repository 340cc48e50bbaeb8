"""The model catalog (shipped and test catalog dirs) and the user's registered local models."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowjudge_tui.errors import ModelError
from flowjudge_tui.models.catalog import (
    default_entry,
    find_entry,
    load_catalog,
    load_local_models,
    register_local_model,
    user_catalog_dir,
)
from flowjudge_tui.settings import app_paths
from tests.model_files import write_small_gguf

FAMILY = """
family = "{family}"
title = "Test family"
architecture = "phi3"
license = "MIT"
default = "{default}"

[shape]
n_layer = 2
n_embd = 64
n_head = 4
n_head_kv = 4
n_ff = 128
n_vocab = 96
n_ctx_train = 4096
"""
MODEL = """
[[model]]
name = "{name}"
repo = "org/repo"
file = "{name}.gguf"
quantization = "F32"
size_bytes = {size}
source = "community"
"""


def family(directory: Path, name: str, models: list[str], default: str | None = None,
           **extra: str) -> None:
    text = FAMILY.format(family=name, default=default or models[0])
    text += "".join(MODEL.format(name=m, size=1000 + i) for i, m in enumerate(models))
    for key, value in extra.items():
        text = text.replace(f"{key} = ", f"{key} = {value} #", 1)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.toml").write_text(text, encoding="utf-8")


def test_the_shipped_catalog_lists_flow_judge() -> None:
    entries = {e.name: e for e in load_catalog()}
    assert set(entries) == {"Q4_K_M", "bf16", "Q2_K", "Q5_K_M", "Q8_0", "Q4_0", "Q4_1"}
    default = default_entry()
    assert default is entries["Q4_K_M"]
    assert (default.repo, default.file, default.source, default.size_exact) == (
        "flowaicom/Flow-Judge-v0.1-GGUF", "flow-judge-v0.1-Q4_K_M.gguf", "official", False)
    assert default.display_size == "~2.39 GB" and entries["bf16"].display_size == "~7.64 GB"
    exact = {name: entries[name].size_bytes for name in ("Q2_K", "Q5_K_M", "Q8_0", "Q4_0", "Q4_1")}
    assert exact == {"Q2_K": 1_416_205_248, "Q5_K_M": 2_815_276_992, "Q8_0": 4_061_223_360,
                     "Q4_0": 2_176_177_632, "Q4_1": 2_408_826_336}
    assert {entries[n].repo for n in ("Q2_K", "Q5_K_M", "Q8_0")} == {
        "mradermacher/Flow-Judge-v0.1-GGUF"}
    assert {entries[n].repo for n in ("Q4_0", "Q4_1")} == {"QuantFactory/Flow-Judge-v0.1-GGUF"}
    for entry in entries.values():
        shape = entry.shape
        assert (shape.n_layer, shape.n_embd, shape.n_head, shape.n_head_kv, shape.n_vocab,
                shape.n_ctx_train) == (32, 3072, 32, 32, 32064, 4096)
        assert (entry.license, entry.architecture) == ("Apache-2.0", "phi3")
    assert find_entry("q4_k_m") is default and find_entry("nope") is None


def test_a_catalog_dir_is_loaded_alone(tmp_path: Path) -> None:
    family(tmp_path, "alpha", ["a1", "a2"], default="a2")
    family(tmp_path, "beta", ["b1"])
    entries = load_catalog(tmp_path)
    assert [e.name for e in entries] == ["a1", "a2", "b1"]
    assert [e.is_default for e in entries] == [False, True, True]
    assert default_entry(tmp_path).name == "a2"
    assert find_entry("B1", tmp_path) is not None and find_entry("Q4_K_M", tmp_path) is None


def test_catalog_mistakes_are_one_sentence(tmp_path: Path) -> None:
    family(tmp_path / "twice", "alpha", ["same"])
    family(tmp_path / "twice", "beta", ["SAME"])
    with pytest.raises(ModelError, match=r"names 'SAME' twice .*alpha\.toml and beta\.toml"):
        load_catalog(tmp_path / "twice")
    family(tmp_path / "bad", "alpha", ["a1"], n_layer='"many"')
    with pytest.raises(ModelError, match=r"is invalid at 'shape\.n_layer'"):
        load_catalog(tmp_path / "bad")
    family(tmp_path / "nodefault", "alpha", ["a1"], default="zz")
    with pytest.raises(ModelError, match="names default 'zz', which it does not list"):
        load_catalog(tmp_path / "nodefault")


def test_the_users_catalog_extends_the_shipped_one() -> None:
    family(user_catalog_dir(), "mine", ["my-judge"])
    names = [e.name for e in load_catalog()]
    assert names[0] == "Q4_K_M" and names[-1] == "my-judge"
    assert default_entry().name == "Q4_K_M"


def test_local_models_are_registered_checked_and_replaced(tmp_path: Path) -> None:
    first = write_small_gguf(tmp_path / "first.gguf")
    second = write_small_gguf(tmp_path / "second.gguf", arch="llama")
    model = register_local_model(first)
    assert (model.name, model.path, model.architecture) == ("first", first, "phi3")
    register_local_model(second, name="first")
    register_local_model(second)
    assert [(m.name, m.path.name) for m in load_local_models()] == [
        ("first", "second.gguf"), ("second", "second.gguf")]
    with pytest.raises(ModelError, match="without spaces"):
        register_local_model(first, name="my judge")
    app_paths().local_models_file.write_text("model = [ {name = 3} ]")
    with pytest.raises(ModelError, match=r"cannot be read .*fix or delete it"):
        load_local_models()
