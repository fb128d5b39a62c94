"""A local webhook consumer that verifies Standard Webhooks signatures, as integrators should.

``POST /webhook``: the simple case's subscriber (``CAMWATCH_WEBHOOK_URL``).
``POST /hooks/<name>``: the subscriber ``name`` added with :meth:`WebhookReceiver.subscribe`,
with its own secrets (a delivery verifies when one of its signatures matches one of them) and
format: a ``slack`` subscriber's body must have Slack's ``text`` and ``blocks`` (400 if not).
Each answers 401 when the signature does not verify, else 200, or the status planned by
:meth:`fail`. ``GET /deliveries``: every delivery so far as JSON (for ``make up`` users).
:meth:`trouble` makes it hang, then fail, for a while (``make chaos``).
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

SIMPLE = "webhook"  # the simple case's subscriber, at /webhook


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
    subscriber: str = SIMPLE
    event_type: str = ""  # the body's type, or the X-Camwatch-Event header (Slack bodies)


@dataclass(frozen=True)
class _Endpoint:
    verifiers: tuple[Webhook, ...]
    slack: bool


class WebhookReceiver(BackgroundServer):
    """The webhook consumer; ``start()`` runs it in a daemon thread."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self._endpoints = {SIMPLE: _Endpoint((Webhook(secret),), slack=False)}
        self._lock = threading.Lock()
        self._failures: defaultdict[str, list[int]] = defaultdict(list)
        self.deliveries: list[Delivery] = []
        self._hang_until = self._fail_until = 0.0
        super().__init__(_handler_for(self))
        self.url = f"http://127.0.0.1:{self.port}/webhook"

    def subscribe(self, name: str, secrets: list[str], slack: bool = False) -> str:
        """Receive subscriber ``name``'s deliveries; return its URL."""
        with self._lock:
            self._endpoints[name] = _Endpoint(tuple(Webhook(s) for s in secrets), slack)
        return f"http://127.0.0.1:{self.port}/hooks/{name}"

    def fail(self, camera_id: str, times: int, status: int = 500) -> None:
        """Answer ``status`` to the next ``times`` verified deliveries about ``camera_id``."""
        with self._lock:
            self._failures[camera_id] += [status] * times

    def trouble(self, hang_s: float, fail_s: float) -> None:
        """From now: every POST hangs without an answer for ``hang_s``, then every POST is
        answered 500 for ``fail_s`` more; then back to normal."""
        now = time.monotonic()
        self._hang_until, self._fail_until = now + hang_s, now + hang_s + fail_s

    def hang_for(self) -> float:
        """How long a POST arriving now must hang (0: not hanging)."""
        return max(0.0, self._hang_until - time.monotonic())

    def receive(self, body: bytes, headers: dict[str, str], subscriber: str = SIMPLE) -> int:
        """Verify, record and pick the answer for one POST (0: hung, no answer)."""
        endpoint = self._endpoints.get(subscriber)
        if endpoint is None:
            return 404
        if hang := self.hang_for():  # the consumer took the request and never answered
            time.sleep(hang)
            self._record(
                Delivery(
                    headers.get("webhook-id", ""), 0, False, "hung", None, time.time(), subscriber
                )
            )
            return 0
        if time.monotonic() < self._fail_until:
            self._record(
                Delivery(
                    headers.get("webhook-id", ""),
                    500,
                    False,
                    "failing",
                    None,
                    time.time(),
                    subscriber,
                )
            )
            return 500
        webhook_id = headers.get("webhook-id", "")
        event = headers.get("x-camwatch-event", "")
        payload, error = _verify(endpoint.verifiers, body, headers)
        if payload is None:
            self._record(Delivery(webhook_id, 401, False, error, None, time.time(), subscriber))
            return 401
        if endpoint.slack and not _slack_shaped(payload):
            self._record(
                Delivery(
                    webhook_id,
                    400,
                    True,
                    "not a Slack body",
                    payload,
                    time.time(),
                    subscriber,
                    event,
                )
            )
            return 400
        event = event or str(payload.get("type", ""))
        data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
        camera = str((data or {}).get("camera_id", "")) or headers.get("x-camwatch-camera", "")
        with self._lock:
            planned = self._failures.get(camera)
            status = planned.pop(0) if planned else 200
        self._record(
            Delivery(webhook_id, status, True, "", payload, time.time(), subscriber, event)
        )
        return status

    def _record(self, delivery: Delivery) -> None:
        with self._lock:
            self.deliveries.append(delivery)

    def accepted(self, subscriber: str | None = None) -> list[Delivery]:
        """Verified deliveries answered 2xx (of one subscriber): the alerts the consumer took."""
        with self._lock:
            return [
                d
                for d in self.deliveries
                if d.verified and 200 <= d.status < 300 and subscriber in (None, d.subscriber)
            ]


def _verify(
    verifiers: tuple[Webhook, ...], body: bytes, headers: dict[str, str]
) -> tuple[dict[str, Any] | None, str]:
    """The body when one of the secrets verifies its signature, else the last error."""
    error = "no secret"
    for verifier in verifiers:
        try:
            payload = verifier.verify(body, headers)
        except (WebhookVerificationError, ValueError) as exc:
            error = str(exc)
            continue
        return (payload if isinstance(payload, dict) else {}), ""
    return None, error


def _slack_shaped(payload: dict[str, Any]) -> bool:
    """What Slack's incoming webhooks take: ``text``, and ``blocks`` each with a ``type``."""
    blocks = payload.get("blocks")
    return (
        isinstance(payload.get("text"), str)
        and isinstance(blocks, list)
        and bool(blocks)
        and all(isinstance(b, dict) and isinstance(b.get("type"), str) for b in blocks)
    )


def _handler_for(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(min(length, 1 << 20))
            if self.path == "/webhook":
                name = SIMPLE
            elif self.path.startswith("/hooks/"):
                name = self.path.removeprefix("/hooks/")
            else:
                self.send_body(404, b'{"error": "not found"}', "application/json")
                return
            headers = {k.lower(): v for k, v in self.headers.items()}
            status = receiver.receive(body, headers, name)
            if not status:  # hung: the connection closes with no answer
                self.close_connection = True
                return
            self.send_body(status, json.dumps({"status": status}).encode(), "application/json")

        def do_GET(self) -> None:  # noqa: N802
            if self.path != "/deliveries":
                self.send_body(404, b'{"error": "not found"}', "application/json")
                return
            with receiver._lock:
                items = [asdict(d) for d in receiver.deliveries]
            self.send_body(200, json.dumps(items).encode(), "application/json")

    return Handler
