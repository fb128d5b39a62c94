"""Authentication through functions-framework: 401 with the schemes, 403, 429 with the real
``Retry-After``, 503 with the cache down, ``/health`` open, the per-caller metric and a log
that never holds a key or token (docs/auth.md)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from functions_framework import create_app
from prometheus_client import REGISTRY

from shared import bootstrap
from shared.domain.callers import hash_key
from shared.settings import Settings
from tests.conftest import ROOT, jpeg
from tests.id_tokens import ACCOUNT, AUDIENCE, Issuer
from tests.unit.fakes import Wired, registry_of, wired
from tests.unit.test_predictions_http import LiveTables

PROCESS_KEY = "cwk_" + "p" * 43
PREDICT_KEY = "cwk_" + "q" * 43
SLOW_KEY = "cwk_" + "s" * 43
CAMERA = "/process/camera/cam-a"
SCHEMES = ["Bearer <Google ID token>", "Bearer <API key>", "X-API-Key: <API key>"]


def keys() -> str:
    entries = [
        {"name": "partner-p", "sha256": hash_key(PROCESS_KEY), "scopes": ["process"]},
        {"name": "partner-q", "sha256": hash_key(PREDICT_KEY), "scopes": ["predictions"]},
        {"name": "partner-s", "sha256": hash_key(SLOW_KEY), "scopes": ["process"], "per_minute": 2},
    ]
    return json.dumps({"keys": entries})


def count(caller: str, outcome: str) -> float:
    found = REGISTRY.get_sample_value(
        "camwatch_caller_requests_total", {"caller": caller, "outcome": outcome}
    )
    return found or 0.0


@pytest.fixture
def fakes() -> Iterator[Wired]:
    given = wired(
        registry_of({"id": "cam-a", "source": "http://c/a.jpg"}),
        {"http://c/a.jpg": jpeg("car1.jpg")},
    )
    yield given
    bootstrap.reset()


def app(fakes: Wired, target: str = "process_camera", **settings: Any) -> FlaskClient:
    bootstrap.bootstrap(
        Settings(api_keys=keys(), **settings), **fakes.overrides(), tables=LiveTables()
    )
    source = str(ROOT / "functions" / target / "main.py")
    return create_app(target, source, "http").test_client()


def test_without_credentials_the_answer_is_401_with_the_schemes(fakes: Wired) -> None:
    client = app(fakes)
    before = count("anonymous", "unauthenticated")
    response = client.post(CAMERA)
    assert response.status_code == 401
    body = response.get_json()
    assert (body["error"], body["schemes"]) == ("unauthenticated", SCHEMES)
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert count("anonymous", "unauthenticated") == before + 1
    assert fakes.warehouse.rows == {}  # nothing ran
    for path in ("/status", "/metrics", "/nowhere"):  # every route but /health
        assert client.get(path).status_code == 401, path
    assert client.get("/health").get_json() == {"ok": True}


@pytest.mark.parametrize("target", ["process_camera", "predictions"])
def test_health_is_open_and_status_takes_any_valid_key(fakes: Wired, target: str) -> None:
    client = app(fakes, target)
    assert client.get("/health").status_code == 200
    assert client.get("/metrics", headers={"X-API-Key": PREDICT_KEY}).status_code == 200
    assert client.get("/metrics", headers={"X-API-Key": PROCESS_KEY}).status_code == 200


def test_a_key_without_the_scope_is_403_and_with_it_200(fakes: Wired) -> None:
    client = app(fakes)
    before = count("partner-q", "forbidden"), count("partner-p", "ok")
    refused = client.post(CAMERA, headers={"X-API-Key": PREDICT_KEY})
    assert (refused.status_code, refused.get_json()["error"]) == (403, "forbidden")
    done = client.post(CAMERA, headers={"Authorization": f"Bearer {PROCESS_KEY}"})
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["camera_id"] == "cam-a"
    assert (count("partner-q", "forbidden"), count("partner-p", "ok")) == (
        before[0] + 1,
        before[1] + 1,
    )


def test_predictions_want_the_predictions_scope(fakes: Wired) -> None:
    client = app(fakes, "predictions")
    refused = client.get("/predictions/cam-a?horizon=60", headers={"X-API-Key": PROCESS_KEY})
    assert refused.status_code == 403
    bulk = client.post("/predictions/bulk", json={}, headers={"X-API-Key": PROCESS_KEY})
    assert bulk.status_code == 403
    taken = client.get("/predictions/nope?horizon=60", headers={"X-API-Key": PREDICT_KEY})
    assert taken.status_code == 404  # past the check: the camera is unknown


def test_over_the_limit_the_answer_is_429_with_the_buckets_wait(fakes: Wired) -> None:
    client = app(fakes)
    assert client.post(CAMERA, headers={"X-API-Key": SLOW_KEY}).status_code == 200
    limited = client.post(CAMERA, headers={"X-API-Key": SLOW_KEY})
    assert (limited.status_code, limited.get_json()["error"]) == (429, "rate_limited")
    assert 28 <= int(limited.headers["Retry-After"]) <= 30  # 2 a minute: 30 s a token
    assert client.post(CAMERA, headers={"X-API-Key": PROCESS_KEY}).status_code == 200


def test_with_redis_down_an_authenticated_request_is_503_never_passed(fakes: Wired) -> None:
    client = app(fakes)
    fakes.cache.down = True
    before = count("partner-p", "unavailable")
    response = client.post(CAMERA, headers={"X-API-Key": PROCESS_KEY})
    assert (response.status_code, response.get_json()["dependency"]) == (503, "redis")
    assert response.headers["Retry-After"] == "1"
    assert count("partner-p", "unavailable") == before + 1


def test_a_listed_service_account_calls_with_an_id_token(fakes: Wired) -> None:
    issuer = Issuer()
    callers = {"callers": [{"email": ACCOUNT, "name": "dashboard", "scopes": ["process"]}]}
    with issuer.serve() as url:
        client = app(
            fakes,
            id_token_audience=AUDIENCE,
            id_token_certs_url=url,
            id_token_callers=json.dumps(callers),
        )
        good = client.post(CAMERA, headers={"Authorization": f"Bearer {issuer.token()}"})
        other = issuer.token(email="x@elsewhere.iam.gserviceaccount.com")
        stranger = client.post(CAMERA, headers={"Authorization": f"Bearer {other}"})
        late = client.post(CAMERA, headers={"Authorization": f"Bearer {issuer.token(exp=1)}"})
    assert good.status_code == 200, good.get_json()
    assert stranger.status_code == 403
    assert late.status_code == 401


def test_the_log_names_the_caller_and_never_a_key_or_token(
    fakes: Wired, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    issuer = Issuer()
    token = issuer.token()
    with issuer.serve() as url:
        client = app(fakes, id_token_audience=AUDIENCE, id_token_certs_url=url)
        for headers in (
            {"X-API-Key": PROCESS_KEY},
            {"X-API-Key": PREDICT_KEY},
            {"X-API-Key": "cwk_" + "u" * 43},
            {"Authorization": f"Bearer {token}"},
            {"Authorization": f"Bearer {token[:-4]}"},  # broken signature
            {"Authorization": f"Basic {PROCESS_KEY}"},
        ):
            client.post(CAMERA, headers=headers)
    callers = {getattr(r, "caller", None) for r in caplog.records}
    assert {"partner-p", "partner-q"} <= callers
    logged = caplog.text + "".join(capfd.readouterr())
    for secret in (PROCESS_KEY, PREDICT_KEY, "cwk_" + "u" * 43, token, token.split(".")[2]):
        assert secret not in logged
