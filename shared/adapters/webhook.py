"""Webhook alert sender: Standard Webhooks signing (``standardwebhooks``), one POST per try.

Headers: ``webhook-id`` (the alert id: a violation's, an anomalous interval's or a system
alert's; the same on every retry, so receivers dedup), ``webhook-timestamp`` (this attempt,
seconds), ``webhook-signature`` (``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``,
one entry per secret, space-separated: two while a secret is rotated; a receiver accepts the
message when any entry matches its secret), and ``X-Camwatch-Event`` and ``X-Camwatch-Camera``
(the event type and camera, also for a Slack body, which has neither). The body is a Standard
Webhooks JSON body or a Slack-compatible one (:func:`shared.domain.chat.slack_body`),
serialised the same way on every try.

The receiver's address passes the camera URLs' check
(:func:`~shared.adapters.http_snapshot.check_host`) before each POST and the connection goes
to the checked address only (no second lookup, no redirects, no proxies), under one deadline.
A forbidden address raises :class:`MessageRejectedError` (it will never succeed: dead letter);
a non-2xx answer, a timeout or a refused connection :class:`DeliveryFailedError` (retried).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

import requests
from standardwebhooks import Webhook

from shared.adapters.http_snapshot import check_host, http_url
from shared.adapters.http_transport import PinnedAdapter, Watchdog
from shared.domain.alerts import Alert
from shared.domain.chat import slack_body
from shared.domain.subscribers import PayloadFormat
from shared.errors import (
    ConfigError,
    DeliveryFailedError,
    ForbiddenSourceError,
    FrameUnreachableError,
    MessageRejectedError,
)

USER_AGENT = "camwatch-webhooks/1"


def body_bytes(alert: Alert, format: PayloadFormat = PayloadFormat.STANDARD) -> bytes:
    """The alert's JSON body in ``format``, byte for byte the same on every attempt."""
    body = slack_body(alert) if format is PayloadFormat.SLACK else alert.body()
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def signed_headers(
    secrets: str | Sequence[str], msg_id: str, body: bytes, now: datetime
) -> dict[str, str]:
    """The Standard Webhooks headers for one attempt: one ``v1,`` signature per secret."""
    keys = [secrets] if isinstance(secrets, str) else list(secrets)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": " ".join(Webhook(k).sign(msg_id, now, body.decode()) for k in keys),
    }


def check_url(url: str, allow_private: bool) -> tuple[str, int]:
    """The host and port of a subscriber's URL: http(s), no credentials, https unless
    ``allow_private`` (a local stack).

    Raises:
        ConfigError: the URL is not one camwatch posts to.
    """
    try:
        parts, host, port = http_url(url, "webhook")
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    if parts.scheme != "https" and not allow_private:
        raise ConfigError(
            f"webhook URLs must be https (http only with CAMWATCH_ALLOW_PRIVATE_SOURCES): {url!r}"
        )
    return host, port


class WebhookSender:
    """POSTs signed alerts to one URL (redirects are not followed: a 3xx is a failure)."""

    channel = "webhook"

    def __init__(
        self,
        url: str,
        secrets: str | Sequence[str],
        timeout_s: float,
        format: PayloadFormat = PayloadFormat.STANDARD,
        allow_private: bool = False,
        name: str = "webhook",
    ) -> None:
        self._secrets = [secrets] if isinstance(secrets, str) else list(secrets)
        self._url, self._timeout = url, timeout_s
        self._format, self._allow_private, self._name = format, allow_private, name
        self._host, self._port = check_url(url, allow_private)

    def send(self, alert: Alert) -> None:
        """Deliver one attempt; :class:`DeliveryFailedError` unless the receiver answers 2xx.

        Raises:
            MessageRejectedError: the URL's host resolves to a forbidden address.
            DeliveryFailedError: no 2xx answer within the deadline (retried).
        """
        body = body_bytes(alert, self._format)
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            # What it is about without parsing the body (a Slack body has no type).
            "x-camwatch-event": alert.event_type,
            **({"x-camwatch-camera": alert.camera_id} if alert.camera_id else {}),
        }
        if self._secrets:
            headers |= signed_headers(self._secrets, alert.id, body, datetime.now(UTC))
        with Watchdog(self._timeout) as watchdog, requests.Session() as session:
            session.trust_env = False  # no proxies or netrc from the environment
            adapter = PinnedAdapter(watchdog)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            adapter.pin(self._host, self._port, self._address())
            try:
                response = session.post(
                    self._url,
                    data=body,
                    headers=headers,
                    timeout=self._timeout,
                    allow_redirects=False,
                )
            except requests.RequestException as exc:
                if watchdog.fired or isinstance(exc, requests.Timeout):
                    detail = f"no answer within {self._timeout} s"
                else:
                    detail = f"{type(exc).__name__}: {exc}"
                raise DeliveryFailedError(self._name, detail) from exc
        if not 200 <= response.status_code < 300:
            raise DeliveryFailedError(
                self._name, f"receiver answered {response.status_code} {response.text[:200]!r}"
            )

    def _address(self) -> str:
        """The checked address of the URL's host (resolved for this attempt)."""
        try:
            return check_host(self._host, self._port, self._allow_private, what="webhook")
        except ForbiddenSourceError as exc:
            raise MessageRejectedError(f"subscriber {self._name}: {exc.message}") from exc
        except FrameUnreachableError as exc:
            raise DeliveryFailedError(self._name, exc.message) from exc
