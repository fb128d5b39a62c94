"""The alert dispatcher: severity picks the channels; each channel takes each alert once."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pytest

from shared.adapters.smtp import compose
from shared.domain.alerts import Severity, severity_of
from shared.domain.violations import ViolationRecord
from shared.errors import ConfigError, DeliveryFailedError, MessageRejectedError
from shared.messages.schemas import validate
from shared.service_layer.alerts import AlertDispatcher, build_alert
from tests.unit.fakes import FakeCache, FakeSender, FakeWarehouse, registry_of

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


@dataclass
class Dispatch:
    """An AlertDispatcher wired to fakes, with the fakes at hand."""

    dispatcher: AlertDispatcher
    webhook: FakeSender
    email: FakeSender
    cache: FakeCache
    warehouse: FakeWarehouse


@pytest.fixture
def alerts() -> Dispatch:
    webhook, email = FakeSender("webhook"), FakeSender("email")
    cache, warehouse = FakeCache(), FakeWarehouse()
    dispatcher = AlertDispatcher({"webhook": webhook, "email": email}, cache, warehouse, REGISTRY)
    return Dispatch(dispatcher, webhook, email, cache, warehouse)


@pytest.mark.parametrize(
    ("confidence", "webhooks", "emails", "severity"),
    [(0.9, 1, 1, "HIGH"), (0.7, 1, 0, "MEDIUM"), (0.5, 0, 0, None)],
)
def test_channels_by_severity(alerts: Dispatch, confidence, webhooks, emails, severity) -> None:
    alerts.dispatcher.dispatch(violation(confidence))
    assert (len(alerts.webhook.sent), len(alerts.email.sent)) == (webhooks, emails)
    # Every dispatched violation is recorded, alerted or not.
    [row] = alerts.warehouse.rows["alerts"]
    assert row["severity"] == severity
    assert row["channels"] == ["webhook", "email"][: webhooks + emails]


def test_redelivery_sends_nothing_twice(alerts: Dispatch) -> None:
    assert alerts.dispatcher.dispatch(violation(0.9)) == {"webhook": "sent", "email": "sent"}
    again = alerts.dispatcher.dispatch(violation(0.9))
    assert again == {"webhook": "already_sent", "email": "already_sent"}
    assert (len(alerts.webhook.sent), len(alerts.email.sent)) == (1, 1)
    assert len(alerts.warehouse.rows["alerts"]) == 1


def test_a_failed_channel_is_retried_alone(alerts: Dispatch) -> None:
    alerts.email.fail_next = 1
    with pytest.raises(DeliveryFailedError, match="email delivery failed"):
        alerts.dispatcher.dispatch(violation(0.9))
    assert len(alerts.webhook.sent) == 1
    assert "alerts" not in alerts.warehouse.rows
    assert alerts.cache.state(f"alert:{'a' * 32}:email") is None  # released for the retry
    retried = alerts.dispatcher.dispatch(violation(0.9))
    assert retried == {"webhook": "already_sent", "email": "sent"}
    assert (len(alerts.webhook.sent), len(alerts.email.sent)) == (1, 1)


def test_a_delivery_in_flight_elsewhere_makes_this_try_retry(alerts: Dispatch) -> None:
    alerts.cache.claim(f"alert:{'a' * 32}:webhook", 120)  # another instance is sending it now
    with pytest.raises(DeliveryFailedError, match="being delivered by another try"):
        alerts.dispatcher.dispatch(violation(0.7))
    assert alerts.webhook.sent == []


def test_bad_payload_is_rejected_not_retried(alerts: Dispatch) -> None:
    with pytest.raises(MessageRejectedError, match="confidence"):
        alerts.dispatcher.dispatch(violation(1.5))
    with pytest.raises(MessageRejectedError, match="violation_id"):
        alerts.dispatcher.dispatch({k: v for k, v in violation(0.9).items() if k != "violation_id"})
    assert alerts.webhook.sent == []


def test_a_violation_of_an_unregistered_camera_is_rejected(alerts: Dispatch) -> None:
    # Issue 12, item 8: a valid HIGH violation naming a camera not in the registry.
    with pytest.raises(MessageRejectedError, match="unknown camera 'cam-404-nowhere'"):
        alerts.dispatcher.dispatch(violation(0.95, camera_id="cam-404-nowhere"))
    assert (alerts.webhook.sent, alerts.email.sent) == ([], [])
    assert "alerts" not in alerts.warehouse.rows


def test_event_time_is_parsed_as_rfc_3339_and_kept_in_utc(alerts: Dispatch) -> None:
    # Lowercase t and z are valid RFC 3339 (and pass the schema): the row gets UTC ISO 8601.
    alerts.dispatcher.dispatch(violation(0.9, event_time="2026-11-29t17:21:14+01:00"))
    assert alerts.webhook.sent[0].violation.event_time == "2026-11-29T16:21:14+00:00"


def test_missing_webhook_config_is_an_error_email_is_optional() -> None:
    cache, warehouse = FakeCache(), FakeWarehouse()
    with pytest.raises(ConfigError, match="CAMWATCH_WEBHOOK_URL"):
        AlertDispatcher({}, cache, warehouse, REGISTRY).dispatch(violation(0.7))
    webhook = FakeSender("webhook")
    dispatcher = AlertDispatcher({"webhook": webhook}, cache, warehouse, REGISTRY)
    outcome = dispatcher.dispatch(violation(0.9))
    assert outcome == {"webhook": "sent", "email": "not_configured"}
    assert warehouse.rows["alerts"][0]["channels"] == ["webhook"]


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


def test_violation_rows_say_their_event_type(alerts: Dispatch) -> None:
    alerts.dispatcher.dispatch(violation(0.9))
    [row] = alerts.warehouse.rows["alerts"]
    assert (row["violation_id"], row["event_type"]) == ("a" * 32, "violation.detected")
