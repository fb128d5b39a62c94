"""The ID token port and its adapter: Google ID tokens verified with google-auth.

``google.oauth2.id_token.verify_token`` checks the signature (against Google's certificates, a
PEM map or a JWKS at ``certs_url``), the expiry and the audience; this adapter adds the issuer
and a required ``exp``, fetches the certificates with a timeout and keeps them for
:data:`CERTS_TTL_S` (Google rotates them every few days, announced a while before).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import requests
from google.auth import exceptions as google_exceptions
from google.auth.transport import Response
from google.auth.transport.requests import Request
from google.oauth2 import id_token

from shared.adapters.deadlines import CERTS_TIMEOUT_S
from shared.errors import DependencyUnavailableError, UnauthenticatedError

CERTS_TTL_S = 300.0
FETCH_TIMEOUT_S = CERTS_TIMEOUT_S


class IdTokens(Protocol):
    """Verifies a bearer ID token; returns its claims."""

    def verify(self, token: str, audiences: Sequence[str]) -> Mapping[str, Any]:
        """The claims of a valid token.

        Raises:
            UnauthenticatedError: a bad signature, expired, another audience or issuer.
            DependencyUnavailableError: the certificates could not be fetched.
        """
        ...


class _CachedCerts:
    """A google-auth transport that fetches with a timeout and keeps 200 answers a while."""

    def __init__(self, ttl_s: float, timeout_s: float) -> None:
        self._request = Request(requests.Session())
        self._ttl_s = ttl_s
        self._timeout_s = timeout_s
        self._kept: dict[str, tuple[float, Response]] = {}
        self._lock = threading.Lock()

    def __call__(self, url: str, method: str = "GET", **kwargs: Any) -> Response:
        now = time.monotonic()
        with self._lock:
            kept = self._kept.get(url)
        if kept and now - kept[0] < self._ttl_s:
            return kept[1]
        try:
            response: Response = self._request(url, method=method, timeout=self._timeout_s)
        except google_exceptions.TransportError as exc:
            raise DependencyUnavailableError("google-certs", str(exc)) from exc
        if response.status != 200:
            raise DependencyUnavailableError("google-certs", f"{url}: HTTP {response.status}")
        with self._lock:
            self._kept[url] = (now, response)
        return response


class GoogleIdTokens:
    """Google ID tokens, against the certificates at ``certs_url`` and the given issuers."""

    def __init__(
        self,
        certs_url: str,
        issuers: Sequence[str],
        ttl_s: float = CERTS_TTL_S,
        timeout_s: float = FETCH_TIMEOUT_S,
    ) -> None:
        self._certs_url = certs_url
        self._issuers = frozenset(issuers)
        self._transport = _CachedCerts(ttl_s, timeout_s)

    def verify(self, token: str, audiences: Sequence[str]) -> Mapping[str, Any]:
        """Signature, expiry, audience (google-auth), then ``exp`` present and the issuer."""
        try:
            claims: Mapping[str, Any] = id_token.verify_token(
                token,
                self._transport,  # type: ignore[arg-type]
                audience=list(audiences),
                certs_url=self._certs_url,
            )
        except DependencyUnavailableError:
            raise
        except Exception as exc:  # google-auth and PyJWT raise many kinds (ValueError, ...)
            raise UnauthenticatedError(f"invalid ID token: {_reason(exc, token)}") from exc
        if "exp" not in claims:
            raise UnauthenticatedError("invalid ID token: no expiry")
        if claims.get("iss") not in self._issuers:
            raise UnauthenticatedError("invalid ID token: issuer not accepted")
        return claims


def _reason(exc: Exception, token: str) -> str:
    """A short reason that never repeats the token (google-auth quotes a malformed one)."""
    message = str(exc)
    if any(len(part) >= 8 and part in message for part in token.split(".")):
        return type(exc).__name__
    return f"{type(exc).__name__}: {message[:120]}"
