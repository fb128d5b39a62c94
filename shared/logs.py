"""Structured JSON logs in Cloud Logging's format, with a trace/request id per request.

Cloud Run forwards each stdout line that is a JSON object to Cloud Logging, reading
``severity``, ``message``, ``logging.googleapis.com/trace`` and ``.../sourceLocation`` from it.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
_project: contextvars.ContextVar[str] = contextvars.ContextVar("project", default="")
_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def bind_project(project_id: str) -> None:
    """Name the project in trace ids of this context's log lines."""
    _project.set(project_id)


def new_request_id(headers: Mapping[str, str] | None = None) -> str:
    """Take the trace id from ``X-Cloud-Trace-Context``/``traceparent`` or make one; bind it."""
    headers = headers or {}
    trace = ""
    if cloud := headers.get("X-Cloud-Trace-Context"):
        trace = cloud.split("/", 1)[0]
    elif parent := headers.get("traceparent"):
        parts = parent.split("-")
        trace = parts[1] if len(parts) >= 3 else ""
    if not (trace and len(trace) <= 64 and trace.isalnum()):
        trace = uuid.uuid4().hex
    _request_id.set(trace)
    return trace


def current_request_id() -> str | None:
    """The request id bound to this context, if any."""
    return _request_id.get()


class CloudLoggingFormatter(logging.Formatter):
    """One JSON object per line: severity, message, time, trace, source location, extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "logger": record.name,
            "logging.googleapis.com/sourceLocation": {
                "file": record.pathname,
                "line": record.lineno,
                "function": record.funcName,
            },
        }
        if (trace := _request_id.get()) is not None:
            entry["request_id"] = trace
            project = _project.get()
            entry["logging.googleapis.com/trace"] = (
                f"projects/{project}/traces/{trace}" if project else trace
            )
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["stack_trace"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str = "INFO") -> None:
    """Send the root logger to stdout as Cloud Logging JSON (idempotent)."""
    root = logging.getLogger()
    if any(isinstance(h.formatter, CloudLoggingFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(CloudLoggingFormatter())
    root.handlers = [handler]
    root.setLevel(level)
