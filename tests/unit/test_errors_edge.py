"""One exceptions module with unique kinds; one HTTP edge maps each kind to its status."""

from __future__ import annotations

import inspect

import flask
import pytest

from shared import errors
from shared.entrypoints.edge import serve, status_of
from shared.errors import CamwatchError

ALL = [
    cls
    for _, cls in inspect.getmembers(errors, inspect.isclass)
    if issubclass(cls, CamwatchError) and cls.__module__ == errors.__name__
]


def test_every_error_kind_is_unique() -> None:
    kinds = [cls.kind for cls in ALL]
    assert len(ALL) >= 19
    assert len(kinds) == len(set(kinds)), sorted(kinds)
    assert not {"not_found", "internal"} & set(kinds)  # the edge's own two answers


def test_no_error_class_is_defined_outside_errors_py() -> None:
    def subclasses(cls: type[CamwatchError]) -> list[type[CamwatchError]]:
        found: list[type[CamwatchError]] = []
        for sub in cls.__subclasses__():
            found += [sub, *subclasses(sub)]
        return found

    import shared.bootstrap
    import shared.entrypoints.inference
    import shared.entrypoints.process_camera  # noqa: F401

    outside = {c.__module__ + "." + c.__name__ for c in subclasses(CamwatchError)}
    outside = {name for name in outside if not name.startswith("shared.errors.")}
    assert {n for n in outside if n.startswith("shared.")} == set()


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.CameraNotFoundError("cam-x"), 404),
        (errors.MethodNotAllowedError("GET"), 405),
        (errors.BadRequestError("no"), 400),  # and its subclasses but MethodNotAllowedError
        (errors.OverloadedError("full"), 429),
        (errors.NotReadyError("loading"), 503),
        (errors.QueueTimeoutError("late"), 503),
        (errors.DependencyUnavailableError("redis", "down"), 503),
        (errors.FrameTimeoutError("slow camera"), 502),  # the camera failed, not camwatch
        (errors.NotAnImageError("html"), 502),
        (errors.ModelError("bad graph"), 500),
        (errors.ConfigError("bad setting"), 500),
    ],
)
def test_one_status_per_error(error: CamwatchError, status: int) -> None:
    assert status_of(error) == status


def test_the_edge_answers_json_with_request_id_and_retry_after() -> None:
    app = flask.Flask(__name__)

    def route(request: flask.Request, rid: str) -> flask.Response:
        if request.path == "/boom":
            raise RuntimeError("secret detail")
        raise errors.DependencyUnavailableError("redis", "connection refused")

    headers = {"X-Cloud-Trace-Context": "abc123/1;o=1"}
    with app.test_request_context("/x", headers=headers):
        response = serve(flask.request, route)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.headers["X-Request-Id"] == "abc123"
    assert response.get_json() == {
        "error": "dependency_unavailable",
        "message": "redis unavailable: connection refused",
        "request_id": "abc123",
        "dependency": "redis",
    }
    with app.test_request_context("/boom"):
        response = serve(flask.request, route)
    body = response.get_json()
    assert response.status_code == 500
    assert body["error"] == "internal"
    assert "secret" not in response.get_data(as_text=True)  # the trace goes to the log only
