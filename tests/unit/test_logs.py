"""Cloud Logging JSON lines and request ids."""

from __future__ import annotations

import json
import logging

import pytest

from shared.logs import CloudLoggingFormatter, bind_project, new_request_id


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
