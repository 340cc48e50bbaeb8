"""Rubric files: validation errors name the file and key; versions; the library."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowjudge_tui.errors import ItemError, RubricError
from flowjudge_tui.judging.rubric import Item, Rubric, RubricLibrary, load_rubric, parse_rubric
from flowjudge_tui.settings import app_paths

GOOD = """
name = "my-rubric"
title = "Mine"
description = "A test rubric."
criteria = "Is the response correct?"
inputs = ["query"]
output = "response"
[scores]
0 = "Wrong."
1 = "Right."
"""


def write(tmp_path: Path, text: str, name: str = "r.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_rubric_loads(tmp_path: Path) -> None:
    rubric = load_rubric(write(tmp_path, GOOD))
    assert rubric.name == "my-rubric"
    assert rubric.score_values == [0, 1]
    assert rubric.is_binary
    assert rubric.warnings() == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("name = \"my-rubric\"", "name = \"My Rubric\""), "key 'name' must use only lower-case"),
        (("title = \"Mine\"\n", ""), "key 'title' is missing"),
        (("criteria = \"Is the response correct?\"", "criteria = \"  \""),
         "key 'criteria' must not be empty"),
        (("1 = \"Right.\"", "3 = \"Right.\""), "key 'scores' must be a contiguous range"),
        (("0 = \"Wrong.\"\n1 = \"Right.\"", "1 = \"Only.\""), "key 'scores' needs at least two"),
        (("0 = \"Wrong.\"", "zero = \"Wrong.\""), "key 'scores.zero' must be an integer"),
        (("1 = \"Right.\"", "1 = \"\""), "score 1 needs a description"),
        (("output = \"response\"", "output = \"query\""), "'query' is also listed in inputs"),
        (("inputs = [\"query\"]", "inputs = [\"query\", \"Query\"]"), "same field twice"),
        (("inputs = [\"query\"]", "inputs = [\"a<b\"]"), "must not contain '<'"),
        (("title = \"Mine\"", "title = \"Mine\"\ncolour = \"red\""),
         "key 'colour' is not a rubric key"),
        (("inputs = [\"query\"]", "inputs = \"query\""), "key 'inputs'"),
        (("[scores]", "[scores"), "not valid TOML"),
    ],
)
def test_validation_errors_name_the_file_and_key(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(RubricError) as error:
        load_rubric(path)
    message = str(error.value)
    assert message.startswith(str(path)), message
    assert expected in message
    assert "\n" not in message


def test_a_missing_file_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(RubricError, match="no such rubric file"):
        load_rubric(tmp_path / "nope.toml")


def test_untrained_scales_are_accepted_with_a_warning() -> None:
    rubric = Rubric(name="ten", title="T", criteria="C",
                    scores={i: f"s{i}" for i in range(1, 11)})
    assert "was not trained on" in rubric.warnings()[0]


def test_the_content_hash_is_the_version() -> None:
    base = parse_rubric(GOOD, "x")
    renamed = parse_rubric(GOOD.replace("my-rubric", "other").replace("Mine", "Other"), "x")
    changed = parse_rubric(GOOD.replace("Right.", "Correct."), "x")
    assert base.content_hash == renamed.content_hash
    assert base.content_hash != changed.content_hash
    assert len(base.content_hash) == 64


def test_toml_round_trip_keeps_the_version() -> None:
    rubric = parse_rubric(GOOD.replace("Right.", 'Right, \\"quoted\\"\\nand multi-line.'), "x")
    again = parse_rubric(rubric.to_toml(), "again")
    assert again == rubric
    assert again.content_hash == rubric.content_hash


def test_items_are_checked_against_the_rubric() -> None:
    rubric = parse_rubric(GOOD, "x")
    with pytest.raises(ItemError, match="lacks the input 'query'"):
        rubric.check_item(Item(inputs={}, output="o"))
    with pytest.raises(ItemError, match="has no input 'context'"):
        rubric.check_item(Item(inputs={"query": "q", "context": "c"}, output="o"))


def test_user_rubrics_shadow_builtins_by_name() -> None:
    library = RubricLibrary(app_paths())
    builtin = library.get("faithfulness-context-binary")
    assert builtin.source == "built-in"
    shadow = builtin.rubric.model_copy(update={"title": "My own faithfulness"})
    library.save_user_rubric(shadow)
    entry = library.get("faithfulness-context-binary")
    assert entry.source == "user"
    assert entry.rubric.title == "My own faithfulness"
    assert len([e for e in library.entries() if e.rubric.name == shadow.name]) == 1
    library.delete_user_rubric(shadow.name)
    assert library.get(shadow.name).source == "built-in"


def test_a_library_rereads_a_rubric_file_that_changed() -> None:
    library = RubricLibrary(app_paths())
    rubric = library.get("coherence-5").rubric.model_copy(update={"name": "mine"})
    library.save_user_rubric(rubric)
    assert library.get("mine").rubric.title == rubric.title
    library.save_user_rubric(rubric.model_copy(update={"title": "A longer, edited title"}))
    assert library.get("mine").rubric.title == "A longer, edited title"
    path = library.get("mine").path
    path.write_text("name = [", encoding="utf-8")
    assert not any(e.rubric.name == "mine" for e in library.entries())
    assert any(str(path) in problem for problem in library.problems)


def test_the_builtin_library(tmp_path: Path) -> None:
    library = RubricLibrary(app_paths())
    entries = library.entries()
    assert library.problems == []
    names = {e.rubric.name for e in entries}
    assert len(names) >= 12
    for family in ("correctness-reference", "faithfulness-context", "relevance-query"):
        for scale in ("binary", "3", "5"):
            assert f"{family}-{scale}" in names
    for entry in entries:
        assert entry.path.stem == entry.rubric.name
        assert tuple(entry.rubric.score_values) in ((0, 1), (1, 2, 3), (1, 2, 3, 4, 5))


def test_a_broken_user_rubric_is_reported_not_fatal() -> None:
    paths = app_paths().ensure()
    (paths.rubrics_dir / "broken.toml").write_text("name = [", encoding="utf-8")
    library = RubricLibrary(paths)
    assert len(library.entries()) >= 12
    assert any("broken.toml" in p for p in library.problems)


def test_unknown_rubric_names_say_how_to_list_them() -> None:
    with pytest.raises(RubricError, match="flowjudge rubrics list"):
        RubricLibrary(app_paths()).get("no-such-rubric")
