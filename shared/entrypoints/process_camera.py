"""The HTTP routes of ``process_camera``.

``POST /process/camera/{id}``, ``GET /health``, ``GET /status``, ``GET /metrics``; answers,
errors and request ids through :mod:`shared.entrypoints.edge`, callers checked by
:mod:`shared.entrypoints.auth` (all but ``/health``; docs/auth.md). The body of a process
request is empty or a JSON object (``CAMWATCH_MAX_REQUEST_BYTES``, ``CAMWATCH_MAX_JSON_DEPTH``).
"""

from __future__ import annotations

import re

import flask
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared import metrics
from shared.bootstrap import Services, bootstrap
from shared.domain.registry import CAMERA_ID
from shared.entrypoints.auth import guarded
from shared.entrypoints.edge import json_response, not_found, read_json, serve, status_response
from shared.errors import BadRequestError, MethodNotAllowedError

_PROCESS = re.compile(r"^/process/camera/(?P<camera_id>[^/]*)/?$")
_CAMERA_ID = re.compile(CAMERA_ID)


def handle_request(request: flask.Request) -> flask.Response:
    """Route one request; every answer is JSON (Prometheus text for /metrics)."""
    response = serve(request, _route)
    metrics.REQUESTS.labels(_label(request.path), str(response.status_code)).inc()
    return response


def _label(path: str) -> str:
    """The route's metric label (unknown paths share one, so labels stay few)."""
    if _PROCESS.match(path):
        return "process"
    return path if path in ("/health", "/status", "/metrics") else "unknown"


def _route(request: flask.Request, rid: str) -> flask.Response:
    """``/health`` is open; every other path needs a credential, a process the ``process``
    scope."""
    if request.path == "/health":
        return json_response({"ok": True}, 200, rid)
    scope = "process" if _PROCESS.match(request.path) else None
    return guarded(request, scope, lambda: _routed(request, rid))


def _routed(request: flask.Request, rid: str) -> flask.Response:
    path = request.path
    if match := _PROCESS.match(path):
        return _process(bootstrap(), request, match["camera_id"], rid)
    if path == "/status":
        return status_response(bootstrap().health_checks(), rid)
    if path == "/metrics":
        return flask.Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)
    return not_found(request, rid)


def _process(
    services: Services, request: flask.Request, camera_id: str, rid: str
) -> flask.Response:
    if request.method != "POST":
        raise MethodNotAllowedError(f"{request.method} not allowed: use POST to process a camera")
    if not _CAMERA_ID.fullmatch(camera_id):
        raise BadRequestError(f"malformed camera id {camera_id[:80]!r}: expected {CAMERA_ID}")
    settings = services.settings
    body = read_json(request, settings.max_request_bytes, settings.max_json_depth, empty={})
    if not isinstance(body, dict):
        raise BadRequestError(
            f"request body is a JSON {type(body).__name__}: want nothing or a JSON object"
        )
    return json_response(services.process(camera_id, rid).as_answer(), 200, rid)
