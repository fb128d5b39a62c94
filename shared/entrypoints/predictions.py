"""The HTTP routes of ``predictions``: forecasts for integrators.

``GET /predictions/{camera_id}?horizon=60&metric=vehicles&confidence=0.9``, ``POST
/predictions/bulk``, ``GET /health``, ``GET /status`` (Redis and BigQuery), ``GET /metrics``;
answers, errors and request ids through :mod:`shared.entrypoints.edge`, callers checked by
:mod:`shared.entrypoints.auth` (all but ``/health``; docs/predictions.md, docs/auth.md).
"""

from __future__ import annotations

import re

import flask
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared import metrics
from shared.bootstrap import bootstrap
from shared.entrypoints.auth import guarded
from shared.entrypoints.edge import json_response, not_found, read_json, serve, status_response
from shared.errors import MethodNotAllowedError

BULK = "/predictions/bulk"
_ONE = re.compile(r"^/predictions/(?P<camera_id>[^/]*)/?$")
_CHECKED = ("redis", "bigquery")  # what the predictions read


def handle_request(request: flask.Request) -> flask.Response:
    """Route one request; every answer is JSON (Prometheus text for /metrics)."""
    response = serve(request, _route)
    metrics.REQUESTS.labels(_label(request.path), str(response.status_code)).inc()
    return response


def _label(path: str) -> str:
    """The route's metric label (unknown paths share one, so labels stay few)."""
    if path.rstrip("/") == BULK:
        return "predictions_bulk"
    if _ONE.match(path):
        return "predictions"
    return path if path in ("/health", "/status", "/metrics") else "unknown"


def _route(request: flask.Request, rid: str) -> flask.Response:
    """``/health`` is open; every other path needs a credential, a forecast the
    ``predictions`` scope."""
    if request.path == "/health":
        return json_response({"ok": True}, 200, rid)
    scope = "predictions" if _label(request.path).startswith("predictions") else None
    return guarded(request, scope, lambda: _routed(request, rid))


def _routed(request: flask.Request, rid: str) -> flask.Response:
    path = request.path
    if path.rstrip("/") == BULK:
        return _bulk(request, rid)
    if match := _ONE.match(path):
        if request.method != "GET":
            raise MethodNotAllowedError(f"{request.method} not allowed: use GET for a forecast")
        service = bootstrap().predictions
        prediction = service.one(match["camera_id"], request.args.to_dict(flat=True))
        return json_response(prediction.as_answer(), 200, rid)
    if path == "/status":
        checks = bootstrap().health_checks()
        return status_response({k: v for k, v in checks.items() if k in _CHECKED}, rid)
    if path == "/metrics":
        return flask.Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)
    return not_found(request, rid)


def _bulk(request: flask.Request, rid: str) -> flask.Response:
    if request.method != "POST":
        raise MethodNotAllowedError(f"{request.method} not allowed: POST a JSON body to {BULK}")
    services = bootstrap()
    settings = services.settings
    body = read_json(request, settings.max_request_bytes, settings.max_json_depth, empty=None)
    return json_response(services.predictions.bulk(body).as_answer(), 200, rid)
