"""A local webhook consumer that verifies Standard Webhooks signatures, as integrators should.

``POST /webhook``: verifies ``webhook-signature`` with ``standardwebhooks`` (401 when it does
not verify), records the delivery and answers 200, or the status planned by :meth:`fail`.
``GET /deliveries``: every delivery so far as JSON (for ``make up`` users).
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from shared.devstack.httpd import BackgroundServer, QuietHandler


def new_secret() -> str:
    """A fresh signing secret in the ``whsec_<base64>`` form."""
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()


@dataclass(frozen=True)
class Delivery:
    """One webhook attempt as the receiver saw it."""

    webhook_id: str
    status: int  # what the receiver answered
    verified: bool
    error: str
    body: dict[str, Any] | None
    received_at: float


class WebhookReceiver(BackgroundServer):
    """The webhook consumer; ``start()`` runs it in a daemon thread."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self._verifier = Webhook(secret)
        self._lock = threading.Lock()
        self._failures: defaultdict[str, list[int]] = defaultdict(list)
        self.deliveries: list[Delivery] = []
        super().__init__(_handler_for(self))
        self.url = f"http://127.0.0.1:{self.port}/webhook"

    def fail(self, camera_id: str, times: int, status: int = 500) -> None:
        """Answer ``status`` to the next ``times`` verified deliveries about ``camera_id``."""
        with self._lock:
            self._failures[camera_id] += [status] * times

    def receive(self, body: bytes, headers: dict[str, str]) -> int:
        """Verify, record and pick the answer for one POST."""
        webhook_id = headers.get("webhook-id", "")
        try:
            payload = self._verifier.verify(body, headers)
        except (WebhookVerificationError, ValueError) as exc:
            self._record(Delivery(webhook_id, 401, False, str(exc), None, time.time()))
            return 401
        camera = payload.get("data", {}).get("camera_id", "") if isinstance(payload, dict) else ""
        with self._lock:
            planned = self._failures.get(camera)
            status = planned.pop(0) if planned else 200
        self._record(Delivery(webhook_id, status, True, "", payload, time.time()))
        return status

    def _record(self, delivery: Delivery) -> None:
        with self._lock:
            self.deliveries.append(delivery)

    def accepted(self) -> list[Delivery]:
        """Verified deliveries answered 2xx: the alerts the consumer took."""
        with self._lock:
            return [d for d in self.deliveries if d.verified and 200 <= d.status < 300]


def _handler_for(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(min(length, 1 << 20))
            if self.path != "/webhook":
                self.send_body(404, b'{"error": "not found"}', "application/json")
                return
            headers = {k.lower(): v for k, v in self.headers.items()}
            status = receiver.receive(body, headers)
            self.send_body(status, json.dumps({"status": status}).encode(), "application/json")

        def do_GET(self) -> None:  # noqa: N802
            if self.path != "/deliveries":
                self.send_body(404, b'{"error": "not found"}', "application/json")
                return
            with receiver._lock:
                items = [asdict(d) for d in receiver.deliveries]
            self.send_body(200, json.dumps(items).encode(), "application/json")

    return Handler
