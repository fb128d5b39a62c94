"""Alert subscribers: filters, configuration, signatures while rotating, the Slack body, the
address check, and independent delivery (one failing receiver delays no other)."""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from shared.adapters.smtp import SmtpSender
from shared.adapters.webhook import WebhookSender, body_bytes, signed_headers
from shared.bootstrap.alerting import senders, subscribers
from shared.domain.alerts import Severity
from shared.domain.chat import SECTION_MAX, slack_body
from shared.domain.deliveries import AlertEvent
from shared.domain.subscribers import PayloadFormat, Subscriber
from shared.errors import ConfigError, DeliveryFailedError, MessageRejectedError
from shared.settings import Settings
from tests.unit.alert_rig import alert_rig
from tests.unit.fakes import registry_of


def secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()


def event(
    event_type: str = "violation.detected",
    severity: Severity = Severity.HIGH,
    camera_id: str | None = "cam-001-market-5th",
    text: str = "HIGH violation at camera cam-001-market-5th\n",
) -> AlertEvent:
    body = {"type": event_type, "timestamp": "2026-11-27T16:00:00Z", "data": {"n": 1}}
    subject = f"[camwatch {severity}] {event_type} at {camera_id}"
    return AlertEvent("e" * 32, event_type, severity, camera_id, body, subject, text)


# ----------------------------------------------------------------------------- filters


@pytest.mark.parametrize(
    ("filters", "alert", "wanted"),
    [
        # No filter: every MEDIUM and HIGH alert.
        ({}, event(severity=Severity.MEDIUM), True),
        # Minimum severity: HIGH drops MEDIUM, keeps HIGH.
        ({"min_severity": Severity.HIGH}, event(severity=Severity.MEDIUM), False),
        ({"min_severity": Severity.HIGH}, event(severity=Severity.HIGH), True),
        # Event types: exact, another type, a glob.
        ({"event_types": ("violation.detected",)}, event("violation.detected"), True),
        ({"event_types": ("violation.detected",)}, event("traffic.anomaly"), False),
        ({"event_types": ("camera.*",)}, event("camera.offline"), True),
        ({"event_types": ("camera.*",)}, event("inference.degraded"), False),
        # A type takes its .resolved event; a glob does too.
        ({"event_types": ("camera.offline",)}, event("camera.offline.resolved"), True),
        ({"event_types": ("camera.*",)}, event("camera.offline.resolved"), True),
        ({"event_types": ("camera.offline",)}, event("camera.stale.resolved"), False),
        # Cameras: an id, a glob, another camera, and an alert about no camera (passes).
        ({"cameras": ("cam-001-market-5th",)}, event(), True),
        ({"cameras": ("cam-001-*",)}, event(), True),
        ({"cameras": ("cam-002-*",)}, event(), False),
        ({"cameras": ("cam-002-*",)}, event("dependency.down", camera_id=None), True),
        # All filters must pass.
        (
            {"min_severity": Severity.HIGH, "event_types": ("camera.*",), "cameras": ("cam-1",)},
            event("camera.offline", Severity.HIGH, "cam-2"),
            False,
        ),
    ],
)
def test_filters(filters: dict[str, Any], alert: AlertEvent, wanted: bool) -> None:
    assert Subscriber("s", url="https://x/", secret_env="S", **filters).wants(alert) is wanted


# ----------------------------------------------------------------------- configuration


def configured(value: str, **settings: Any) -> tuple[Subscriber, ...]:
    return subscribers(Settings(alert_subscribers=value, **settings))


DOC = {
    "subscribers": [
        {
            "name": "ops",
            "url": "https://hooks.example/ops",
            "secret_env": "OPS_SECRET",
            "min_severity": "HIGH",
            "event_types": ["camera.*"],
            "cameras": ["cam-00*"],
        },
        {"name": "chat", "url": "https://hooks.slack.com/services/T/B/X", "format": "slack"},
        {"name": "duty", "email": ["duty@example.org"]},
    ]
}


def test_a_file_and_inline_json_give_the_same_subscribers(tmp_path: Path) -> None:
    path = tmp_path / "subscribers.yaml"
    path.write_text(json.dumps(DOC))  # JSON is YAML
    found = configured(str(path))
    assert found == configured(json.dumps(DOC))
    ops, chat, duty = found
    assert ops == Subscriber(
        "ops",
        url="https://hooks.example/ops",
        secret_env="OPS_SECRET",
        min_severity=Severity.HIGH,
        event_types=("camera.*",),
        cameras=("cam-00*",),
    )
    assert (chat.format, chat.secret_env, chat.channel) == (PayloadFormat.SLACK, None, "webhook")
    assert (duty.email, duty.channel, duty.min_severity) == (
        ("duty@example.org",),
        "email",
        Severity.MEDIUM,
    )


def bad(**change: Any) -> str:
    entry = {"name": "ops", "url": "https://x/", "secret_env": "S", **change}
    return json.dumps({"subscribers": [{k: v for k, v in entry.items() if v is not None}]})


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (bad(name="Ops!"), r"subscribers/0/name: 'Ops!' does not match"),
        (bad(email=["a@b"]), "exactly one of url and email"),
        (bad(url=None), "exactly one of url and email"),
        (bad(secret_env=None), "'secret_env' is a required property"),  # standard is signed
        (bad(format="teams"), "'teams' is not one of"),
        (bad(min_severity="LOW"), "'LOW' is not one of"),
        (bad(colour="red"), "Additional properties"),
        (bad(url="ftp://x/"), "does not match"),
        (json.dumps({"subscribers": [json.loads(bad())["subscribers"][0]] * 2}), "repeated"),
        ("{not json", "not valid JSON/YAML"),
        ("/nowhere/subscribers.yaml", "cannot read"),
        ("subscribers.txt", "want inline JSON or a .json/.yaml/.yml file"),
    ],
)
def test_bad_configuration_is_a_config_error_naming_the_problem(value: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        configured(value)


def test_webhook_urls_must_be_https_unless_private_sources_are_allowed() -> None:
    plain = bad(url="http://127.0.0.1:8080/hook")
    with pytest.raises(ConfigError, match="subscriber ops: webhook URLs must be https"):
        configured(plain)
    assert configured(plain, allow_private_sources=True)[0].url == "http://127.0.0.1:8080/hook"


def test_the_simple_case_keeps_the_old_names() -> None:
    simple = Settings(
        webhook_url="https://hooks.example/x",
        webhook_secret=secret(),
        alert_email_to="a@example.org, b@example.org",
        smtp_host="smtp.example.org",
    )
    webhook, email = subscribers(simple)
    assert webhook == Subscriber(
        "webhook", url="https://hooks.example/x", secret_env="CAMWATCH_WEBHOOK_SECRET"
    )
    assert email == Subscriber(
        "email", email=("a@example.org", "b@example.org"), min_severity=Severity.HIGH
    )
    assert set(senders(simple, (webhook, email))) == {"webhook", "email"}
    assert subscribers(Settings()) == ()  # nothing configured: the dispatcher says so


def test_a_missing_or_bad_secret_names_the_variable_never_the_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Only that subscriber's deliveries fail (retried, then dead-lettered); the others are sent.
    found = (*configured(bad(secret_env="OPS_SECRET")), Subscriber("duty", email=("d@x",)))
    monkeypatch.delenv("OPS_SECRET", raising=False)
    built = senders(Settings(smtp_host="smtp.example.org"), found)
    assert isinstance(built["duty"], SmtpSender)
    with pytest.raises(ConfigError, match="OPS_SECRET is not set"):
        built["ops"].send(event())
    monkeypatch.setenv("OPS_SECRET", "whsec_c2hvcnQ=")
    with pytest.raises(ConfigError, match="OPS_SECRET") as refused:
        senders(Settings(), found)["ops"].send(event())
    assert "c2hvcnQ" not in str(refused.value)
    with pytest.raises(ConfigError, match="email needs CAMWATCH_SMTP_HOST"):
        senders(Settings(), found)["duty"].send(event())
    monkeypatch.setenv("OPS_SECRET", f"{secret()} {secret()}")
    assert isinstance(senders(Settings(), found)["ops"], WebhookSender)


# ---------------------------------------------------------------- rotation and bodies


def test_while_rotating_both_signatures_are_sent_each_verifiable_alone() -> None:
    old, new, other = secret(), secret(), secret()
    alert = event()
    body = body_bytes(alert)
    headers = signed_headers([old, new], alert.id, body, datetime.now(UTC))
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert all(e.startswith("v1,") for e in headers["webhook-signature"].split(" "))
    for key in (old, new):
        assert Webhook(key).verify(body, headers) == alert.body()
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(other).verify(body, headers)


def test_the_slack_body_has_text_and_blocks() -> None:
    alert = event(text="x" * 5000)
    body = slack_body(alert)
    assert body["text"] == alert.subject
    header, section, context = body["blocks"]
    assert header == {"type": "header", "text": {"type": "plain_text", "text": alert.subject}}
    assert section["type"] == "section"
    assert section["text"]["type"] == "mrkdwn"
    assert len(section["text"]["text"]) <= SECTION_MAX  # Slack's limit
    assert section["text"]["text"].startswith("```x")
    assert section["text"]["text"].endswith("…```")
    assert context["type"] == "context"
    [line] = context["elements"]
    for part in ("violation.detected", "HIGH", "cam-001-market-5th", "e" * 32):
        assert part in line["text"]
    assert (
        "camera -"
        in slack_body(event("dependency.down", camera_id=None))["blocks"][2]["elements"][0]["text"]
    )


# ------------------------------------------------------------------- address checks


@pytest.mark.parametrize(
    ("url", "allow_private"),
    [
        ("https://169.254.169.254/latest", True),  # the metadata server: never
        ("https://127.0.0.1:9/hook", False),  # loopback without CAMWATCH_ALLOW_PRIVATE_SOURCES
        ("https://10.0.0.8/hook", False),
    ],
)
def test_a_forbidden_address_is_rejected_before_any_connection(
    url: str, allow_private: bool
) -> None:
    sender = WebhookSender(url, [secret()], 1, allow_private=allow_private, name="ops")
    with pytest.raises(MessageRejectedError, match="subscriber ops: webhook host"):
        sender.send(event())


# ------------------------------------------------------- the real sender, on loopback


class Receiver(ThreadingHTTPServer):
    """A webhook receiver on 127.0.0.1: records each POST, answers ``status``."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.status = 204

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        self.server.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(self.server.status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("format", [PayloadFormat.STANDARD, PayloadFormat.SLACK])
def test_the_real_sender_signs_both_formats(receiver: Receiver, format: PayloadFormat) -> None:
    old, new = secret(), secret()
    WebhookSender(receiver.url, [old, new], 5, format, allow_private=True).send(event())
    [(headers, body)] = receiver.received
    assert headers["webhook-id"] == "e" * 32
    assert headers["content-type"] == "application/json"
    for key in (old, new):
        Webhook(key).verify(body, headers)
    sent = json.loads(body)
    if format is PayloadFormat.SLACK:
        assert set(sent) == {"text", "blocks"}
    else:
        assert sent == event().body()


def test_the_real_sender_fails_on_a_non_2xx_answer(receiver: Receiver) -> None:
    receiver.status = 500
    with pytest.raises(DeliveryFailedError, match="ops delivery failed: receiver answered 500"):
        WebhookSender(receiver.url, [], 5, allow_private=True, name="ops").send(event())
    assert "webhook-signature" not in receiver.received[0][0]  # no secret: unsigned


# ------------------------------------------------------------- independent delivery


def test_one_failing_receiver_delays_no_other() -> None:
    rig = alert_rig(
        registry_of({"id": "cam-001-market-5th", "source": "http://c/1.jpg"}),
        (
            Subscriber("broken", url="https://a/", secret_env="A"),
            Subscriber("fine", url="https://b/", format=PayloadFormat.SLACK),
        ),
    )
    rig.senders["broken"].fail_next = 1
    rig.dispatcher.router.route(event())
    assert rig.pump() == {"broken": "delivery_failed", "fine": "sent"}
    broken, fine = rig.messages()
    rig.senders["broken"].fail_next = 1
    with pytest.raises(DeliveryFailedError):  # its retry fails again: the other is untouched
        rig.deliveries.deliver(broken)
    assert rig.deliveries.deliver(broken) == "sent"
    assert rig.deliveries.deliver(fine) == "already_sent"  # a redelivery sends nothing
    assert [a.id for a in rig.senders["fine"].sent] == ["e" * 32]
    assert [a.id for a in rig.senders["broken"].sent] == ["e" * 32]
