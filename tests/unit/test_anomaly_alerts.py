"""Anomalies that alert: steps grouped into intervals across runs, the interval's message,
webhook body and email, its severity, and the dispatcher that sends each interval once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.adapters.smtp import compose
from shared.domain.alerts import Severity
from shared.domain.anomaly_alerts import AnomalyAlert
from shared.domain.anomaly_intervals import (
    AnomalyInterval,
    AnomalyStep,
    group_intervals,
    severity_of_interval,
)
from shared.domain.forecast_rows import ModelInfo, anomaly_id
from shared.domain.forecasts import METRICS
from shared.domain.records import Row
from shared.domain.timestamps import iso_utc
from shared.errors import MessageRejectedError
from shared.messages.schemas import validate
from shared.service_layer.alerts import build_anomaly_alert
from shared.service_layer.anomaly_alerts import AnomalyAlerts
from tests.unit.alert_rig import AlertRig, alert_rig
from tests.unit.fakes import FakeBus, registry_of

CAMERA = "cam-001-market-5th"
REGISTRY = registry_of({"id": CAMERA, "source": "http://c/1.jpg"})
T0 = int(datetime(2026, 11, 27, 16, 0, tzinfo=UTC).timestamp())  # 08:00 in San Francisco
Q = 900  # a 15-minute bucket


def model(run: str, hour: int = 12) -> ModelInfo:
    trained = iso_utc(datetime(2026, 11, 27, hour, tzinfo=UTC))
    return ModelInfo("local.statsforecast.mstl_autoarima", "v1", "local", trained, run)


def step(
    k: int, run: str = "run-2", value: float = 50.0, camera: str = CAMERA, hour: int = 12
) -> AnomalyStep:
    """The step ``k`` buckets after T0, found by ``run`` (expected 10 to 20)."""
    return AnomalyStep(camera, "vehicles", T0 + k * Q, value, 10.0, 20.0, 0.999, model(run, hour))


def group(steps: Sequence[AnomalyStep], run: str = "run-2", min_steps: int = 2) -> list[Any]:
    return group_intervals(steps, Q, min_steps, run)


def test_contiguous_steps_make_one_interval_a_gap_cuts_it() -> None:
    # Steps 0-2 then 4-5: bucket 3 is missing, so two intervals.
    intervals = group([step(k) for k in (0, 1, 2, 4, 5)])
    assert [(i.start, i.end, i.steps) for i in intervals] == [
        (iso_utc(T0), iso_utc(T0 + 3 * Q), 3),
        (iso_utc(T0 + 4 * Q), iso_utc(T0 + 6 * Q), 2),
    ]
    assert intervals[0].interval_id == anomaly_id(CAMERA, "vehicles", iso_utc(T0))
    assert intervals[0].duration_s == 3 * Q


@pytest.mark.parametrize(
    ("ks", "min_steps", "expected"),
    [
        ([0], 2, 0),  # a lone step is chance, not an interval
        ([0, 2], 2, 0),  # two steps a bucket apart are two lone steps
        ([0, 1], 2, 1),  # two contiguous: one interval
        ([0, 1], 3, 0),  # ... unless three are needed
        ([0], 1, 1),  # min_steps 1: every step alerts
    ],
)
def test_an_interval_needs_min_steps(ks: list[int], min_steps: int, expected: int) -> None:
    assert len(group([step(k) for k in ks], min_steps=min_steps)) == expected


def test_the_union_of_runs_keeps_the_first_step_and_so_the_id() -> None:
    first_run = group([step(0, "run-1", hour=6), step(1, "run-1", hour=6)], run="run-1")
    # The next run no longer flags step 0 but flags 1 to 3: the union still starts at 0.
    later = [step(0, "run-1", hour=6), step(1, "run-1", hour=6)] + [step(k) for k in (1, 2, 3)]
    [again] = group(later)
    assert again.interval_id == first_run[0].interval_id
    assert (again.start, again.steps, again.run_id) == (iso_utc(T0), 4, "run-2")


def test_a_step_flagged_by_two_runs_counts_once_with_this_runs_figures() -> None:
    [interval] = group([step(0, "run-1", 99.0, hour=6), step(0), step(1)])
    assert interval.steps == 2
    assert interval.peak_value == 50.0  # this run's value at step 0, not run-1's


def test_an_interval_this_run_did_not_touch_is_not_published_again() -> None:
    old = [step(0, "run-1", hour=6), step(1, "run-1", hour=6)]
    assert group(old, run="run-2") == []
    other_camera = [step(5, camera="cam-002-market-6th"), step(6, camera="cam-002-market-6th")]
    assert [i.camera_id for i in group(old + other_camera)] == ["cam-002-market-6th"]


def test_the_peak_is_the_step_furthest_outside_its_range_and_gives_the_direction() -> None:
    [up] = group([step(0, value=30.0), step(1, value=80.0), step(2, value=40.0)])
    assert (up.peak_at, up.peak_value, up.direction) == (iso_utc(T0 + Q), 80.0, "above")
    assert (up.expected_lower, up.expected_upper) == (10.0, 20.0)
    [down] = group([step(0, value=2.0), step(1, value=0.0)])
    assert (down.peak_value, down.direction) == (0.0, "below")


@pytest.mark.parametrize(
    ("steps", "metric", "expected"),
    [
        (4, "vehicles", Severity.HIGH),  # 4 x 15 min: an hour
        (3, "vehicles", Severity.MEDIUM),  # 45 min
        (2, "violations", Severity.HIGH),  # 2 x 1 h
    ],
)
def test_severity_is_high_from_an_hour(steps: int, metric: str, expected: Severity) -> None:
    bucket = METRICS[metric].bucket_s
    found = [
        AnomalyStep(CAMERA, metric, T0 + k * bucket, 9.0, 0.0, 3.0, 0.999, model("run-2"))
        for k in range(steps)
    ]
    [interval] = group_intervals(found, bucket, 2, "run-2")
    assert severity_of_interval(interval) == expected


def interval(steps: int = 6) -> AnomalyInterval:
    [found] = group([step(k, value=50.0 + k) for k in range(steps)])
    return found


def test_the_message_and_the_webhook_body_follow_their_schemas() -> None:
    found = interval()
    message = validate("anomaly", found.as_message())
    assert AnomalyInterval.from_message(message) == found
    body = build_anomaly_alert(found).body()
    validate("webhooks/traffic_anomaly", body)
    assert body["type"] == "traffic.anomaly"
    assert body["timestamp"] == found.start
    assert body["data"]["severity"] == "HIGH"
    assert body["data"]["duration_s"] == 5400
    with pytest.raises(MessageRejectedError, match="Additional properties"):
        validate("webhooks/traffic_anomaly", {**body, "data": {**body["data"], "x": 1}})


def test_email_names_the_camera_the_metric_and_the_interval() -> None:
    alert = AnomalyAlert(interval())
    message = compose(alert, "camwatch@x", ["ops@x"])
    assert message["Subject"] == (
        f"[camwatch HIGH] unusual vehicles at {CAMERA}: 55.0, above 10.0 to 20.0"
    )
    assert message["Message-ID"] == f"<{alert.id}@camwatch>"
    assert message["X-Camwatch-Alert-Id"] == alert.id
    assert message["X-Camwatch-Event"] == "traffic.anomaly"
    assert message["X-Camwatch-Violation-Id"] is None
    text = message.get_content()
    assert "from (UTC):   2026-11-27T16:00:00Z" in text
    assert "(6 steps, 90 min)" in text
    assert f"interval:     {alert.id}" in text


@pytest.fixture
def alerts() -> AlertRig:
    return alert_rig(REGISTRY)


def test_an_interval_is_sent_once_however_often_it_is_published(alerts: AlertRig) -> None:
    message = interval().as_message()
    assert alerts.dispatcher.dispatch_anomaly(message) == {"webhook": "queued", "email": "queued"}
    assert alerts.pump() == {"webhook": "sent", "email": "sent"}
    # The next run finds it again (another run id): nothing new is sent.
    alerts.dispatcher.dispatch_anomaly({**message, "run_id": "run-3"})
    assert alerts.pump() == {"webhook": "already_sent", "email": "already_sent"}
    assert [a.id for a in alerts.webhook.sent] == [message["interval_id"]]
    assert len(alerts.email.sent) == 1
    [row] = alerts.warehouse.rows["alerts"]
    assert (row["violation_id"], row["event_type"], row["severity"]) == (
        message["interval_id"],
        "traffic.anomaly",
        "HIGH",
    )
    assert (row["type"], row["event_time"], row["sweep_id"]) == ("vehicles", message["start"], None)


def test_a_short_interval_goes_by_webhook_only(alerts: AlertRig) -> None:
    assert alerts.dispatcher.dispatch_anomaly(interval(2).as_message()) == {"webhook": "queued"}
    assert alerts.pump() == {"webhook": "sent"}
    assert alerts.email.sent == []


def test_a_bad_or_unknown_interval_is_rejected(alerts: AlertRig) -> None:
    message = interval().as_message()
    with pytest.raises(MessageRejectedError, match="unknown camera 'cam-404-nowhere'"):
        alerts.dispatcher.dispatch_anomaly({**message, "camera_id": "cam-404-nowhere"})
    with pytest.raises(MessageRejectedError, match="max_probability"):
        alerts.dispatcher.dispatch_anomaly({**message, "max_probability": 2})
    assert alerts.messages() == []


class StepTables:
    """Answers anomaly_steps.sql with canned ``anomalies`` rows; records the queries."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.queries: list[str] = []

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        self.queries.append(sql)
        return self.rows

    def insert(self, rows: Sequence[Row]) -> None:
        raise AssertionError("finding intervals writes nothing")


def step_row(k: int, run: str) -> dict[str, Any]:
    """An ``anomalies`` row as a query answers it (timestamps as datetimes)."""
    s = step(k, run)
    return {
        "camera_id": s.camera_id,
        "metric": s.metric,
        "time_series_timestamp": datetime.fromtimestamp(s.at_s, UTC),
        "time_series_data": s.value,
        "lower_bound": s.lower_bound,
        "upper_bound": s.upper_bound,
        "anomaly_probability": s.probability,
        "model_name": s.model.name,
        "model_version": s.model.version,
        "backend": s.model.backend,
        "trained_at": datetime(2026, 11, 27, 12, tzinfo=UTC),
        "run_id": run,
    }


def test_the_job_finds_intervals_in_one_query_and_publishes_them() -> None:
    tables = StepTables([step_row(0, "run-2"), step_row(1, "run-2"), step_row(7, "run-2")])
    bus = FakeBus()
    alerts = AnomalyAlerts(bus, min_steps=2, window_h=24)
    now = datetime(2026, 11, 27, 18, 5, tzinfo=UTC)
    found = alerts.find(tables, "demo", "camwatch", METRICS["vehicles"], "run-2", now)
    [sql] = tables.queries
    assert "`demo.camwatch.anomalies`" in sql
    assert "metric = 'vehicles'" in sql
    assert "time_series_timestamp >= TIMESTAMP '2026-11-25T18:05:00Z'" in sql  # 2 windows back
    assert [(i.start, i.steps) for i in found] == [(iso_utc(T0), 2)]
    assert alerts.publish(found) == 1
    [(topic, payload, attributes)] = bus.sent
    assert (topic, payload["interval_id"]) == ("anomalies", found[0].interval_id)
    assert attributes == {"camera_id": CAMERA, "metric": "vehicles"}
    assert AnomalyAlerts(None).publish(found) == 0  # make forecast: found, not published
