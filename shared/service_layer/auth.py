"""Who may call, and how often: request headers -> a :class:`Caller`, or an error.

Schemes: ``Authorization: Bearer <API key>`` or ``X-API-Key: <API key>`` (keys start with
``cwk_``), and ``Authorization: Bearer <Google ID token>`` of a listed service account. A
caller then needs the route's scope (403 without it) and a token of its bucket in Redis
(``ratelimit:{caller}``; 429 with the wait). A dead Redis fails closed: the
DependencyUnavailableError goes up (503), no request passes unchecked (docs/auth.md).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from math import ceil
from pathlib import Path
from typing import Any

from shared.adapters.cache import Cache
from shared.adapters.id_tokens import IdTokens
from shared.domain.callers import (
    KEY_PREFIX,
    ApiKey,
    Caller,
    match_key,
    parse_accounts,
    parse_keys,
)
from shared.errors import (
    ConfigError,
    ForbiddenError,
    MessageRejectedError,
    RateLimitedError,
    UnauthenticatedError,
)
from shared.messages.schemas import validate
from shared.service_layer.idempotency import ratelimit_key
from shared.settings import Settings


def load_document(variable: str, value: str, schema: str) -> dict[str, Any]:
    """A JSON document from a setting: the JSON itself (``{...}``) or a file holding it.

    Raises:
        ConfigError: unreadable, not JSON, or not valid against ``schemas/<schema>``; the
            message names the variable, never the value (it may be a secret).
    """
    text = value.strip()
    try:
        doc = json.loads(text if text.startswith("{") else Path(text).read_text())
        return validate(f"./{schema}", doc)
    except OSError as exc:
        raise ConfigError(f"{variable}: cannot read the file: {exc.strerror}") from exc
    except ValueError:
        raise ConfigError(f"{variable}: not valid JSON") from None
    except MessageRejectedError as exc:  # where only: jsonschema quotes the bad value
        where = exc.message.split(":", 1)[0].removeprefix(f"./{schema}")
        problem = f"{variable}: {where or 'the document'} is not valid against schemas/{schema}"
        raise ConfigError(f"{problem}.schema.json") from None


@dataclass
class Authenticator:
    """Checks a request's credential, scope and rate (one per instance)."""

    keys: Sequence[ApiKey]
    cache: Cache
    default_per_minute: int
    id_tokens: IdTokens | None = None
    audiences: Sequence[str] = ()
    accounts: Mapping[str, Caller] = field(default_factory=dict)
    clock: Callable[[], float] = time.time

    def check(self, headers: Mapping[str, str], scope: str | None) -> Caller:
        """The caller of a request allowed to use ``scope`` (None: any valid caller).

        Raises:
            UnauthenticatedError: no credential, or not a valid one.
            ForbiddenError: a valid caller without ``scope`` (or an account not let in).
            RateLimitedError: the caller's bucket is empty.
            DependencyUnavailableError: Redis is down (fail closed).
        """
        caller = self.authenticate(headers)
        self.authorize(caller, scope)
        return caller

    def authorize(self, caller: Caller, scope: str | None) -> None:
        """ForbiddenError unless ``caller`` holds ``scope``; then one token of its bucket."""
        if not caller.may(scope):
            raise ForbiddenError(f"{caller.name} lacks the scope {scope!r}")
        self.limit(caller)

    def authenticate(self, headers: Mapping[str, str]) -> Caller:
        """The caller named by the request's credential (no scope, no limit)."""
        key = _header(headers, "X-API-Key")
        if key is None:
            bearer = _bearer(headers)
            if bearer is None:
                raise UnauthenticatedError("no credentials: send an API key or a Google ID token")
            if not bearer.startswith(KEY_PREFIX):
                return self._from_token(bearer)
            key = bearer
        caller = match_key(key, self.keys)
        if caller is None:
            raise UnauthenticatedError("invalid API key")
        return caller

    def limit(self, caller: Caller) -> None:
        """Take one token of the caller's bucket, or raise RateLimitedError with the wait."""
        per_minute, burst = caller.rate(self.default_per_minute)
        wait = self.cache.take(ratelimit_key(caller.name), per_minute, burst, self.clock())
        if wait > 0:
            raise RateLimitedError(caller.name, max(1, ceil(wait)))

    def _from_token(self, token: str) -> Caller:
        if self.id_tokens is None or not self.audiences:
            raise UnauthenticatedError("ID tokens are not accepted here: use an API key")
        claims = self.id_tokens.verify(token, self.audiences)
        email = str(claims.get("email", "")).lower()
        caller = self.accounts.get(email) if claims.get("email_verified", True) else None
        if caller is None:
            raise ForbiddenError(f"service account {email or '(no email)'} is not let in")
        return caller


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    found = next((v for k, v in headers.items() if k.lower() == wanted), None)
    return found.strip() if found is not None else None


def _bearer(headers: Mapping[str, str]) -> str | None:
    value = _header(headers, "Authorization")
    if value is None:
        return None
    scheme, _, credential = value.partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise UnauthenticatedError("Authorization: want Bearer <API key or Google ID token>")
    return credential.strip()


def authenticator(settings: Settings, cache: Cache, id_tokens: IdTokens | None) -> Authenticator:
    """The authenticator of the settings (``CAMWATCH_API_KEYS``, ``CAMWATCH_ID_TOKEN_*``)."""
    s = settings
    keys = (
        parse_keys(load_document("CAMWATCH_API_KEYS", s.api_keys, "api_keys")) if s.api_keys else ()
    )
    accounts = (
        parse_accounts(
            load_document("CAMWATCH_ID_TOKEN_CALLERS", s.id_token_callers, "id_token_callers")
        )
        if s.id_token_callers
        else {}
    )
    audiences = tuple((s.id_token_audience or "").split())
    return Authenticator(keys, cache, s.rate_per_minute, id_tokens, audiences, accounts)
