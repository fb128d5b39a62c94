"""A V4 signed URL verifier, written from Cloud Storage's documents (not from the client
library that signs), because fake-gcs-server checks neither signatures nor expiry.

It rebuilds the canonical request and the string-to-sign from the URL
(https://cloud.google.com/storage/docs/authentication/canonical-requests and
.../signatures), verifies the RSA-SHA256 PKCS#1 v1.5 signature with the public key, and checks
``X-Goog-Date`` + ``X-Goog-Expires`` against ``now``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ALGORITHM = "GOOG4-RSA-SHA256"
MAX_EXPIRES_S = 7 * 24 * 3600


class BadSignedUrlError(AssertionError):
    """The URL would be refused: malformed, a wrong signature, expired or not yet valid."""


@dataclass(frozen=True)
class SignedUrl:
    """What a verified URL grants."""

    bucket: str
    name: str
    signer_email: str
    signed_at: datetime
    expires_s: int

    @property
    def expires_at(self) -> datetime:
        """The first instant the URL no longer works."""
        return self.signed_at + timedelta(seconds=self.expires_s)


def _encode(text: str) -> str:
    """Percent-encoding of the canonical query string: all but RFC 3986 unreserved."""
    return quote(text, safe="-_.~")


def _query(raw: str) -> list[tuple[str, str]]:
    """The query's (name, value) pairs, decoded, in URL order (no '+' as space in V4)."""
    pairs = []
    for part in raw.split("&"):
        name, _, value = part.partition("=")
        pairs.append((unquote(name), unquote(value)))
    return pairs


def verify_v4(url: str, public_key_pem: bytes, now: datetime) -> SignedUrl:
    """Check a V4 signed GET URL (path style, ``SignedHeaders=host``) as Cloud Storage would.

    Raises:
        BadSignedUrlError: with the reason.
    """
    parts = urlsplit(url)
    params = dict(_query(parts.query))
    if len(params) != len(_query(parts.query)):
        raise BadSignedUrlError("a query parameter is repeated")
    try:
        signature = bytes.fromhex(params.pop("X-Goog-Signature"))
        algorithm = params["X-Goog-Algorithm"]
        credential = params["X-Goog-Credential"]
        stamp = params["X-Goog-Date"]
        expires_s = int(params["X-Goog-Expires"])
        signed_headers = params["X-Goog-SignedHeaders"]
    except (KeyError, ValueError) as exc:
        raise BadSignedUrlError(f"missing or malformed signing parameter: {exc!r}") from exc
    if algorithm != ALGORITHM:
        raise BadSignedUrlError(f"algorithm {algorithm!r}")
    if signed_headers != "host":
        raise BadSignedUrlError(f"signed headers {signed_headers!r} (want host only)")
    email, _, scope = credential.partition("/")
    if scope != f"{stamp[:8]}/auto/storage/goog4_request":
        raise BadSignedUrlError(f"credential scope {scope!r} does not match date {stamp!r}")
    try:
        signed_at = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError as exc:
        raise BadSignedUrlError(f"X-Goog-Date {stamp!r}") from exc
    if not 1 <= expires_s <= MAX_EXPIRES_S:
        raise BadSignedUrlError(f"X-Goog-Expires {expires_s} outside 1..{MAX_EXPIRES_S}")

    canonical_query = "&".join(
        f"{_encode(k)}={_encode(v)}" for k, v in sorted(params.items(), key=lambda kv: kv[0])
    )
    canonical_request = "\n".join(
        [
            "GET",
            parts.path,  # already percent-encoded as sent
            canonical_query,
            f"host:{parts.netloc.lower()}\n",  # each header line ends with a newline
            "host",
            "UNSIGNED-PAYLOAD",
        ]
    )
    digest = hashlib.sha256(canonical_request.encode("ascii")).hexdigest()
    string_to_sign = "\n".join([ALGORITHM, stamp, scope, digest])

    key = serialization.load_pem_public_key(public_key_pem)
    if not isinstance(key, rsa.RSAPublicKey):
        raise TypeError("want an RSA public key")
    try:
        key.verify(signature, string_to_sign.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature as exc:
        raise BadSignedUrlError("signature does not match the canonical request") from exc

    granted = SignedUrl(*_bucket_and_name(parts.path), email, signed_at, expires_s)
    if now < signed_at:
        raise BadSignedUrlError(f"not valid before {signed_at.isoformat()}")
    if now >= granted.expires_at:
        raise BadSignedUrlError(f"expired at {granted.expires_at.isoformat()}")
    return granted


def _bucket_and_name(path: str) -> tuple[str, str]:
    """Bucket and object name of a path-style resource ``/bucket/name``."""
    bucket, _, name = path.removeprefix("/").partition("/")
    return unquote(bucket), unquote(name)
