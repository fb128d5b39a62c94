"""The URL signer port (how people open one evidence object) and its two adapters.

A V4 signed URL lets whoever holds it GET one object of a private bucket until it expires
(docs/design/evidence.md#signed-urls). google-cloud-storage builds the URL
(``Blob.generate_signed_url``) with any ``google.auth.credentials.Signing``; the adapters
differ only in who signs the string-to-sign:

- :class:`IamUrlSigner` (Cloud Run): the IAM Service Account Credentials API ``signBlob``
  signs with the service account's Google-managed key, so no key file exists anywhere.
- :class:`KeyUrlSigner` (local stack, tests): a private key held in memory, by default a
  throw-away RSA key made at start, whose URLs open on fake-gcs-server (it checks no
  signature).
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from datetime import timedelta
from typing import Protocol

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import credentials as gcredentials
from google.auth import crypt
from google.auth import exceptions as gauth_exceptions
from google.cloud import storage  # type: ignore[attr-defined]
from google.oauth2 import service_account

from shared.adapters.deadlines import SIGN_BLOB_TIMEOUT_S
from shared.errors import ConfigError, DependencyUnavailableError
from shared.settings import Settings
from shared.settings_evidence import MAX_SIGNED_URL_S

STORAGE_ENDPOINT = "https://storage.googleapis.com"
IAM_ENDPOINT = "https://iamcredentials.googleapis.com"
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
LOCAL_SIGNER = "camwatch-local@camwatch-local.iam.gserviceaccount.com"

# A bucket name as Cloud Storage accepts it (3-63 characters per dot-separated name, 222 in all).
_BUCKET = re.compile(r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]")


class UrlSigner(Protocol):
    """Signs GET URLs of single objects."""

    def sign(self, uri: str, expires_s: int) -> str:
        """A V4 signed GET URL of ``gs://bucket/name``, valid for ``expires_s`` seconds.

        Raises:
            ValueError: not a ``gs://`` URI of a bucket and object, or ``expires_s`` outside
                1 s .. 7 days.
            DependencyUnavailableError: ("iam") signing failed (IAM down or refused).
        """
        ...


def parse_gs_uri(uri: str) -> tuple[str, str]:
    """``(bucket, name)`` of ``gs://bucket/name``; ValueError for anything else."""
    bucket, sep, name = uri.removeprefix("gs://").partition("/")
    if not uri.startswith("gs://") or not sep or not name or not _BUCKET.fullmatch(bucket):
        raise ValueError(f"not a gs://bucket/object URI: {uri!r}")
    if "\r" in name or "\n" in name or len(name.encode()) > 1024:
        raise ValueError(f"not a valid object name: {uri!r}")
    return bucket, name


def _signed_url(
    uri: str, expires_s: int, signing: gcredentials.Signing, api_endpoint: str | None
) -> str:
    """The V4 signed GET URL, built by google-cloud-storage with ``signing``'s key."""
    bucket, name = parse_gs_uri(uri)
    if not 1 <= expires_s <= MAX_SIGNED_URL_S:
        raise ValueError(f"expires_s must be 1..{MAX_SIGNED_URL_S} (7 days), not {expires_s}")
    # The anonymous client only supplies the universe domain: it never connects.
    client = storage.Client.create_anonymous_client()
    blob = client.bucket(bucket).blob(name)
    url: str = blob.generate_signed_url(
        version="v4",
        expiration=timedelta(seconds=expires_s),
        method="GET",
        credentials=signing,
        api_access_endpoint=(api_endpoint or STORAGE_ENDPOINT).rstrip("/"),
    )
    return url


class KeyUrlSigner:
    """Signs with a private key held in memory (the local stack and tests).

    Args:
        credentials: service account credentials with a private key.
        api_endpoint: where the URL points (fake-gcs-server's URL locally; None: Cloud
            Storage).
    """

    def __init__(
        self, credentials: service_account.Credentials, api_endpoint: str | None = None
    ) -> None:
        self._credentials = credentials
        self._api_endpoint = api_endpoint
        self._public_pem: bytes | None = None  # known when the key was made here

    @classmethod
    def throwaway(cls, api_endpoint: str | None = None, email: str = LOCAL_SIGNER) -> KeyUrlSigner:
        """A fresh RSA-2048 key made in memory (never written): for the local stack."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        info = {
            "type": "service_account",
            "project_id": email.partition("@")[2].split(".")[0] or "local",
            "private_key_id": "throwaway",
            "private_key": pem.decode(),
            "client_email": email,
            "token_uri": "https://oauth2.googleapis.com/token",  # never called: no token
        }
        creds = service_account.Credentials.from_service_account_info(info)  # type: ignore[no-untyped-call]
        signer = cls(creds, api_endpoint)
        signer._public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return signer

    @property
    def public_key_pem(self) -> bytes:
        """The signing key's public half (PEM, SubjectPublicKeyInfo): tests verify with it.

        Raises:
            TypeError: the key came with ``credentials`` (google-auth exposes no public half;
                take it from the key file).
        """
        if self._public_pem is None:
            raise TypeError("only a throwaway() signer knows its public key")
        return self._public_pem

    def sign(self, uri: str, expires_s: int) -> str:
        """A V4 signed GET URL of ``uri`` (see :class:`UrlSigner`); signing is local."""
        return _signed_url(uri, expires_s, self._credentials, self._api_endpoint)


class _SignBlobSigner(crypt.Signer):
    """Signs bytes with IAM ``signBlob`` (POST ``{endpoint}/v1/projects/-/serviceAccounts/
    {email}:signBlob`` ``{"payload": base64}`` -> ``{"keyId", "signedBlob"}``).

    google-auth's ``google.auth.iam.Signer`` speaks the same protocol, but it hard-codes the
    endpoint (tests could not point it at a local fake), takes no timeout and retries 5xx
    answers with backoff: a signature is wanted now or the message is retried later.
    """

    def __init__(self, signer: IamUrlSigner) -> None:
        self._owner = signer

    @property
    def key_id(self) -> str | None:
        """Unknown before signing (IAM picks one of the account's keys)."""
        return None

    def sign(self, message: str | bytes) -> bytes:
        """The RSA-SHA256 signature of ``message`` by the service account's key."""
        return self._owner.sign_blob(message.encode() if isinstance(message, str) else message)


class _IamSigning(gcredentials.Signing):
    """The ``Signing`` credentials google-cloud-storage signs URLs with, backed by IAM."""

    def __init__(self, signer: IamUrlSigner) -> None:
        self._signer = _SignBlobSigner(signer)
        self._email = signer.service_account

    def sign_bytes(self, message: bytes) -> bytes:
        return self._signer.sign(message)

    @property
    def signer_email(self) -> str:
        return self._email

    @property
    def signer(self) -> crypt.Signer:
        return self._signer


class IamUrlSigner:
    """Signs through the IAM Service Account Credentials API (Cloud Run: no key file).

    The caller's credentials need ``iam.serviceAccounts.signBlob`` on ``service_account``
    (``roles/iam.serviceAccountTokenCreator``, granted to the functions' account on itself).

    Args:
        service_account: email of the account whose key signs (it appears in the URL).
        iam_endpoint: the API root; tests point it at a local fake.
        session: an authorized session (None: Application Default Credentials with the
            cloud-platform scope, made on first use).
        api_endpoint: where the URL points (None: Cloud Storage).
        timeout_s: connect and read timeout of one signBlob call.
    """

    def __init__(
        self,
        service_account: str,
        iam_endpoint: str = IAM_ENDPOINT,
        session: requests.Session | None = None,
        api_endpoint: str | None = None,
        timeout_s: float = SIGN_BLOB_TIMEOUT_S,
    ) -> None:
        if "@" not in service_account:
            raise ConfigError(f"signer service account is not an email: {service_account!r}")
        self.service_account = service_account
        self._url = (
            f"{iam_endpoint.rstrip('/')}/v1/projects/-/serviceAccounts/{service_account}:signBlob"
        )
        self._session = session
        self._lock = threading.Lock()
        self._api_endpoint = api_endpoint
        self._timeout = timeout_s
        self._signing = _IamSigning(self)

    def sign(self, uri: str, expires_s: int) -> str:
        """A V4 signed GET URL of ``uri`` (see :class:`UrlSigner`): one signBlob call."""
        return _signed_url(uri, expires_s, self._signing, self._api_endpoint)

    def sign_blob(self, payload: bytes) -> bytes:
        """The signature IAM's signBlob gives ``payload``.

        Raises:
            DependencyUnavailableError: ("iam") no credentials, a transport error or
                timeout, a non-200 answer (403: the role is missing), or a malformed answer.
        """
        body = {"payload": base64.b64encode(payload).decode("ascii")}
        try:
            answer = self._authorized().post(self._url, json=body, timeout=self._timeout)
        except (requests.RequestException, gauth_exceptions.GoogleAuthError) as exc:
            raise DependencyUnavailableError("iam", f"signBlob failed: {exc}") from exc
        if answer.status_code != 200:
            hint = (
                f" ({self.service_account} needs roles/iam.serviceAccountTokenCreator)"
                if answer.status_code == 403
                else ""
            )
            raise DependencyUnavailableError(
                "iam", f"signBlob answered {answer.status_code}{hint}: {answer.text[:200]}"
            )
        try:
            signed = answer.json()["signedBlob"]
            return base64.b64decode(signed, validate=True)
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise DependencyUnavailableError("iam", f"malformed signBlob answer: {exc!r}") from exc

    def _authorized(self) -> requests.Session:
        """The session, made from Application Default Credentials on first use."""
        with self._lock:
            if self._session is None:
                from google.auth import default
                from google.auth.transport.requests import AuthorizedSession

                creds, _ = default(scopes=[CLOUD_PLATFORM])
                self._session = AuthorizedSession(creds)  # type: ignore[no-untyped-call]
            return self._session


def make_signer(settings: Settings) -> UrlSigner:
    """The signer ``CAMWATCH_URL_SIGNER`` asks for.

    auto: a throw-away key (URLs on ``STORAGE_EMULATOR_HOST``) when the storage emulator is
    set, else IAM with ``CAMWATCH_SIGNER_SERVICE_ACCOUNT``. key: a throw-away key (its URLs
    open only on fake-gcs-server, which checks no signature). iam: IAM signBlob.

    Raises:
        ConfigError: iam without ``CAMWATCH_SIGNER_SERVICE_ACCOUNT``.
    """
    kind = settings.url_signer
    if kind == "auto":
        kind = "key" if settings.storage_emulator_host else "iam"
    if kind == "key":
        return KeyUrlSigner.throwaway(api_endpoint=settings.storage_emulator_host)
    if not settings.signer_service_account:
        raise ConfigError(
            "CAMWATCH_SIGNER_SERVICE_ACCOUNT is not set: the IAM URL signer needs the email "
            "of the service account that signs evidence URLs"
        )
    return IamUrlSigner(
        settings.signer_service_account,
        settings.iam_endpoint,
        api_endpoint=settings.storage_emulator_host,
    )
