"""Webhook alert sender: Standard Webhooks signing (``standardwebhooks``), one POST per try.

Headers: ``webhook-id`` (the alert id: a violation's, or an anomalous interval's; the same on
every retry, so receivers dedup),
``webhook-timestamp`` (this attempt, seconds) and ``webhook-signature``
(``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``). The body is serialised the same
way on every try. A non-2xx answer, a timeout or a refused connection raises
:class:`DeliveryFailedError`, so the Pub/Sub message is retried.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import requests
from standardwebhooks import Webhook

from shared.domain.alerts import Alert
from shared.errors import DeliveryFailedError

USER_AGENT = "camwatch-webhooks/1"


def body_bytes(alert: Alert) -> bytes:
    """The alert's JSON body, byte for byte the same on every attempt."""
    return json.dumps(alert.body(), separators=(",", ":"), sort_keys=True).encode()


def signed_headers(secret: str, msg_id: str, body: bytes, now: datetime) -> dict[str, str]:
    """The Standard Webhooks headers for one attempt."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, now, body.decode()),
    }


class WebhookSender:
    """POSTs signed alerts to one URL (redirects are not followed: a 3xx is a failure)."""

    channel = "webhook"

    def __init__(self, url: str, secret: str, timeout_s: float) -> None:
        self._url = url
        self._secret = secret
        self._timeout = timeout_s
        self._session = requests.Session()

    def send(self, alert: Alert) -> None:
        """Deliver one attempt; :class:`DeliveryFailedError` unless the receiver answers 2xx."""
        body = body_bytes(alert)
        headers = {
            **signed_headers(self._secret, alert.id, body, datetime.now(UTC)),
            "content-type": "application/json",
            "user-agent": USER_AGENT,
        }
        try:
            response = self._session.post(
                self._url, data=body, headers=headers, timeout=self._timeout, allow_redirects=False
            )
        except requests.Timeout as exc:
            raise DeliveryFailedError("webhook", f"no answer within {self._timeout} s") from exc
        except requests.RequestException as exc:
            raise DeliveryFailedError("webhook", f"{type(exc).__name__}: {exc}") from exc
        if not 200 <= response.status_code < 300:
            raise DeliveryFailedError(
                "webhook", f"receiver answered {response.status_code} {response.text[:200]!r}"
            )
