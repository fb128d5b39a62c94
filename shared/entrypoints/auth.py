"""Authentication at the HTTP edge: every route but ``/health`` runs behind :func:`guarded`.

It asks the instance's :class:`~shared.service_layer.auth.Authenticator` who calls (401, 403,
429, or 503 with Redis down), logs the caller's name and kind (never its key or token) and
counts each request by caller and outcome in ``camwatch_caller_requests_total``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import flask

from shared import metrics
from shared.bootstrap import bootstrap
from shared.errors import (
    CamwatchError,
    DependencyUnavailableError,
    ForbiddenError,
    RateLimitedError,
    UnauthenticatedError,
)

log = logging.getLogger(__name__)

ANONYMOUS = "anonymous"  # the caller label of a request without a valid credential
_OUTCOMES: tuple[tuple[type[CamwatchError], str], ...] = (
    (UnauthenticatedError, "unauthenticated"),
    (ForbiddenError, "forbidden"),
    (RateLimitedError, "rate_limited"),
    (DependencyUnavailableError, "unavailable"),
)


def outcome_of(exc: Exception) -> str:
    """The outcome label of a refused or failed request."""
    return next((label for kind, label in _OUTCOMES if isinstance(exc, kind)), "error")


def guarded(
    request: flask.Request, scope: str | None, answer: Callable[[], flask.Response]
) -> flask.Response:
    """``answer()`` for a caller allowed ``scope`` (None: any valid caller), counted.

    Raises:
        UnauthenticatedError, ForbiddenError, RateLimitedError, DependencyUnavailableError:
            the request is refused (answered by the edge).
    """
    name = ANONYMOUS
    auth = bootstrap().authenticator
    try:
        caller = auth.authenticate(dict(request.headers))
        name = caller.name
        log.info("caller", extra={"caller": caller.name, "caller_kind": caller.kind})
        auth.authorize(caller, scope)
    except Exception as exc:
        metrics.CALLER_REQUESTS.labels(name, outcome_of(exc)).inc()
        raise
    try:
        response = answer()
    except Exception:
        metrics.CALLER_REQUESTS.labels(name, "error").inc()
        raise
    metrics.CALLER_REQUESTS.labels(name, "ok" if response.status_code < 400 else "error").inc()
    return response
