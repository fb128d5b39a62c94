"""Cloud Logging JSON lines and the settings object's fail-fast errors."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from shared import settings as settings_module
from shared.errors import ConfigError
from shared.logs import CloudLoggingFormatter, bind_project, new_request_id
from shared.settings import DEPRECATED, Settings, get_settings


def _format(msg: str, **extra: object) -> dict[str, object]:
    record = logging.getLogger("t").makeRecord(
        "t", logging.WARNING, "f.py", 7, msg, (), None, extra=extra
    )
    return json.loads(CloudLoggingFormatter().format(record))


def test_log_line_has_cloud_logging_fields_and_trace() -> None:
    trace = new_request_id({"X-Cloud-Trace-Context": "abc123/1;o=1"})
    bind_project("proj")
    entry = _format("camera gave no frame", camera_id="cam-1")
    assert trace == "abc123"
    assert entry["severity"] == "WARNING"
    assert entry["message"] == "camera gave no frame"
    assert entry["logging.googleapis.com/trace"] == "projects/proj/traces/abc123"
    assert entry["camera_id"] == "cam-1"
    assert entry["request_id"] == "abc123"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (
            {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
            "4bf92f3577b34da6a3ce929d0e0e4736",
        ),  # W3C trace context
        ({"X-Cloud-Trace-Context": "bad id!/1"}, None),  # not alphanumeric: a new id
        ({}, None),  # none given: a new id
    ],
)
def test_request_ids(headers: dict[str, str], expected: str | None) -> None:
    rid = new_request_id(headers)
    if expected:
        assert rid == expected
    else:
        assert len(rid) == 32
        assert rid.isalnum()


def test_bad_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMWATCH_REDIS_PORT", "not-a-port")
    get_settings.cache_clear()
    try:
        with pytest.raises(ConfigError, match="CAMWATCH_REDIS_PORT"):
            get_settings()
    finally:
        get_settings.cache_clear()


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMWATCH_SCORE_THRESHOLD", "0.55")
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "http://127.0.0.1:1")
    settings = Settings()
    assert settings.score_threshold == 0.55
    assert settings.storage_emulator_host == "http://127.0.0.1:1"


def settings_section() -> str:
    text = (Path(__file__).parents[2] / "README.md").read_text()
    return text.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]


def documented_variables(section: str) -> set[str]:
    """The table's variables, with ``CAMWATCH_A_B`` / ``_C`` shorthands expanded every way."""
    found: set[str] = set()
    for row in section.splitlines():
        if not row.startswith("| `"):
            continue
        names = re.findall(r"`([A-Z_][A-Z0-9_]*)`", row.split(" | ")[0])
        full = [n for n in names if not n.startswith("_")]
        found.update(full)
        parts = full[0].split("_") if full else []
        for short in (n for n in names if n.startswith("_")):
            found.update("_".join(parts[:k]) + short for k in range(1, len(parts)))
    return found


def test_the_readme_documents_every_setting_and_no_other() -> None:
    wanted = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        wanted.add(alias if isinstance(alias, str) else f"CAMWATCH_{name.upper()}")
    section = settings_section()
    assert wanted - documented_variables(section) == set(), "settings missing from README.md"
    named = set(re.findall(r"`(CAMWATCH_[A-Z0-9_]+)`", section))
    assert named - wanted - set(DEPRECATED) == set(), "README.md names settings that do not exist"
    for old, new in DEPRECATED.items():  # a renamed setting is listed with its old name
        [row] = [r for r in section.splitlines() if f"`{new}`" in r]
        assert f"`{old}`" in row
        assert "deprecated" in row


def test_a_renamed_setting_keeps_its_old_name_and_warns_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(settings_module, "_warned", set())
    monkeypatch.setenv("CAMWATCH_MAX_INSTANCES", "7")
    with caplog.at_level("WARNING", logger="shared.settings"):
        assert Settings().max_images_per_request == 7
        assert Settings().max_images_per_request == 7
    warned = [r.getMessage() for r in caplog.records if "deprecated" in r.getMessage()]
    assert warned == ["CAMWATCH_MAX_INSTANCES is deprecated: use CAMWATCH_MAX_IMAGES_PER_REQUEST"]
    monkeypatch.setenv("CAMWATCH_MAX_IMAGES_PER_REQUEST", "9")  # the new name wins
    assert Settings().max_images_per_request == 9
