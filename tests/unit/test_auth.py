"""Who may call: ID tokens against a local JWKS, API key hashing and matching, scopes, and the
token bucket on the fake cache with a fake clock (docs/auth.md)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.adapters.id_tokens import GoogleIdTokens
from shared.domain.callers import (
    KEY_PATTERN,
    ApiKey,
    Caller,
    burst_of,
    hash_key,
    match_key,
    new_key,
)
from shared.entrypoints import api_keys
from shared.errors import (
    ConfigError,
    DependencyUnavailableError,
    ForbiddenError,
    RateLimitedError,
    UnauthenticatedError,
)
from shared.service_layer.auth import Authenticator, authenticator, load_document
from shared.settings import Settings
from tests.id_tokens import ACCOUNT, AUDIENCE, ISSUER, Issuer, tampered
from tests.unit.fakes import FakeCache, api_keys_json

KEY_A = "cwk_" + "a" * 43
KEY_B = "cwk_" + "b" * 43
ACCOUNTS = json.dumps(
    {"callers": [{"email": ACCOUNT, "name": "city-dashboard", "scopes": ["predictions"]}]}
)


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def issuer() -> Iterator[tuple[Issuer, str]]:
    found = Issuer()
    with found.serve() as url:
        yield found, url


def auth_of(
    keys: str | None = None, tokens: GoogleIdTokens | None = None, **settings: Any
) -> tuple[Authenticator, FakeCache, Clock]:
    cache, clock = FakeCache(), Clock()
    auth = authenticator(Settings(api_keys=keys, **settings), cache, tokens)
    auth.clock = clock
    return auth, cache, clock


# --- ID tokens ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"exp": int(time.time()) - 60}, "expired"),  # expired a minute ago
        ({"aud": "https://elsewhere.run.app"}, "Audience"),  # another service's token
        ({"iss": "https://evil.example"}, "issuer"),  # not Google
        ({"exp": None}, "no expiry"),  # a token that never expires is refused
    ],
)
def test_a_bad_id_token_is_unauthenticated(
    issuer: tuple[Issuer, str], claims: dict[str, Any], reason: str
) -> None:
    signer, url = issuer
    tokens = GoogleIdTokens(url, [ISSUER])
    with pytest.raises(UnauthenticatedError, match=f"(?i){reason}"):
        tokens.verify(signer.token(**claims), [AUDIENCE])


def test_googles_pem_certificates_verify_too() -> None:
    signer = Issuer(pem=True)  # https://www.googleapis.com/oauth2/v1/certs answers kid -> PEM
    with signer.serve() as url:
        tokens = GoogleIdTokens(url, [ISSUER])
        assert tokens.verify(signer.token(), [AUDIENCE])["email"] == ACCOUNT
        with pytest.raises(UnauthenticatedError):
            tokens.verify(signer.token(exp=int(time.time()) - 60), [AUDIENCE])
        with pytest.raises(UnauthenticatedError):
            tokens.verify(tampered(signer.token()), [AUDIENCE])


def test_a_tampered_token_fails_its_signature(issuer: tuple[Issuer, str]) -> None:
    signer, url = issuer
    with pytest.raises(UnauthenticatedError, match="Signature"):
        GoogleIdTokens(url, [ISSUER]).verify(tampered(signer.token()), [AUDIENCE])


def test_a_token_signed_by_another_key_is_refused(issuer: tuple[Issuer, str]) -> None:
    _, url = issuer
    with pytest.raises(UnauthenticatedError):
        GoogleIdTokens(url, [ISSUER]).verify(Issuer().token(), [AUDIENCE])


def test_a_good_token_names_its_listed_account_and_certs_are_kept(
    issuer: tuple[Issuer, str],
) -> None:
    signer, url = issuer
    tokens = GoogleIdTokens(url, [ISSUER])
    auth, _, _ = auth_of(
        tokens=tokens,
        id_token_audience=f"https://other.run.app {AUDIENCE}",
        id_token_callers=ACCOUNTS,
    )
    before = signer.served
    for _ in range(3):
        caller = auth.check({"Authorization": f"Bearer {signer.token()}"}, "predictions")
        assert (caller.name, caller.kind) == ("city-dashboard", "service_account")
    assert signer.served - before == 1  # fetched once, then kept
    with pytest.raises(ForbiddenError, match="scope"):
        auth.check({"Authorization": f"Bearer {signer.token()}"}, "process")


def test_a_valid_token_of_an_unlisted_account_is_forbidden(issuer: tuple[Issuer, str]) -> None:
    signer, url = issuer
    auth, _, _ = auth_of(
        tokens=GoogleIdTokens(url, [ISSUER]), id_token_audience=AUDIENCE, id_token_callers=ACCOUNTS
    )
    token = signer.token(email="someone@else.iam.gserviceaccount.com")
    with pytest.raises(ForbiddenError, match="not let in"):
        auth.authenticate({"Authorization": f"Bearer {token}"})


def test_id_tokens_are_refused_without_an_audience(issuer: tuple[Issuer, str]) -> None:
    signer, url = issuer
    auth, _, _ = auth_of(tokens=GoogleIdTokens(url, [ISSUER]), id_token_callers=ACCOUNTS)
    with pytest.raises(UnauthenticatedError, match="not accepted"):
        auth.authenticate({"Authorization": f"Bearer {signer.token()}"})


def test_unreachable_certificates_are_a_dependency_down() -> None:
    tokens = GoogleIdTokens("http://127.0.0.1:9/certs", [ISSUER], timeout_s=1)
    with pytest.raises(DependencyUnavailableError, match="google-certs"):
        tokens.verify(Issuer().token(), [AUDIENCE])


def test_a_malformed_token_is_not_repeated_in_the_error(issuer: tuple[Issuer, str]) -> None:
    _, url = issuer
    secret = "notajwt" + "x" * 40
    with pytest.raises(UnauthenticatedError) as caught:
        GoogleIdTokens(url, [ISSUER]).verify(secret, [AUDIENCE])
    assert secret not in caught.value.message


# --- API keys ------------------------------------------------------------------------------


def test_a_key_is_stored_as_its_sha256_and_new_keys_look_alike() -> None:
    assert hash_key(KEY_A) == hashlib.sha256(KEY_A.encode()).hexdigest()
    assert KEY_PATTERN.fullmatch(new_key())
    assert new_key() != new_key()


def test_matching_compares_with_every_entry_in_constant_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    compared: list[bytes] = []
    real = hmac.compare_digest

    def compare(a: bytes, b: bytes) -> bool:
        compared.append(b)
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", compare)  # the one callers.py calls
    entries = [
        ApiKey(Caller(n, "api_key", frozenset()), hash_key(k))
        for n, k in (("a", KEY_A), ("b", KEY_B), ("c", "cwk_" + "c" * 43))
    ]
    assert match_key(KEY_A, entries) == entries[0].caller  # the first matches...
    assert len(compared) == 3  # ...and every other entry is still compared
    assert match_key("cwk_" + "z" * 43, entries) is None
    assert len(compared) == 6


@pytest.mark.parametrize(
    "headers",
    [
        {"X-API-Key": KEY_A},
        {"x-api-key": KEY_A},  # header names are case-insensitive
        {"Authorization": f"Bearer {KEY_A}"},
        {"Authorization": f"bearer  {KEY_A} "},
    ],
)
def test_a_key_is_taken_from_either_header(headers: dict[str, str]) -> None:
    auth, _, _ = auth_of(api_keys_json(("partner-a", KEY_A, ["process"])))
    assert auth.check(headers, "process").name == "partner-a"


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "no credentials"),
        ({"X-API-Key": KEY_B}, "invalid API key"),  # a well-formed key nobody holds
        ({"Authorization": f"Bearer {KEY_B}"}, "invalid API key"),
        ({"Authorization": f"Basic {KEY_A}"}, "want Bearer"),
        ({"Authorization": "Bearer "}, "want Bearer"),
        ({"Authorization": "Bearer eyJhbGciOi.x.y"}, "not accepted"),  # a token, none accepted
    ],
)
def test_without_a_valid_credential_the_request_is_unauthenticated(
    headers: dict[str, str], reason: str
) -> None:
    auth, _, _ = auth_of(api_keys_json(("partner-a", KEY_A, ["process"])))
    with pytest.raises(UnauthenticatedError, match=reason):
        auth.check(headers, "process")


def test_a_key_without_the_scope_is_forbidden_and_no_scope_needs_none() -> None:
    auth, _, _ = auth_of(api_keys_json(("partner-a", KEY_A, ["predictions"])))
    with pytest.raises(ForbiddenError, match="lacks the scope 'process'"):
        auth.check({"X-API-Key": KEY_A}, "process")
    assert auth.check({"X-API-Key": KEY_A}, "predictions").name == "partner-a"
    assert auth.check({"X-API-Key": KEY_A}, None).name == "partner-a"  # /status, /metrics


def test_the_keys_come_from_a_mounted_file_and_a_bad_secret_names_only_its_variable(
    tmp_path: Path,
) -> None:
    path = tmp_path / "keys.json"
    path.write_text(api_keys_json(("partner-a", KEY_A, ["process"])))
    assert load_document("CAMWATCH_API_KEYS", str(path), "api_keys")["keys"][0]["name"] == (
        "partner-a"
    )
    for bad in ('{"keys": [{"name": "x", "sha256": "' + KEY_A + '", "scopes": []}]}', "{oops"):
        with pytest.raises(ConfigError, match="CAMWATCH_API_KEYS") as caught:
            load_document("CAMWATCH_API_KEYS", bad, "api_keys")
        assert KEY_A not in caught.value.message
        assert caught.value.__cause__ is None  # nor in a chained error's message
    with pytest.raises(ConfigError, match="cannot read"):
        load_document("CAMWATCH_API_KEYS", str(tmp_path / "missing.json"), "api_keys")


def test_the_cli_makes_a_key_whose_entry_lets_it_in(capsys: pytest.CaptureFixture[str]) -> None:
    assert api_keys.main(["new", "partner-x", "--scopes", "process", "--per-minute", "60"]) == 0
    lines = capsys.readouterr().out.splitlines()
    key = lines[0].rsplit(" ", 1)[1]
    entry = json.loads(lines[-1])
    assert KEY_PATTERN.fullmatch(key)
    assert entry == {
        "name": "partner-x",
        "sha256": hash_key(key),
        "scopes": ["process"],
        "per_minute": 60,
    }
    auth, _, _ = auth_of(json.dumps({"keys": [entry]}))
    assert auth.check({"X-API-Key": key}, "process").per_minute == 60
    assert api_keys.main(["hash", key, "--name", "partner-x", "--scopes", "process"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["sha256"] == hash_key(key)
    with pytest.raises(SystemExit):
        api_keys.main(["new", "partner-x", "--scopes", "admin"])


# --- the token bucket ------------------------------------------------------------------------


@pytest.mark.parametrize(("per_minute", "burst"), [(600, 100), (60, 10), (5, 1), (1, 1)])
def test_a_bucket_holds_ten_seconds_of_requests_and_at_least_one(
    per_minute: int, burst: int
) -> None:
    assert burst_of(per_minute) == burst


def test_a_burst_empties_the_bucket_then_it_refills_at_the_rate() -> None:
    auth, _, clock = auth_of(api_keys_json(("partner-a", KEY_A, ["process"]), per_minute=60))
    headers = {"X-API-Key": KEY_A}
    for _ in range(10):  # the burst: 10 s at 1 request per second
        auth.check(headers, "process")
    with pytest.raises(RateLimitedError) as caught:
        auth.check(headers, "process")
    assert caught.value.retry_after_s == 1
    clock.now += 0.5
    with pytest.raises(RateLimitedError):  # half a token is not a request
        auth.check(headers, "process")
    clock.now += 0.5
    auth.check(headers, "process")  # one token back after a second
    clock.now += 3600
    for _ in range(10):  # full again, never more than the burst
        auth.check(headers, "process")
    with pytest.raises(RateLimitedError):
        auth.check(headers, "process")


def test_retry_after_is_the_real_wait_rounded_up() -> None:
    auth, _, clock = auth_of(api_keys_json(("slow", KEY_A, ["process"]), per_minute=4))
    auth.check({"X-API-Key": KEY_A}, "process")  # burst of 1
    clock.now += 1
    with pytest.raises(RateLimitedError) as caught:
        auth.check({"X-API-Key": KEY_A}, "process")
    assert caught.value.retry_after_s == 14  # 15 s a token, 1 s gone


def test_one_callers_burst_does_not_starve_another() -> None:
    keys = json.dumps(
        {
            "keys": [
                {
                    "name": "greedy",
                    "sha256": hash_key(KEY_A),
                    "scopes": ["process"],
                    "per_minute": 6,
                },
                {"name": "calm", "sha256": hash_key(KEY_B), "scopes": ["process"]},
            ]
        }
    )
    auth, cache, _ = auth_of(keys, rate_per_minute=60)
    auth.check({"X-API-Key": KEY_A}, "process")
    with pytest.raises(RateLimitedError):
        auth.check({"X-API-Key": KEY_A}, "process")
    for _ in range(10):  # the default rate's burst, untouched by the greedy caller
        auth.check({"X-API-Key": KEY_B}, "process")
    assert set(cache.buckets) == {"ratelimit:greedy", "ratelimit:calm"}


def test_with_the_cache_down_no_request_passes() -> None:
    auth, cache, _ = auth_of(api_keys_json(("partner-a", KEY_A, ["process"])))
    cache.down = True
    with pytest.raises(DependencyUnavailableError, match="redis"):
        auth.check({"X-API-Key": KEY_A}, "process")
