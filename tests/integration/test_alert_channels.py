"""Alert senders against real servers: the verifying webhook receiver and the aiosmtpd sink."""

from __future__ import annotations

import re
import socket
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import requests

from shared.adapters.smtp import SmtpSender
from shared.adapters.webhook import WebhookSender, body_bytes, signed_headers
from shared.devstack.procs import free_port
from shared.devstack.stack import LocalStack
from shared.devstack.webhook_receiver import WebhookReceiver, new_secret
from shared.domain.alerts import Severity
from shared.errors import DeliveryFailedError
from shared.service_layer.alerts import build_alert, build_anomaly_alert
from tests.unit.test_alerts import record
from tests.unit.test_anomaly_alerts import interval

pytestmark = pytest.mark.integration


@pytest.fixture
def receiver():
    server = WebhookReceiver(new_secret()).start()
    yield server
    server.stop()


def test_webhooks_are_signed_and_keep_their_id_across_retries(receiver) -> None:
    sender = WebhookSender(receiver.url, receiver.secret, 5, allow_private=True)
    alert = build_alert(record(0.9, vid="b" * 32), Severity.HIGH)
    receiver.fail("cam-001-market-5th", 2)
    for _ in range(2):
        with pytest.raises(DeliveryFailedError, match="receiver answered 500"):
            sender.send(alert)
    time.sleep(1.05)  # the next attempt carries a new timestamp
    sender.send(alert)
    seen = receiver.deliveries
    assert [d.status for d in seen] == [500, 500, 200]
    assert all(d.verified for d in seen)
    assert {d.webhook_id for d in seen} == {"b" * 32}  # one webhook-id on every attempt
    assert seen[-1].body == alert.body()
    assert len(receiver.accepted()) == 1


def test_a_wrong_signature_or_stale_timestamp_is_refused(receiver) -> None:
    alert = build_alert(record(0.7), Severity.MEDIUM)
    # Signed with another secret: the receiver must refuse it.
    with pytest.raises(DeliveryFailedError, match="401"):
        WebhookSender(receiver.url, new_secret(), 5, allow_private=True).send(alert)
    # Right secret, but a replayed (old) timestamp.
    body = body_bytes(alert)
    old = datetime.now(UTC) - timedelta(minutes=10)
    headers = signed_headers(receiver.secret, alert.id, body, old)
    assert requests.post(receiver.url, data=body, headers=headers, timeout=5).status_code == 401
    # A tampered body with the original signature.
    headers = signed_headers(receiver.secret, alert.id, body, datetime.now(UTC))
    tampered = body.replace(b'"car"', b'"bus"')
    assert requests.post(receiver.url, data=tampered, headers=headers, timeout=5).status_code == 401
    assert [d.verified for d in receiver.deliveries] == [False, False, False]
    assert receiver.accepted() == []


def test_webhook_timeout_and_refused_connection_are_delivery_failures() -> None:
    alert = build_alert(record(0.7), Severity.MEDIUM)
    with socket.socket() as silent:  # accepts connections (backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/webhook"
        started = time.monotonic()
        with pytest.raises(DeliveryFailedError, match=re.escape("no answer within 0.5 s")):
            WebhookSender(url, new_secret(), 0.5, allow_private=True).send(alert)
        assert time.monotonic() - started < 3
    with pytest.raises(DeliveryFailedError, match="ConnectionError"):
        WebhookSender(f"http://127.0.0.1:{free_port()}/", new_secret(), 1, allow_private=True).send(
            alert
        )


def sink_sender(local_stack: LocalStack) -> SmtpSender:
    """An SMTP sender to the local stack's sink, to ops@test."""
    env = local_stack.env
    return SmtpSender(
        env["CAMWATCH_SMTP_HOST"],
        int(env["CAMWATCH_SMTP_PORT"]),
        "camwatch@test",
        ["ops@test"],
        5,
        starttls=False,
    )


def test_email_reaches_the_smtp_sink(local_stack: LocalStack) -> None:
    sender = sink_sender(local_stack)
    vid = "c" * 32
    sender.send(build_alert(record(0.95, vid=vid), Severity.HIGH))
    [mail] = [m for m in local_stack.emails() if m["X-Camwatch-Violation-Id"] == vid]
    assert mail["To"] == "ops@test"
    assert mail["Subject"].strip().startswith("[camwatch HIGH] car")
    with pytest.raises(DeliveryFailedError, match="email delivery failed: ConnectionRefusedError"):
        SmtpSender("127.0.0.1", free_port(), "a@b", ["c@d"], 1, starttls=False).send(
            build_alert(record(0.95), Severity.HIGH)
        )


def test_an_anomaly_webhook_is_signed_and_its_id_is_the_interval(receiver) -> None:
    alert = build_anomaly_alert(interval())
    sender = WebhookSender(receiver.url, receiver.secret, 5, allow_private=True)
    receiver.fail(alert.interval.camera_id, 1)
    with pytest.raises(DeliveryFailedError, match="receiver answered 500"):
        sender.send(alert)
    time.sleep(1.05)  # the retry carries a new timestamp
    sender.send(alert)
    seen = receiver.deliveries
    assert [(d.status, d.verified) for d in seen] == [(500, True), (200, True)]
    assert {d.webhook_id for d in seen} == {alert.interval.interval_id}
    assert seen[-1].body == alert.body()
    assert alert.body()["type"] == "traffic.anomaly"


def test_an_anomaly_email_reaches_the_smtp_sink(local_stack: LocalStack) -> None:
    sender = sink_sender(local_stack)
    alert = build_anomaly_alert(replace(interval(), interval_id="e" * 24))  # this test's own
    sender.send(alert)
    [mail] = [m for m in local_stack.emails() if m["X-Camwatch-Alert-Id"] == alert.id]
    assert mail["X-Camwatch-Event"] == "traffic.anomaly"
    assert mail["Subject"].strip().startswith("[camwatch HIGH] unusual vehicles at cam-001")
