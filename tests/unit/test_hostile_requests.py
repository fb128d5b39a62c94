"""Hostile HTTP requests to ``process_camera`` and ``inference``: each gets its defined answer.

Issue 12, item 5. Every request goes through functions-framework (``create_app`` as Cloud Run
loads ``functions/<name>/main.py``) to the fakes of ``tests/unit/fakes.py``. A chunked body
is sent without ``Content-Length`` and with ``wsgi.input_terminated``, as gunicorn (the server
functions-framework runs) hands it over; ``tests/e2e/test_hostile_requests.py`` sends some of
these to the real server.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from flask.testing import FlaskClient
from functions_framework import create_app
from werkzeug.test import TestResponse

from shared import bootstrap
from shared.entrypoints import inference
from shared.settings import Settings, get_settings
from tests.conftest import ROOT, jpeg
from tests.unit.fakes import TEST_KEYS, Wired, keyed, registry_of, wired

CAMERA = "/process/camera/cam-001-market-5th"
LIMIT = 64 * 1024  # CAMWATCH_MAX_REQUEST_BYTES' default
DEPTH = 32  # CAMWATCH_MAX_JSON_DEPTH's default


def nested(depth: int) -> bytes:
    """A JSON object nested ``depth`` deep: ``{"a": {"a": ... {}}}``."""
    return b'{"a": ' * (depth - 1) + b"{}" + b"}" * (depth - 1)


def padded(size: int) -> bytes:
    """A JSON object of exactly ``size`` bytes."""
    return b'{"pad": "' + b"x" * (size - 11) + b'"}'


@dataclass(frozen=True)
class Request:
    """One request and the answer it must get: status and, for an error, its kind."""

    body: bytes = b""
    status: int = 200
    error: str | None = None  # None with a status other than 200: not a JSON answer
    path: str = CAMERA
    method: str = "POST"
    content_type: str | None = "application/json"
    chunked: bool = False  # no Content-Length: the server reads to the end of the stream
    length: int | None = None  # a Content-Length other than the body's (a client gone early)
    env: dict[str, str] = field(default_factory=dict)  # settings for this request


CASES = [
    # What an integrator may send: nothing, or a JSON object (its fields are not used).
    pytest.param(Request(b"", content_type=None), id="empty-body"),
    pytest.param(Request(b"{}"), id="empty-object"),
    pytest.param(Request(b'{"note": "from the dashboard"}'), id="object"),
    pytest.param(Request(b"{}", content_type="application/json; charset=utf-8"), id="charset"),
    pytest.param(Request(b"{}", chunked=True), id="chunked-object"),
    pytest.param(Request(padded(LIMIT)), id="object-at-the-limit"),
    pytest.param(Request(nested(DEPTH)), id="depth-at-the-limit"),
    # Valid JSON that is not an object.
    pytest.param(Request(b"[]", 400, "bad_request"), id="array"),
    pytest.param(Request(b'"cam"', 400, "bad_request"), id="string"),
    pytest.param(Request(b"42", 400, "bad_request"), id="number"),
    pytest.param(Request(b"null", 400, "bad_request"), id="null"),
    # Not strict JSON.
    pytest.param(Request(b"{", 400, "invalid_json"), id="invalid-json"),
    pytest.param(Request(b" ", 400, "invalid_json"), id="whitespace"),
    pytest.param(Request(b'{"a": NaN}', 400, "invalid_json"), id="nan"),
    pytest.param(Request(b'{"a": 1e999}', 400, "invalid_json"), id="infinite-number"),
    pytest.param(Request(b'{"a": ' + b"9" * 5000 + b"}", 400, "invalid_json"), id="5000-digits"),
    pytest.param(Request(b'{"a": "\xff"}', 400, "invalid_json"), id="not-utf8"),
    pytest.param(Request(b"\xef\xbb\xbf{}", 400, "invalid_json"), id="utf8-bom"),
    # Nesting: one past the limit, and deeper than Python's recursion limit.
    pytest.param(Request(nested(DEPTH + 1), 400, "invalid_json"), id="depth-over-the-limit"),
    pytest.param(
        Request(b"[" * 30_000 + b"]" * 30_000, 400, "invalid_json"), id="30000-deep-in-limit"
    ),
    pytest.param(
        Request(b"[" * 100_000 + b"]" * 100_000, 413, "payload_too_large"), id="100000-deep"
    ),
    pytest.param(
        Request(
            b"[" * 100_000 + b"]" * 100_000,
            400,
            "invalid_json",
            env={"CAMWATCH_MAX_REQUEST_BYTES": "1000000"},
        ),
        id="100000-deep-under-a-raised-limit",
    ),
    pytest.param(
        Request(nested(5), 400, "invalid_json", env={"CAMWATCH_MAX_JSON_DEPTH": "4"}),
        id="depth-over-a-lowered-limit",
    ),
    # Size: refused from Content-Length, or while reading a chunked body.
    pytest.param(Request(padded(LIMIT + 1), 413, "payload_too_large"), id="over-the-limit"),
    pytest.param(
        Request(padded(10 * 1024 * 1024), 413, "payload_too_large"), id="10mb-content-length"
    ),
    pytest.param(
        Request(padded(LIMIT + 1), 413, "payload_too_large", chunked=True),
        id="chunked-over-the-limit",
    ),
    pytest.param(
        Request(padded(2000), 413, "payload_too_large", env={"CAMWATCH_MAX_REQUEST_BYTES": "1000"}),
        id="over-a-lowered-limit",
    ),
    # A client gone before its Content-Length: camwatch answers 400, then functions-framework's
    # own read of the rest (it reads every body before answering) fails again: a 500 nobody gets.
    pytest.param(Request(b"{}", 500, length=100), id="body-shorter-than-length"),
    # Content type.
    pytest.param(Request(b"{}", 400, "bad_request", content_type="text/plain"), id="text-plain"),
    pytest.param(
        Request(b"a=b", 400, "bad_request", content_type="application/x-www-form-urlencoded"),
        id="form",
    ),
    pytest.param(Request(b"{}", 400, "bad_request", content_type=None), id="no-content-type"),
    # The path and the method.
    pytest.param(
        Request(path="/process/camera/CAM-001", status=400, error="bad_request"), id="id-caps"
    ),
    pytest.param(Request(path="/process/camera/c", status=400, error="bad_request"), id="id-short"),
    pytest.param(
        Request(path="/process/camera/" + "c" * 64, status=400, error="bad_request"), id="id-long"
    ),
    pytest.param(Request(path=CAMERA + "%0A", status=404), id="id-newline-framework-404"),
    pytest.param(
        Request(path="/process/camera/cam%2F..%2Fetc", status=404, error="not_found"),
        id="id-encoded-slash",
    ),
    pytest.param(
        Request(path="/process/camera/cam-404-nowhere", status=404, error="camera_not_found"),
        id="unknown-camera",
    ),
    pytest.param(Request(method="GET", status=405, error="method_not_allowed"), id="get"),
    pytest.param(Request(b"{}", method="PUT", status=405, error="method_not_allowed"), id="put"),
    pytest.param(Request(path="/process/cameras", status=404, error="not_found"), id="no-route"),
]


@pytest.fixture
def fakes() -> Iterator[Wired]:
    given = wired(
        registry_of({"id": "cam-001-market-5th", "source": "http://c/1.jpg"}),
        {"http://c/1.jpg": jpeg("car1.jpg")},
    )
    yield given
    bootstrap.reset()


def send(client: FlaskClient, request: Request) -> TestResponse:
    headers = {"Content-Type": request.content_type} if request.content_type else {}
    if request.length is not None:
        return client.open(
            request.path,
            method=request.method,
            input_stream=io.BytesIO(request.body),
            headers=headers,
            environ_overrides={"CONTENT_LENGTH": str(request.length)},
        )
    if not request.chunked:
        return client.open(request.path, method=request.method, data=request.body, headers=headers)
    return client.open(
        request.path,
        method=request.method,
        input_stream=io.BytesIO(request.body),
        headers={**headers, "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )


@pytest.mark.parametrize("request_", CASES)
def test_process_camera_answers_each_request_as_defined(
    request_: Request, fakes: Wired, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in request_.env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    bootstrap.bootstrap(Settings(api_keys=TEST_KEYS), **fakes.overrides())
    source = str(ROOT / "functions" / "process_camera" / "main.py")
    client = keyed(create_app("process_camera", source, "http").test_client())
    response = send(client, request_)
    assert response.status_code == request_.status, response.get_data()[:300]
    body = response.get_json(silent=True) or {}
    rows = fakes.warehouse.rows.get("observations", [])
    if request_.status == 200:
        assert body["camera_id"] == "cam-001-market-5th"
        assert len(rows) == 1  # processed once
        return
    assert rows == []  # refused before any work
    assert fakes.detector.calls == 0
    if request_.error:
        assert body["error"] == request_.error
        assert body["request_id"] == response.headers["X-Request-Id"]


# The inference service: its own body limit, derived from the settings (max_predict_bytes).
SMALL = {"CAMWATCH_MAX_IMAGES_PER_REQUEST": "1", "CAMWATCH_MAX_FRAME_BYTES": "3000"}
PREDICT_LIMIT = 1 * (4 * 1000 + 1024) + LIMIT  # one image of 3000 bytes in base64, and slack

PREDICT_CASES = [
    pytest.param(
        Request(padded(PREDICT_LIMIT + 1), 413, "payload_too_large", path="/predict", env=SMALL),
        id="predict-over-the-limit",
    ),
    pytest.param(
        Request(
            padded(PREDICT_LIMIT + 1),
            413,
            "payload_too_large",
            path="/predict",
            chunked=True,
            env=SMALL,
        ),
        id="predict-chunked-over-the-limit",
    ),
    pytest.param(
        Request(padded(PREDICT_LIMIT), 400, "bad_request", path="/predict", env=SMALL),
        id="predict-at-the-limit-no-instances",
    ),
    pytest.param(
        Request(b"[" * 100_000 + b"]" * 100_000, 400, "invalid_json", path="/predict"),
        id="predict-100000-deep",
    ),
    pytest.param(Request(b"{", 400, "invalid_json", path="/predict"), id="predict-invalid-json"),
    pytest.param(Request(b"[]", 400, "bad_request", path="/predict"), id="predict-array"),
    pytest.param(
        Request(
            b'{"instances": []}', 400, "bad_request", path="/predict", content_type="text/plain"
        ),
        id="predict-text-plain",
    ),
    pytest.param(Request(b"", 400, "bad_request", path="/predict"), id="predict-empty"),
]


@pytest.mark.parametrize("request_", PREDICT_CASES)
def test_inference_answers_each_request_as_defined(
    request_: Request, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in request_.env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    monkeypatch.setattr(inference, "_service", None)  # a new instance; nothing loads here
    source = str(ROOT / "functions" / "inference" / "main.py")
    client = create_app("inference", source, "http").test_client()
    response = send(client, request_)
    assert response.status_code == request_.status, response.get_data()[:300]
    assert response.get_json()["error"] == request_.error
    assert inference._service is None or inference._service.batcher is None  # nothing loaded


def test_the_predict_limit_is_derived_from_the_settings() -> None:
    settings = Settings()
    per_image = 4 * -(-settings.max_frame_bytes // 3) + 1024
    derived = settings.max_images_per_request * per_image + settings.max_request_bytes
    assert derived > inference.CLOUD_RUN_MAX_REQUEST_BYTES  # the defaults: Cloud Run's bound
    assert inference.max_predict_bytes(settings) == inference.CLOUD_RUN_MAX_REQUEST_BYTES
    small = Settings(max_images_per_request=2)
    expected = 2 * per_image + small.max_request_bytes
    assert inference.max_predict_bytes(small) == expected
    assert json.dumps(settings.max_images_per_request) == "32"  # the default this sizes
