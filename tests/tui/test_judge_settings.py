"""Settings typed where work starts: defaults when empty, one sentence when wrong."""

from __future__ import annotations

import pytest

from flowjudge_tui.judging.backend import DEFAULT_N_CTX, SamplingSettings
from flowjudge_tui.tui.widgets.judge_settings import SettingsError, parse_settings


def test_empty_fields_are_the_official_settings() -> None:
    settings = parse_settings("", "", "", "", "")
    assert settings.sampling == SamplingSettings()
    assert (settings.n_ctx, settings.limit) == (DEFAULT_N_CTX, None)


def test_typed_settings_are_used() -> None:
    settings = parse_settings("200", "0.7", "42", "8192", "10")
    assert settings.sampling == SamplingSettings(temperature=0.7, max_feedback_tokens=200,
                                                 seed=42)
    assert (settings.n_ctx, settings.limit) == (8192, 10)


@pytest.mark.parametrize(("fields", "message"), [
    (("0", "", "", "", ""), "Max feedback tokens must be from 1 up; it is 0."),
    (("", "nan", "", "", ""), "Temperature must be a finite number."),
    (("", "-1", "", "", ""), "Temperature must be from 0 to 2; it is -1."),
    (("", "", "x", "", ""), "Seed must be a whole number, not 'x'."),
    (("", "", "", "100", ""), "Context size must be from 512 to 131072; it is 100."),
    (("", "", "", "", "0"), "First N rows must be from 1 up; it is 0."),
])
def test_a_wrong_setting_is_one_sentence(fields: tuple[str, ...], message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        parse_settings(*fields)
    assert str(raised.value) == message
