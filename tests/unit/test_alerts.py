"""The alert dispatcher routes each alert to the subscribers that want it; each subscriber's
delivery takes it once."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from shared.adapters.smtp import compose
from shared.domain.alerts import Severity, severity_of
from shared.domain.subscribers import Subscriber
from shared.domain.violations import ViolationRecord
from shared.errors import ConfigError, DeliveryFailedError, MessageRejectedError
from shared.messages.schemas import validate
from shared.service_layer.alerts import build_alert
from tests.unit.alert_rig import AlertRig, alert_rig
from tests.unit.fakes import registry_of

REGISTRY = registry_of({"id": "cam-001-market-5th", "source": "http://c/1.jpg"})


def violation(confidence: float, vid: str = "a" * 32, **extra: Any) -> dict[str, Any]:
    return {
        "violation_id": vid,
        "camera_id": "cam-001-market-5th",
        "event_time": "2026-11-23T12:00:00+00:00",
        "type": "bus_lane",
        "zone": "market-bus-lane",
        "class_name": "car",
        "confidence": confidence,
        "box": {"x1": 1.0, "y1": 2.0, "x2": 30.0, "y2": 40.0},
        "evidence_uri": f"gs://evidence/evidence/cam-001-market-5th/{vid}.jpg",
        "observation_id": "o" * 32,
        "sweep_id": "s1",
        **extra,
    }


def record(confidence: float, vid: str = "a" * 32, **extra: Any) -> ViolationRecord:
    """The violation as the dispatcher reads it from its message."""
    return ViolationRecord.from_message(violation(confidence, vid, **extra))


@pytest.mark.parametrize(
    ("confidence", "expected"),
    [
        (0.95, Severity.HIGH),
        (0.8001, Severity.HIGH),  # strictly above 0.8
        (0.8, Severity.MEDIUM),  # 0.8 itself is MEDIUM (0.6 to 0.8)
        (0.6, Severity.MEDIUM),
        (0.5999, None),  # below 0.6: no alert
        (0.0, None),
    ],
)
def test_severity_thresholds(confidence: float, expected: Severity | None) -> None:
    assert severity_of(confidence) == expected


@pytest.fixture
def alerts() -> AlertRig:
    return alert_rig(REGISTRY)


@pytest.mark.parametrize(
    ("confidence", "webhooks", "emails", "severity"),
    [(0.9, 1, 1, "HIGH"), (0.7, 1, 0, "MEDIUM"), (0.5, 0, 0, None)],
)
def test_subscribers_by_severity(alerts: AlertRig, confidence, webhooks, emails, severity) -> None:
    # The simple case: the webhook takes MEDIUM and HIGH, email HIGH only.
    alerts.dispatcher.dispatch(violation(confidence))
    alerts.pump()
    assert (len(alerts.webhook.sent), len(alerts.email.sent)) == (webhooks, emails)
    # Every dispatched violation is recorded, alerted or not.
    [row] = alerts.warehouse.rows["alerts"]
    assert row["severity"] == severity
    assert row["channels"] == ["webhook", "email"][: webhooks + emails]


def test_dispatch_routes_one_message_per_subscriber(alerts: AlertRig) -> None:
    assert alerts.dispatcher.dispatch(violation(0.9)) == {"webhook": "queued", "email": "queued"}
    assert [m["subscriber"] for m in alerts.messages()] == ["webhook", "email"]
    assert {m["alert"]["id"] for m in alerts.messages()} == {"a" * 32}
    assert (alerts.webhook.sent, alerts.email.sent) == ([], [])  # sent by alert_delivery


def test_redelivery_sends_nothing_twice(alerts: AlertRig) -> None:
    alerts.dispatcher.dispatch(violation(0.9))
    assert alerts.pump() == {"webhook": "sent", "email": "sent"}
    alerts.dispatcher.dispatch(violation(0.9))  # the violations message redelivered
    assert alerts.pump() == {"webhook": "already_sent", "email": "already_sent"}
    assert (len(alerts.webhook.sent), len(alerts.email.sent)) == (1, 1)
    assert len(alerts.warehouse.rows["alerts"]) == 1


def test_a_failed_delivery_is_retried_alone(alerts: AlertRig) -> None:
    alerts.email.fail_next = 1
    alerts.dispatcher.dispatch(violation(0.9))
    assert alerts.pump() == {"webhook": "sent", "email": "delivery_failed"}
    assert alerts.cache.state(f"alert:{'a' * 32}:email") is None  # released for the retry
    [_, email] = alerts.messages()
    assert alerts.deliveries.deliver(email) == "sent"  # Pub/Sub retries that message alone
    assert (len(alerts.webhook.sent), len(alerts.email.sent)) == (1, 1)


def test_the_same_message_takes_back_a_delivery_claim_its_failed_try_kept(
    alerts: AlertRig,
) -> None:
    """Redis went away while a try held the claim: the release never arrived. The same
    message's redelivery sends it; another message with the same delivery waits (retries)."""
    alerts.cache.claim(f"alert:{'a' * 32}:webhook", 120, owner="m-5")
    alerts.dispatcher.dispatch(violation(0.7))
    [message] = alerts.messages()
    with pytest.raises(DeliveryFailedError, match="being sent by another try"):
        alerts.deliveries.deliver(message, owner="m-6")
    assert alerts.deliveries.deliver(message, owner="m-5") == "sent"
    assert [a.id for a in alerts.webhook.sent] == ["a" * 32]


def test_a_delivery_in_flight_elsewhere_makes_this_try_retry(alerts: AlertRig) -> None:
    alerts.cache.claim(f"alert:{'a' * 32}:webhook", 120)  # another instance is sending it now
    alerts.dispatcher.dispatch(violation(0.7))
    [message] = alerts.messages()
    with pytest.raises(DeliveryFailedError, match="being sent by another try"):
        alerts.deliveries.deliver(message)
    assert alerts.webhook.sent == []


def test_bad_payload_is_rejected_not_retried(alerts: AlertRig) -> None:
    with pytest.raises(MessageRejectedError, match="confidence"):
        alerts.dispatcher.dispatch(violation(1.5))
    with pytest.raises(MessageRejectedError, match="violation_id"):
        alerts.dispatcher.dispatch({k: v for k, v in violation(0.9).items() if k != "violation_id"})
    assert alerts.messages() == []


def test_a_violation_of_an_unregistered_camera_is_rejected(alerts: AlertRig) -> None:
    # Issue 12, item 8: a valid HIGH violation naming a camera not in the registry.
    with pytest.raises(MessageRejectedError, match="unknown camera 'cam-404-nowhere'"):
        alerts.dispatcher.dispatch(violation(0.95, camera_id="cam-404-nowhere"))
    assert alerts.messages() == []
    assert "alerts" not in alerts.warehouse.rows


def test_event_time_is_parsed_as_rfc_3339_and_kept_in_utc(alerts: AlertRig) -> None:
    # Lowercase t and z are valid RFC 3339 (and pass the schema): the row gets UTC ISO 8601.
    alerts.dispatcher.dispatch(violation(0.9, event_time="2026-11-29t17:21:14+01:00"))
    alerts.pump()
    body = alerts.webhook.sent[0].body()
    assert body["data"]["event_time"] == body["timestamp"] == "2026-11-29T16:21:14+00:00"


def test_no_subscriber_at_all_is_an_error_none_matching_is_not() -> None:
    with pytest.raises(ConfigError, match="CAMWATCH_ALERT_SUBSCRIBERS"):
        alert_rig(REGISTRY, ()).dispatcher.dispatch(violation(0.7))
    only_high = alert_rig(
        REGISTRY,
        (Subscriber("pager", url="https://p/x", secret_env="S", min_severity=Severity.HIGH),),
    )
    assert only_high.dispatcher.dispatch(violation(0.7)) == {}
    assert only_high.messages() == []
    assert only_high.warehouse.rows["alerts"][0]["channels"] == []


def test_a_delivery_for_an_unknown_subscriber_is_rejected(alerts: AlertRig) -> None:
    alerts.dispatcher.dispatch(violation(0.7))
    [message] = alerts.messages()
    with pytest.raises(MessageRejectedError, match="unknown alert subscriber 'gone'"):
        alerts.deliveries.deliver({**message, "subscriber": "gone"})
    with pytest.raises(MessageRejectedError, match="alert_delivery"):
        alerts.deliveries.deliver({**message, "subscriber": "Not A Name"})


def test_webhook_body_follows_its_schema_and_email_names_the_violation() -> None:
    alert = build_alert(record(0.9), Severity.HIGH)
    validate("webhooks/violation_alert", alert.body())
    assert alert.id == "a" * 32
    assert alert.body()["type"] == "violation.detected"
    assert alert.body()["data"]["severity"] == "HIGH"
    message = compose(alert, "camwatch@x", ["ops@x", "duty@x"])
    assert message["Subject"] == (
        "[camwatch HIGH] car in bus_lane (market-bus-lane) at cam-001-market-5th"
    )
    assert message["Message-ID"] == f"<{'a' * 32}@camwatch>"
    assert message["To"] == "ops@x, duty@x"
    assert message["X-Camwatch-Violation-Id"] == message["X-Camwatch-Alert-Id"] == "a" * 32
    assert message["X-Camwatch-Event"] == "violation.detected"
    assert "gs://evidence/" in message.get_content()


def test_the_email_and_webhook_carry_the_signed_evidence_url() -> None:
    url = "https://storage.googleapis.com/evidence/x.jpg?X-Goog-Signature=ab"
    alert = build_alert(replace(record(0.9), evidence_url=url), Severity.HIGH)
    assert alert.body()["data"]["evidence_url"] == url
    assert alert.body()["data"]["evidence_uri"].startswith("gs://")
    validate("webhooks/violation_alert", alert.body())
    text = compose(alert, "camwatch@x", ["ops@x"]).get_content()
    assert f"evidence:    {url}" in text
    assert "stored at:   gs://evidence/" in text


def test_violation_rows_say_their_event_type(alerts: AlertRig) -> None:
    alerts.dispatcher.dispatch(violation(0.9))
    [row] = alerts.warehouse.rows["alerts"]
    assert (row["violation_id"], row["event_type"]) == ("a" * 32, "violation.detected")
