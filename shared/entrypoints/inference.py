"""The HTTP routes of the inference service: Vertex AI's predict and health, and metrics.

``AIP_PREDICT_ROUTE`` (default ``/predict``) and ``AIP_HEALTH_ROUTE`` (default ``/health``)
are the variables Vertex AI sets for custom containers; Cloud Run uses the defaults.
``GET /metrics`` serves Prometheus metrics (prediction latency by status, batch sizes). A
prediction body is at most :func:`max_predict_bytes` (413) and strict JSON (400).
This module never reaches ``shared.bootstrap``: the GPU image loads no Redis, BigQuery or
Pub/Sub client (a test checks it).
"""

from __future__ import annotations

import math
import os
import threading
import time

import flask
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared import metrics
from shared.detection.factory import inprocess_detector
from shared.detection.inference_service import InferenceService
from shared.entrypoints.edge import json_response, not_found, read_json, serve
from shared.errors import MethodNotAllowedError
from shared.settings import Settings, get_settings

_service: InferenceService | None = None
_lock = threading.Lock()


def inference_service() -> InferenceService:
    """The instance's service, built on first use (the model loads on the first health check)."""
    global _service
    with _lock:
        if _service is None:
            settings = get_settings()
            _service = InferenceService(settings, lambda: inprocess_detector(settings))
    return _service


# Cloud Run refuses larger HTTP/1 request bodies before they reach the container.
CLOUD_RUN_MAX_REQUEST_BYTES = 32 * 1024 * 1024


def max_predict_bytes(settings: Settings) -> int:
    """The largest prediction body: ``CAMWATCH_MAX_IMAGES_PER_REQUEST`` frames of
    ``CAMWATCH_MAX_FRAME_BYTES`` in base64 (4/3), 1 KiB of JSON around each, and
    ``CAMWATCH_MAX_REQUEST_BYTES`` more for the rest (``parameters``, whitespace), and never
    more than Cloud Run accepts (:data:`CLOUD_RUN_MAX_REQUEST_BYTES`)."""
    per_image = 4 * math.ceil(settings.max_frame_bytes / 3) + 1024
    derived = settings.max_images_per_request * per_image + settings.max_request_bytes
    return min(derived, CLOUD_RUN_MAX_REQUEST_BYTES)


def handle(request: flask.Request) -> flask.Response:
    """Route one request to predict, health or metrics."""
    if request.path != os.environ.get("AIP_PREDICT_ROUTE", "/predict"):
        return serve(request, _route)
    started = time.perf_counter()
    response = serve(request, _route)
    elapsed = time.perf_counter() - started
    metrics.PREDICT_SECONDS.labels(str(response.status_code)).observe(elapsed)
    return response


def _route(request: flask.Request, rid: str) -> flask.Response:
    if request.path == os.environ.get("AIP_HEALTH_ROUTE", "/health"):
        ready, body = inference_service().health()
        return json_response(body, 200 if ready else 503, rid)
    if request.path == os.environ.get("AIP_PREDICT_ROUTE", "/predict"):
        if request.method != "POST":
            raise MethodNotAllowedError("POST only")
        settings = get_settings()
        limit = max_predict_bytes(settings)
        body = read_json(request, limit, settings.max_json_depth, empty=None)
        found = inference_service().predict(body)
        return json_response({"predictions": [p.as_dict() for p in found]}, 200, rid)
    if request.path == "/metrics":
        return flask.Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)
    return not_found(request, rid)
