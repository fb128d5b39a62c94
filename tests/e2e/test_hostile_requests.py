"""Hostile requests to ``process_camera`` on functions-framework's own server (gunicorn).

Issue 12, item 5, on the wire: a body announced too large is refused from its
``Content-Length``, a chunked one while it is read, and both answer 413 quickly;
``tests/unit/test_hostile_requests.py`` holds the whole table.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
import requests

from shared.devstack.credentials import auth_headers
from shared.devstack.stack import LocalStack

pytestmark = pytest.mark.e2e
# No such camera: a body that passes the edge answers 404 and leaves no row (other tests count
# the rows of each real camera).
NOWHERE = "/process/camera/cam-404-nowhere"


@pytest.fixture(scope="module")
def url(local_stack: LocalStack) -> str:
    return local_stack.function_url or local_stack.start_function()


def chunks(total: int, size: int = 8192) -> Iterator[bytes]:
    """A JSON object of ``total`` bytes, sent chunked (requests sends a generator so)."""
    yield b'{"pad": "'
    left = total - 11
    while left > 0:
        yield b"x" * min(size, left)
        left -= size
    yield b'"}'


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        pytest.param(lambda: b"x" * (10 * 1024 * 1024), 413, "payload_too_large", id="10mb"),
        pytest.param(lambda: chunks(10 * 1024 * 1024), 413, "payload_too_large", id="chunked-10mb"),
        pytest.param(lambda: chunks(1000), 404, "camera_not_found", id="chunked-small"),
        pytest.param(lambda: b"[" * 30_000 + b"]" * 30_000, 400, "invalid_json", id="30000-deep"),
        pytest.param(lambda: b"[1, 2]", 400, "bad_request", id="array"),
    ],
)
def test_the_real_server_answers_hostile_bodies(url: str, body, status: int, error: str) -> None:
    started = time.monotonic()
    response = requests.post(
        f"{url}{NOWHERE}",
        data=body(),
        headers={"Content-Type": "application/json", **auth_headers(dict(os.environ))},
        timeout=60,
    )
    assert response.status_code == status, response.text[:300]
    assert response.json()["error"] == error
    assert time.monotonic() - started < 30
    assert requests.get(f"{url}/health", timeout=10).json() == {"ok": True}  # still serving
