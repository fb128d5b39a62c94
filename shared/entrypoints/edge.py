"""The one HTTP edge: request id and logging, JSON answers, and the one error -> status map.

Every HTTP function (``process_camera``, ``inference`` and those to come) answers through
:func:`serve`: it configures Cloud Logging JSON, binds the request id (from
``X-Cloud-Trace-Context`` or ``traceparent``, else a new one), runs the route, and turns a
:class:`CamwatchError` into a JSON error with the status of :data:`STATUS`. Anything else is a
500 ``internal`` answer with the stack trace in the log, never in the body. Routes read a JSON
body with :func:`read_json`: a size limit (413) and strict, shallow JSON (400).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import flask
from werkzeug.exceptions import ClientDisconnected

from shared.errors import (
    BadRequestError,
    CameraNotFoundError,
    CamwatchError,
    DependencyUnavailableError,
    ForbiddenError,
    FrameError,
    MethodNotAllowedError,
    NotReadyError,
    OverloadedError,
    PayloadTooLargeError,
    QueueTimeoutError,
    RateLimitedError,
    UnauthenticatedError,
)
from shared.logs import bind_project, configure_logging, current_request_id, new_request_id
from shared.messages.json_input import load_json
from shared.settings import get_settings

log = logging.getLogger(__name__)

# The first match wins: subclasses before their bases. Anything else is 500.
STATUS: tuple[tuple[type[CamwatchError], int], ...] = (
    (UnauthenticatedError, 401),
    (ForbiddenError, 403),
    (RateLimitedError, 429),
    (CameraNotFoundError, 404),
    (MethodNotAllowedError, 405),
    (PayloadTooLargeError, 413),
    (BadRequestError, 400),
    (OverloadedError, 429),
    (NotReadyError, 503),
    (QueueTimeoutError, 503),
    (DependencyUnavailableError, 503),
    (FrameError, 502),  # the camera failed, not camwatch
)
RETRY_AFTER_S = 1  # on 429 and 503: when a client may try again (a rate limit says its own)
SCHEMES = ["Bearer <Google ID token>", "Bearer <API key>", "X-API-Key: <API key>"]  # on 401
CHUNK = 64 * 1024  # bytes read from a request stream at a time


def status_of(exc: CamwatchError) -> int:
    """The HTTP status of an error."""
    return next((status for kind, status in STATUS if isinstance(exc, kind)), 500)


def json_response(
    body: dict[str, Any], status: int, request_id: str, retry_after_s: int = RETRY_AFTER_S
) -> flask.Response:
    """A JSON answer carrying the request id in ``X-Request-Id`` (and ``Retry-After`` on 429
    and 503)."""
    response = flask.Response(json.dumps(body), status=status, mimetype="application/json")
    response.headers["X-Request-Id"] = request_id
    if status in (429, 503):
        response.headers["Retry-After"] = str(retry_after_s)
    return response


def error_response(exc: CamwatchError, request_id: str) -> flask.Response:
    """``{"error": kind, "message": ..., "request_id": ...}`` with the error's status."""
    status = status_of(exc)
    body: dict[str, Any] = {"error": exc.kind, "message": exc.message, "request_id": request_id}
    if isinstance(exc, DependencyUnavailableError):
        body["dependency"] = exc.dependency
    if isinstance(exc, UnauthenticatedError):
        body["schemes"] = SCHEMES
    log.log(
        logging.ERROR if status >= 500 and status != 502 else logging.WARNING,
        "request failed",
        extra={"status": status, "error": exc.kind, "detail": exc.message},
    )
    wait = exc.retry_after_s if isinstance(exc, RateLimitedError) else RETRY_AFTER_S
    response = json_response(body, status, request_id, wait)
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


def status_response(checks: Mapping[str, Callable[[], None]], request_id: str) -> flask.Response:
    """``GET /status``: each dependency's check, its latency, and 503 when one is down."""
    report: dict[str, Any] = {}
    for name, check in checks.items():
        start = time.perf_counter()
        try:
            check()
            report[name] = {"ok": True}
        except CamwatchError as exc:
            report[name] = {"ok": False, "error": exc.message}
        report[name]["latency_ms"] = round((time.perf_counter() - start) * 1000, 2)
    healthy = all(r["ok"] for r in report.values())
    return json_response(
        {"ok": healthy, "dependencies": report}, 200 if healthy else 503, request_id
    )


def not_found(request: flask.Request, request_id: str) -> flask.Response:
    """The answer to a path no route serves."""
    message = f"no route {request.method} {request.path}"
    return json_response(
        {"error": "not_found", "message": message, "request_id": request_id}, 404, request_id
    )


def read_body(request: flask.Request, max_bytes: int) -> bytes:
    """The request body, at most ``max_bytes`` of it.

    A body announced larger (``Content-Length``) is refused before any of it is read; one
    without a length (chunked) is read up to one byte past the limit. The rest of a refused
    body is read and dropped a chunk at a time: functions-framework reads every body to its end
    before it answers, and would otherwise hold all of it in memory.

    Raises:
        PayloadTooLargeError: the body is over ``max_bytes``.
        BadRequestError: the client sent less than its ``Content-Length`` and went away.
    """
    stream = request.stream
    length = request.content_length
    try:
        if length is None or length <= max_bytes:
            chunks: list[bytes] = []
            size = 0
            while size <= max_bytes and (chunk := stream.read(min(CHUNK, max_bytes + 1 - size))):
                chunks.append(chunk)
                size += len(chunk)
            if size <= max_bytes:
                return b"".join(chunks)
        while stream.read(CHUNK):
            pass
    except ClientDisconnected as exc:
        raise BadRequestError("the body ended before its Content-Length") from exc
    announced = f"{length} bytes" if length is not None else "a chunked body"
    raise PayloadTooLargeError(f"{announced} is over the limit of {max_bytes} bytes")


def read_json(request: flask.Request, max_bytes: int, max_depth: int, empty: Any) -> Any:
    """The JSON body of ``request``, or ``empty`` when there is no body.

    Raises:
        PayloadTooLargeError: the body is over ``max_bytes``.
        BadRequestError: a body whose Content-Type is not JSON.
        InvalidJsonError: not strict JSON, or nested more than ``max_depth`` deep.
    """
    body = read_body(request, max_bytes)
    if not body:
        return empty
    if not request.is_json:
        raise BadRequestError(
            f"Content-Type {request.mimetype or '(none)'!r} is not JSON: want application/json"
        )
    return load_json(body, max_depth)


def begin(headers: Mapping[str, str] | None = None) -> str:
    """Every edge's prologue: Cloud Logging JSON, the request id (from the trace headers or
    new) and the project bound to this context's log lines; returns the request id.

    Raises:
        ConfigError: a setting is invalid (the request id is bound first, for the log line).
    """
    configure_logging()
    request_id = new_request_id(headers)
    bind_project(get_settings().project_id)
    return request_id


def serve(
    request: flask.Request, route: Callable[[flask.Request, str], flask.Response]
) -> flask.Response:
    """Run ``route(request, request_id)`` with logging bound and every error answered."""
    try:
        return route(request, begin(dict(request.headers)))
    except CamwatchError as exc:
        return error_response(exc, current_request_id() or "")
    except Exception:
        log.exception("unexpected error")
        request_id = current_request_id() or ""
        body = {"error": "internal", "message": "internal error", "request_id": request_id}
        return json_response(body, 500, request_id)
