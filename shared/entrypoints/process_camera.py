"""The HTTP edge of ``process_camera``: routes, JSON answers, errors mapped to status codes.

Routes: ``POST /process/camera/{id}``, ``GET /health``, ``GET /status``, ``GET /metrics``.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any

import flask
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared import metrics
from shared.bootstrap import Services, bootstrap
from shared.domain.registry import CAMERA_ID
from shared.errors import (
    BadRequest,
    CameraNotFound,
    CamwatchError,
    DependencyUnavailable,
    FrameError,
    MethodNotAllowed,
)
from shared.logs import bind_project, configure_logging, new_request_id

log = logging.getLogger(__name__)
_PROCESS = re.compile(r"^/process/camera/(?P<camera_id>[^/]*)/?$")
_CAMERA_ID = re.compile(CAMERA_ID)


def _json(body: dict[str, Any], status: int, request_id: str) -> flask.Response:
    response = flask.Response(json.dumps(body), status=status, mimetype="application/json")
    response.headers["X-Request-Id"] = request_id
    return response


def _error(exc: CamwatchError, request_id: str) -> flask.Response:
    status = 500
    body: dict[str, Any] = {"error": exc.kind, "message": exc.message, "request_id": request_id}
    if isinstance(exc, CameraNotFound):
        status = 404
    elif isinstance(exc, MethodNotAllowed):
        status = 405
    elif isinstance(exc, BadRequest):
        status = 400
    elif isinstance(exc, DependencyUnavailable):
        status, body["dependency"] = 503, exc.dependency
    elif isinstance(exc, FrameError):
        status = 502
    log.log(
        logging.ERROR if status >= 500 and status != 502 else logging.WARNING,
        "request failed",
        extra={"status": status, "error": exc.kind, "detail": exc.message},
    )
    return _json(body, status, request_id)


def _process(
    services: Services, request: flask.Request, camera_id: str, rid: str
) -> flask.Response:
    if request.method != "POST":
        raise MethodNotAllowed(f"{request.method} not allowed: use POST to process a camera")
    if not _CAMERA_ID.match(camera_id):
        raise BadRequest(f"malformed camera id {camera_id!r}: expected {CAMERA_ID}")
    if request.get_data(cache=True) and request.get_json(silent=True) is None:
        raise BadRequest("request body must be empty or a JSON object")
    return _json(services.processor.process(camera_id, rid), 200, rid)


def _status(services: Services, rid: str) -> flask.Response:
    processor = services.processor
    checks: dict[str, Callable[[], None]] = {
        "redis": processor.cache.ping,
        "bigquery": processor.warehouse.ping,
        "storage": services.blobs.ping,
    }
    if ping := getattr(processor.detector, "ping", None):  # a remote detector: its service
        checks["inference"] = ping
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
    return _json({"ok": healthy, "dependencies": report}, 200 if healthy else 503, rid)


def handle_request(request: flask.Request) -> flask.Response:
    """Route one request; every answer is JSON (Prometheus text for /metrics)."""
    configure_logging()
    rid = new_request_id(dict(request.headers))
    path = request.path
    route = "process" if _PROCESS.match(path) else path
    try:
        services = bootstrap()
        bind_project(services.settings.project_id)
        if match := _PROCESS.match(path):
            response = _process(services, request, match["camera_id"], rid)
        elif path == "/health":
            response = _json({"ok": True}, 200, rid)
        elif path == "/status":
            response = _status(services, rid)
        elif path == "/metrics":
            response = flask.Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)
        else:
            route = "unknown"
            response = _json(
                {
                    "error": "not_found",
                    "message": f"no route {request.method} {path}",
                    "request_id": rid,
                },
                404,
                rid,
            )
    except CamwatchError as exc:
        response = _error(exc, rid)
    except Exception:
        log.exception("unexpected error")
        response = _json(
            {"error": "internal", "message": "internal error", "request_id": rid}, 500, rid
        )
    metrics.REQUESTS.labels(route, str(response.status_code)).inc()
    return response
