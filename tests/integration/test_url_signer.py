"""The URL signers over HTTP: the IAM signer against a fake IAM Service Account Credentials
API on 127.0.0.1, and a throw-away key's URL downloading from fake-gcs-server."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from shared.adapters.blobstore import GcsBlobStore, storage_client
from shared.adapters.url_signer import IamUrlSigner, KeyUrlSigner
from shared.devstack.procs import free_port
from shared.errors import DependencyUnavailableError
from shared.settings import Settings
from tests.conftest import jpeg
from tests.signed_urls import BadSignedUrlError, verify_v4

pytestmark = pytest.mark.integration

ACCOUNT = "camwatch-fn@demo.iam.gserviceaccount.com"
URI = "gs://camwatch-evidence/evidence/cam-1/2026/11/30/v-7.jpg"


@dataclass
class FakeIam:
    """signBlob as documented: POST /v1/projects/-/serviceAccounts/{email}:signBlob with
    ``{"payload": base64}`` answers ``{"keyId", "signedBlob"}``, signed by a throw-away key.

    ``answer`` scripts the next answers: ``ok``, an HTTP status (``403``, ``500``), ``hang``
    (no answer until the test ends) or ``garbage`` (200 with a body that is not JSON).
    """

    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    answer: str = "ok"
    payloads: list[bytes] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # why requests were refused
    release: threading.Event = field(default_factory=threading.Event)
    port: int = 0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def public_key_pem(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def handle(self, method: str, path: str, content_type: str, body: bytes) -> tuple[int, bytes]:
        """The status and body for one request."""
        want = f"/v1/projects/-/serviceAccounts/{ACCOUNT}:signBlob"
        if method != "POST" or path != want:
            self.refused.append(f"{method} {path}")
            return 404, b'{"error": {"code": 404, "status": "NOT_FOUND"}}'
        try:
            request = json.loads(body)
            assert content_type.startswith("application/json"), content_type
            assert set(request) == {"payload"}, request
            payload = base64.b64decode(request["payload"], validate=True)
        except (ValueError, AssertionError, TypeError) as exc:
            self.refused.append(f"bad body: {exc}")
            return 400, b'{"error": {"code": 400, "status": "INVALID_ARGUMENT"}}'
        self.payloads.append(payload)
        if self.answer == "hang":
            self.release.wait(30)
            return 503, b""
        if self.answer == "garbage":
            return 200, b"<html>not json</html>"
        if self.answer != "ok":
            return int(self.answer), b'{"error": {"status": "PERMISSION_DENIED"}}'
        signature = self.key.sign(payload, padding.PKCS1v15(), hashes.SHA256())
        blob = base64.b64encode(signature).decode()
        return 200, json.dumps({"keyId": "fake-key-1", "signedBlob": blob}).encode()


@pytest.fixture
def fake_iam() -> Iterator[FakeIam]:
    """A :class:`FakeIam` on a free port of 127.0.0.1, for one test."""
    fake = FakeIam()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            size = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(size)
            ctype = self.headers.get("Content-Type", "")
            status, data = fake.handle(self.command, self.path, ctype, body)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            self._answer()

        def do_GET(self) -> None:
            self._answer()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    fake.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.release.set()
        server.shutdown()
        server.server_close()


def _iam(fake: FakeIam, account: str = ACCOUNT, timeout_s: float = 5.0) -> IamUrlSigner:
    return IamUrlSigner(account, fake.endpoint, session=requests.Session(), timeout_s=timeout_s)


def test_iam_signed_url_verifies_with_the_iam_key(fake_iam: FakeIam) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    url = _iam(fake_iam).sign(URI, 3600)
    assert fake_iam.refused == []
    granted = verify_v4(url, fake_iam.public_key_pem, datetime.now(UTC))
    assert (granted.bucket, granted.name) == (
        "camwatch-evidence",
        "evidence/cam-1/2026/11/30/v-7.jpg",
    )
    assert granted.signer_email == ACCOUNT
    assert before <= granted.signed_at <= datetime.now(UTC)
    assert url.startswith("https://storage.googleapis.com/camwatch-evidence/evidence/")
    (payload,) = fake_iam.payloads  # one signBlob call: the string-to-sign
    assert payload.startswith(b"GOOG4-RSA-SHA256\n")
    with pytest.raises(BadSignedUrlError, match="expired"):
        verify_v4(url, fake_iam.public_key_pem, granted.signed_at + timedelta(seconds=3600))


def test_iam_signed_url_fails_with_another_key(fake_iam: FakeIam) -> None:
    url = _iam(fake_iam).sign(URI, 60)
    other = KeyUrlSigner.throwaway()
    with pytest.raises(BadSignedUrlError, match="signature"):
        verify_v4(url, other.public_key_pem, datetime.now(UTC))


def test_iam_signer_points_the_url_at_its_api_endpoint(fake_iam: FakeIam) -> None:
    signer = IamUrlSigner(
        ACCOUNT, fake_iam.endpoint, requests.Session(), api_endpoint="http://127.0.0.1:4443"
    )
    url = signer.sign(URI, 60)
    assert url.startswith("http://127.0.0.1:4443/camwatch-evidence/")
    assert verify_v4(url, fake_iam.public_key_pem, datetime.now(UTC)).expires_s == 60


@pytest.mark.parametrize(
    ("answer", "match"),
    [
        ("403", r"signBlob answered 403 \(.*roles/iam.serviceAccountTokenCreator\)"),
        ("500", r"signBlob answered 500"),
        ("429", r"signBlob answered 429"),
        ("garbage", r"malformed signBlob answer"),
    ],
)
def test_iam_errors_are_dependency_unavailable(fake_iam: FakeIam, answer: str, match: str) -> None:
    fake_iam.answer = answer
    with pytest.raises(DependencyUnavailableError, match=match) as caught:
        _iam(fake_iam).sign(URI, 60)
    assert caught.value.dependency == "iam"
    assert len(fake_iam.payloads) == 1  # one try: Pub/Sub's redelivery is the retry


def test_the_fake_checks_the_path(fake_iam: FakeIam) -> None:
    with pytest.raises(DependencyUnavailableError, match="answered 404"):
        _iam(fake_iam, account="someone-else@demo.iam.gserviceaccount.com").sign(URI, 60)
    assert fake_iam.refused == [
        "POST /v1/projects/-/serviceAccounts/someone-else@demo.iam.gserviceaccount.com:signBlob"
    ]


def test_a_hung_iam_times_out(fake_iam: FakeIam) -> None:
    fake_iam.answer = "hang"
    started = time.monotonic()
    with pytest.raises(DependencyUnavailableError, match="iam unavailable: signBlob failed"):
        _iam(fake_iam, timeout_s=0.5).sign(URI, 60)
    assert 0.4 < time.monotonic() - started < 3.0


def test_iam_down_is_dependency_unavailable() -> None:
    signer = IamUrlSigner(ACCOUNT, f"http://127.0.0.1:{free_port()}", requests.Session(), None, 1)
    with pytest.raises(DependencyUnavailableError, match="iam"):
        signer.sign(URI, 60)


def test_throwaway_key_url_downloads_from_fake_gcs(stack_settings: Settings) -> None:
    emulator = stack_settings.storage_emulator_host
    assert emulator
    bucket = f"signed-{uuid.uuid4().hex[:12]}"
    storage_client(stack_settings.project_id, emulator).create_bucket(bucket)
    blobs = GcsBlobStore(storage_client(stack_settings.project_id, emulator))
    data = jpeg("car1.jpg")
    name = "evidence/cam 1/2026/11/30/v-1.jpg"  # a space in the name: encoded in the URL
    uri = blobs.write(bucket, name, data, "image/jpeg")
    signer = KeyUrlSigner.throwaway(api_endpoint=emulator)

    url = signer.sign(uri, 600)
    assert url.startswith(f"{emulator}/{bucket}/evidence/cam%201/")
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 200, answer.text[:200]
    assert answer.content == data
    assert verify_v4(url, signer.public_key_pem, datetime.now(UTC)).name == name

    missing = requests.get(signer.sign(f"gs://{bucket}/evidence/none.jpg", 600), timeout=10)
    assert missing.status_code == 404  # the URL names one object, not the bucket
