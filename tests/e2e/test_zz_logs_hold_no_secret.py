"""Last of the end-to-end tests (the name sorts last): after every other test has driven the
stack's functions (keys, ID tokens, Redis AUTH, signed webhooks), no configured secret appears in
any of their logs."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest

from shared.devstack.stack import LocalStack

pytestmark = pytest.mark.e2e

# Every secret the stack configures, by variable: values to look for in the logs.
SECRET_VARIABLES = (
    "CAMWATCH_DEMO_API_KEY",
    "CAMWATCH_DEMO_FORECASTS_KEY",
    "CAMWATCH_REDIS_PASSWORD",
    "CAMWATCH_WEBHOOK_SECRET",
    "CAMWATCH_DEMO_ENFORCEMENT_SECRET",
    "CAMWATCH_DEMO_OPS_CHAT_SECRET",
)


def _secrets(env: dict[str, str]) -> list[str]:
    found: list[str] = []
    for name in SECRET_VARIABLES:
        for value in env[name].split():  # a rotating secret holds two
            found += [value, value.removeprefix("whsec_")]
    return found


def _entries(text: str) -> list[dict[str, Any]]:
    """The JSON log entries of a log (functions-framework's own lines are not JSON)."""
    found = []
    for line in text.splitlines():
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            if isinstance(entry, dict):
                found.append(entry)
    return found


def test_no_configured_secret_is_in_any_function_log(event_stack: LocalStack) -> None:
    logs = sorted(event_stack.stack.log_dir.glob("*.log"))
    text = {log.name: log.read_text(errors="replace") for log in logs}
    # The logs are there, and they are the functions' Cloud Logging JSON after real work.
    assert {"camera_worker.log", "alert_delivery.log", "monitor.log"} <= set(text), sorted(text)
    delivered = [e for e in _entries(text["alert_delivery.log"]) if e.get("subscriber")]
    assert delivered, "no delivery was logged"
    for secret in _secrets(event_stack.env):
        assert len(secret) >= 16
        leaked = [name for name, body in text.items() if secret in body]
        assert not leaked, f"a configured secret appears in {leaked}"
