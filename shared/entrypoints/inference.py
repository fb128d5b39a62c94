"""The HTTP edge of the inference service: Vertex AI's routes, JSON, errors to status codes.

``AIP_PREDICT_ROUTE`` (default ``/predict``) and ``AIP_HEALTH_ROUTE`` (default ``/health``)
are the variables Vertex AI sets for custom containers; Cloud Run uses the defaults.
``GET /metrics`` serves Prometheus metrics (prediction latency by status, batch sizes).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from typing import Any

import flask
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared import metrics
from shared.detection.factory import inprocess_detector
from shared.detection.inference_service import InferenceService
from shared.errors import BadRequest, CamwatchError, NotReady, Overloaded, QueueTimeout
from shared.logs import configure_logging, new_request_id
from shared.settings import get_settings

log = logging.getLogger(__name__)
_service: InferenceService | None = None
_lock = threading.Lock()
STATUS = {BadRequest: 400, Overloaded: 429, NotReady: 503, QueueTimeout: 503}


def service() -> InferenceService:
    """The instance's service, built on first use (the model loads on the first health check)."""
    global _service
    with _lock:
        if _service is None:
            settings = get_settings()
            _service = InferenceService(settings, lambda: inprocess_detector(settings))
    return _service


def _json(body: dict[str, Any], status: int) -> flask.Response:
    return flask.Response(json.dumps(body), status=status, mimetype="application/json")


def handle(request: flask.Request) -> flask.Response:
    """Route one request to predict, health or metrics."""
    configure_logging()
    new_request_id(dict(request.headers))
    predict = os.environ.get("AIP_PREDICT_ROUTE", "/predict")
    health = os.environ.get("AIP_HEALTH_ROUTE", "/health")
    if request.path == predict:
        started = time.perf_counter()
        response = _route(request, predict, health)
        metrics.PREDICT_SECONDS.labels(str(response.status_code)).observe(
            time.perf_counter() - started
        )
        return response
    return _route(request, predict, health)


def _route(request: flask.Request, predict: str, health: str) -> flask.Response:
    try:
        if request.path == health:
            ready, body = service().health()
            return _json(body, 200 if ready else 503)
        if request.path == predict:
            if request.method != "POST":
                return _json({"error": "method_not_allowed", "message": "POST only"}, 405)
            return _json(service().predict(request.get_json(silent=True)), 200)
        if request.path == "/metrics":
            return flask.Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)
        return _json({"error": "not_found", "message": f"no route {request.path}"}, 404)
    except CamwatchError as exc:
        status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 500)
        log.log(logging.WARNING if status < 500 else logging.ERROR, "prediction refused",
                extra={"status": status, "error": exc.kind, "detail": exc.message})  # fmt: skip
        response = _json({"error": exc.kind, "message": exc.message}, status)
        if status in (429, 503):
            response.headers["Retry-After"] = "1"
        return response
