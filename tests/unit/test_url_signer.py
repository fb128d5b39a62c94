"""The key URL signer, checked by an independent V4 verifier (fake-gcs-server checks none),
and the choice of signer from the settings. The IAM signer is tested against a fake IAM
server in tests/integration/test_url_signer.py."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest

from shared.adapters.url_signer import IamUrlSigner, KeyUrlSigner, make_signer, parse_gs_uri
from shared.errors import ConfigError, DependencyUnavailableError
from shared.settings import Settings
from tests.signed_urls import BadSignedUrlError, SignedUrl, verify_v4

EMULATOR = "http://127.0.0.1:4443"
WEEK_S = 7 * 24 * 3600
URI = "gs://camwatch-evidence/evidence/cam-1/2026/11/30/v-42.jpg"
SIGNER = KeyUrlSigner.throwaway(api_endpoint=EMULATOR)  # one RSA key for the module


def _signed_at(url: str) -> datetime:
    """The URL's X-Goog-Date."""
    stamp = dict(p.split("=", 1) for p in urlsplit(url).query.split("&"))["X-Goog-Date"]
    return datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def _signed(url: str) -> SignedUrl:
    """The URL's grant, checked with the module's key at its own signing time."""
    return verify_v4(url, SIGNER.public_key_pem, _signed_at(url))


def test_a_key_signed_url_verifies_and_points_at_the_emulator() -> None:
    url = SIGNER.sign(URI, 3600)
    granted = _signed(url)
    assert (granted.bucket, granted.name) == parse_gs_uri(URI)
    assert granted.signer_email == "camwatch-local@camwatch-local.iam.gserviceaccount.com"
    assert granted.expires_s == 3600
    assert url.startswith(f"{EMULATOR}/camwatch-evidence/evidence/cam-1/2026/11/30/v-42.jpg?")


@pytest.mark.parametrize(
    "name",
    [
        "evidence/cam 1/2026/11/30/v-1.jpg",  # a space
        "latest/café+#?&=.jpg",  # non-ASCII and the URL's own separators
        "a//b/./~x.jpg",  # empty and dot segments stay literal
    ],
)
def test_object_names_are_encoded_and_signed_as_they_are(name: str) -> None:
    granted = _signed(SIGNER.sign(f"gs://camwatch-evidence/{name}", 60))
    assert granted.name == name


def test_without_an_endpoint_the_url_is_cloud_storage() -> None:
    signer = KeyUrlSigner.throwaway(email="someone@proj.iam.gserviceaccount.com")
    url = signer.sign(URI, 60)
    assert url.startswith("https://storage.googleapis.com/camwatch-evidence/evidence/")
    assert "someone%40proj.iam.gserviceaccount.com" in url
    assert SIGNER.public_key_pem != signer.public_key_pem  # a fresh key each time


def _tamper(url: str, old: str, new: str) -> str:
    assert old in url
    return url.replace(old, new, 1)


def _later_date(url: str) -> str:
    """The URL claiming to be signed a second later (the same day's scope)."""
    at = _signed_at(url)
    new = (at + timedelta(seconds=1 if at.second < 59 else -1)).strftime("%Y%m%dT%H%M%SZ")
    return _tamper(url, f"X-Goog-Date={at:%Y%m%dT%H%M%SZ}", f"X-Goog-Date={new}")


TAMPERS: dict[str, Callable[[str], str]] = {
    "another object": lambda url: _tamper(url, "/v-42.jpg?", "/v-43.jpg?"),
    "another bucket": lambda url: _tamper(url, "/camwatch-evidence/", "/camwatch-other/"),
    "a longer life": lambda url: _tamper(url, "X-Goog-Expires=3600", "X-Goog-Expires=7200"),
    "a shorter life": lambda url: _tamper(url, "X-Goog-Expires=3600", "X-Goog-Expires=60"),
    "another signing time": _later_date,
    "another host": lambda url: _tamper(url, "127.0.0.1:4443", "127.0.0.1:4444"),
    "another signer": lambda url: _tamper(url, "camwatch-local%40", "camwatch-other%40"),
    "another signature": lambda url: _tamper(url, "X-Goog-Signature=", "X-Goog-Signature=00"),
    "a parameter added": lambda url: url + "&response-content-type=text%2Fhtml",
}


@pytest.mark.parametrize("tamper", TAMPERS.values(), ids=TAMPERS.keys())
def test_a_tampered_url_fails(tamper: Callable[[str], str]) -> None:
    url = SIGNER.sign(URI, 3600)
    at = _signed_at(url) + timedelta(seconds=2)
    verify_v4(url, SIGNER.public_key_pem, at)  # the original verifies
    with pytest.raises(BadSignedUrlError):
        verify_v4(tamper(url), SIGNER.public_key_pem, at)


def test_another_key_does_not_verify() -> None:
    other = KeyUrlSigner.throwaway(api_endpoint=EMULATOR)
    url = other.sign(URI, 3600)
    at = _signed_at(url)
    assert verify_v4(url, other.public_key_pem, at).expires_s == 3600
    with pytest.raises(BadSignedUrlError, match="signature"):
        verify_v4(url, SIGNER.public_key_pem, at)


@pytest.mark.parametrize("expires_s", [1, 600, 3 * 24 * 3600, WEEK_S])
def test_valid_until_expires_s_then_expired(expires_s: int) -> None:
    url = SIGNER.sign(URI, expires_s)
    at = _signed_at(url)
    last = at + timedelta(seconds=expires_s - 1)
    assert verify_v4(url, SIGNER.public_key_pem, last).expires_s == expires_s
    with pytest.raises(BadSignedUrlError, match="expired"):
        verify_v4(url, SIGNER.public_key_pem, at + timedelta(seconds=expires_s))
    with pytest.raises(BadSignedUrlError, match="not valid before"):
        verify_v4(url, SIGNER.public_key_pem, at - timedelta(seconds=1))


@pytest.mark.parametrize("expires_s", [WEEK_S + 1, 30 * 24 * 3600, 0, -60])
def test_expiry_beyond_seven_days_or_not_positive_is_refused(expires_s: int) -> None:
    with pytest.raises(ValueError, match="expires_s"):
        SIGNER.sign(URI, expires_s)


@pytest.mark.parametrize(
    "uri",
    [
        "https://storage.googleapis.com/b/o.jpg",  # not gs://
        "gs://camwatch-evidence",  # no object
        "gs://camwatch-evidence/",  # an empty object name
        "gs:///evidence/x.jpg",  # no bucket
        "gs://Camwatch-Evidence/x.jpg",  # upper case is not a bucket name
        "gs://b/x.jpg",  # a bucket name is 3 characters at least
        "camwatch-evidence/x.jpg",  # no scheme
        "gs://camwatch-evidence/a\nb.jpg",  # newlines are not allowed in object names
        "gs://camwatch-evidence/" + "x" * 1025,  # over 1024 bytes
        "",
    ],
)
def test_bad_uris_are_refused(uri: str) -> None:
    with pytest.raises(ValueError, match=r"gs://|object name"):
        SIGNER.sign(uri, 60)


def test_public_key_is_known_only_for_a_throwaway_key() -> None:
    given = KeyUrlSigner(SIGNER._credentials)
    assert _signed(given.sign(URI, 60)).expires_s == 60  # signs with the same key
    with pytest.raises(TypeError, match="throwaway"):
        _ = given.public_key_pem


# make_signer: which adapter the settings give (no call is made).


def test_auto_with_the_storage_emulator_is_a_throwaway_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", EMULATOR)
    signer = make_signer(Settings())
    assert isinstance(signer, KeyUrlSigner)
    assert signer.sign(URI, 60).startswith(f"{EMULATOR}/camwatch-evidence/")


def test_auto_in_the_cloud_is_iam(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMWATCH_SIGNER_SERVICE_ACCOUNT", "fn@proj.iam.gserviceaccount.com")
    monkeypatch.setenv("CAMWATCH_IAM_ENDPOINT", "http://127.0.0.1:9/")
    signer = make_signer(Settings())
    assert isinstance(signer, IamUrlSigner)
    assert signer.service_account == "fn@proj.iam.gserviceaccount.com"
    assert signer._url == (
        "http://127.0.0.1:9/v1/projects/-/serviceAccounts/fn@proj.iam.gserviceaccount.com:signBlob"
    )


@pytest.mark.parametrize("emulator", [None, EMULATOR])
def test_iam_without_a_service_account_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, emulator: str | None
) -> None:
    monkeypatch.setenv("CAMWATCH_URL_SIGNER", "iam")
    if emulator:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", emulator)
    with pytest.raises(ConfigError, match="CAMWATCH_SIGNER_SERVICE_ACCOUNT"):
        make_signer(Settings())


def test_key_is_a_throwaway_key_even_without_the_emulator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMWATCH_URL_SIGNER", "key")
    monkeypatch.setenv("CAMWATCH_SIGNER_SERVICE_ACCOUNT", "fn@proj.iam.gserviceaccount.com")
    signer = make_signer(Settings())
    assert isinstance(signer, KeyUrlSigner)
    assert signer.sign(URI, 60).startswith("https://storage.googleapis.com/")


def test_iam_without_credentials_is_dependency_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    def no_credentials(**_: object) -> None:
        raise DefaultCredentialsError("no ADC here")

    monkeypatch.setattr(google.auth, "default", no_credentials)
    signer = IamUrlSigner("fn@proj.iam.gserviceaccount.com", "http://127.0.0.1:9")
    with pytest.raises(DependencyUnavailableError, match=r"iam unavailable: .*no ADC here"):
        signer.sign(URI, 60)
    with pytest.raises(ValueError, match="gs://"):
        signer.sign("gs://nope", 60)  # the URI is checked before any call


def test_iam_signer_wants_an_email() -> None:
    with pytest.raises(ConfigError, match="email"):
        IamUrlSigner("projects/-/serviceAccounts/fn")
