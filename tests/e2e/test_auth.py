"""Authentication end to end: process_camera under functions-framework (its own process, its
own keys and ID token settings) on the local stack: 401 with the schemes, 403, 200 with a key
and with a Google ID token of a listed account (a JWKS on 127.0.0.1), ``/health`` open, and a
function log that names callers but never holds a key or token."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from shared.devstack.procs import Stack
from shared.devstack.stack import LocalStack
from shared.domain.callers import key_entry, new_key
from tests.id_tokens import ACCOUNT, AUDIENCE, Issuer

pytestmark = pytest.mark.e2e
CAMERA = "cam-008-bryant-9th"  # a camera no other e2e test processes (rows, cache)
ROOT = Path(__file__).parents[2]


@dataclass
class Function:
    url: str
    log: Path
    process_key: str
    predictions_key: str
    issuer: Issuer


@pytest.fixture(scope="module")
def function(
    local_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Function]:
    process_key, predictions_key, issuer = new_key(), new_key(), Issuer()
    keys = [
        key_entry("partner-p", process_key, ["process"], None),
        key_entry("partner-q", predictions_key, ["predictions"], None),
    ]
    callers = {"callers": [{"email": ACCOUNT, "name": "dashboard", "scopes": ["process"]}]}
    logs = tmp_path_factory.mktemp("auth-logs")
    own = LocalStack(Stack(logs), env=dict(local_stack.env))  # the stack's, in its own process
    with issuer.serve() as certs_url:
        try:
            url = own.start_function(
                "process_camera",
                extra_env={
                    "PYTHONPATH": str(ROOT),  # this tree's shared/, whatever the venv points at
                    "CAMWATCH_API_KEYS": json.dumps({"keys": keys}),
                    "CAMWATCH_ID_TOKEN_AUDIENCE": AUDIENCE,
                    "CAMWATCH_ID_TOKEN_CERTS_URL": certs_url,
                    "CAMWATCH_ID_TOKEN_CALLERS": json.dumps(callers),
                },
            )
            yield Function(url, logs / "process_camera.log", process_key, predictions_key, issuer)
        finally:
            own.stop()


def post(function: Function, headers: dict[str, str]) -> requests.Response:
    return requests.post(f"{function.url}/process/camera/{CAMERA}", headers=headers, timeout=60)


def test_health_is_open_and_the_rest_wants_credentials(function: Function) -> None:
    assert requests.get(f"{function.url}/health", timeout=10).json() == {"ok": True}
    refused = post(function, {})
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == "Bearer"
    assert refused.json()["schemes"] == [
        "Bearer <Google ID token>",
        "Bearer <API key>",
        "X-API-Key: <API key>",
    ]
    assert requests.get(f"{function.url}/metrics", timeout=10).status_code == 401


def test_a_key_without_the_scope_is_403(function: Function) -> None:
    response = post(function, {"X-API-Key": function.predictions_key})
    assert (response.status_code, response.json()["error"]) == (403, "forbidden")


def test_a_key_with_the_scope_processes_the_camera(function: Function) -> None:
    response = post(function, {"Authorization": f"Bearer {function.process_key}"})
    assert response.status_code == 200, response.text
    assert response.json()["camera_id"] == CAMERA


def test_a_listed_service_account_calls_with_an_id_token(function: Function) -> None:
    response = post(function, {"Authorization": f"Bearer {function.issuer.token()}"})
    assert response.status_code == 200, response.text
    stranger = function.issuer.token(email="x@elsewhere.iam.gserviceaccount.com")
    assert post(function, {"Authorization": f"Bearer {stranger}"}).status_code == 403
    wrong_audience = function.issuer.token(aud="https://elsewhere.run.app")
    assert post(function, {"Authorization": f"Bearer {wrong_audience}"}).status_code == 401


def test_the_metrics_count_callers_and_the_log_holds_no_secret(function: Function) -> None:
    token = function.issuer.token()
    post(function, {"Authorization": f"Bearer {token}"})
    post(function, {"X-API-Key": "cwk_" + "z" * 43})
    metrics = requests.get(
        f"{function.url}/metrics", headers={"X-API-Key": function.process_key}, timeout=10
    ).text
    assert 'camwatch_caller_requests_total{caller="partner-q",outcome="forbidden"}' in metrics
    assert 'camwatch_caller_requests_total{caller="anonymous",outcome="unauthenticated"}' in (
        metrics
    )
    log = function.log.read_text()
    assert '"caller": "dashboard"' in log
    assert '"caller": "partner-p"' in log
    for secret in (function.process_key, function.predictions_key, token, "cwk_" + "z" * 43):
        assert secret not in log
