"""The settings object: values from the environment, fail-fast errors, renamed settings."""

from __future__ import annotations

import pytest

from shared import setting_names
from shared.errors import ConfigError
from shared.settings import Settings, get_settings


def test_bad_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMWATCH_REDIS_PORT", "not-a-port")
    get_settings.cache_clear()
    try:
        with pytest.raises(ConfigError, match="CAMWATCH_REDIS_PORT"):
            get_settings()
    finally:
        get_settings.cache_clear()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CAMWATCH_MAX_INSTANCES", "0"),  # a renamed setting: the error names the name set
        ("CAMWATCH_MAX_IMAGES_PER_REQUEST", "many"),
        ("CAMWATCH_SCORE_THRESHOLD", "7"),
    ],
)
def test_the_error_names_the_variable_that_was_set(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    get_settings.cache_clear()
    try:
        with pytest.raises(ConfigError, match=f"invalid settings: {variable}: "):
            get_settings()
    finally:
        get_settings.cache_clear()


def test_tracks_outlive_their_gap_in_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMWATCH_TRACK_MAX_GAP_S", "900")
    monkeypatch.setenv("CAMWATCH_TRACK_TTL_S", "600")
    get_settings.cache_clear()
    try:
        with pytest.raises(ConfigError, match=r"CAMWATCH_TRACK_TTL_S: .*MAX_GAP_S \(900\)"):
            get_settings()
    finally:
        get_settings.cache_clear()


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMWATCH_SCORE_THRESHOLD", "0.55")
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "http://127.0.0.1:1")
    settings = Settings()
    assert settings.score_threshold == 0.55
    assert settings.storage_emulator_host == "http://127.0.0.1:1"


def test_a_renamed_setting_keeps_its_old_name_and_warns_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(setting_names, "_warned", set())
    monkeypatch.setenv("CAMWATCH_MAX_INSTANCES", "7")
    with caplog.at_level("WARNING", logger="shared.settings"):
        assert Settings().max_images_per_request == 7
        assert Settings().max_images_per_request == 7
    warned = [r.getMessage() for r in caplog.records if "deprecated" in r.getMessage()]
    assert warned == ["CAMWATCH_MAX_INSTANCES is deprecated: use CAMWATCH_MAX_IMAGES_PER_REQUEST"]
    monkeypatch.setenv("CAMWATCH_MAX_IMAGES_PER_REQUEST", "9")  # the new name wins
    assert Settings().max_images_per_request == 9
