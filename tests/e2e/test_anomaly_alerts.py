"""Anomalies that alert, on the local stack: a jam injected into a short simulated history is
found by the forecast job (local backend, BigQuery emulator), published on the Pub/Sub
emulator's ``anomalies`` topic, pushed to ``anomaly_dispatcher`` and delivered as exactly one
signed ``traffic.anomaly`` webhook (and, lasting 90 minutes, one HIGH email); the next run finds
the same interval and alerts nothing new.

Two demo cameras, 15 days (a full model needs 14): cam-001 gets the planted jam (x3 for 90
minutes at 08:00 local, ``plan_injected``), cam-002 none. The history is in a dataset of its
own; the dispatcher writes its ``alerts`` row in the stack's dataset.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from shared.adapters.bus import PubSubBus
from shared.adapters.warehouse import BigQueryWarehouse, bigquery_client
from shared.devstack.history import end_of_history, is_broken, plan_injected, write_history
from shared.devstack.stack import LocalStack
from shared.devstack.webhook_receiver import Delivery
from shared.domain.anomaly_intervals import AnomalyInterval
from shared.domain.registry import load_registry
from shared.forecasting.local import LocalBackend
from shared.messages.schemas import validate
from shared.service_layer.anomaly_alerts import AnomalyAlerts
from shared.service_layer.forecasting import ForecastConfig, RunSummary, run_forecasts
from shared.settings import Settings
from tests.e2e.test_sweep import wait_for

pytestmark = pytest.mark.e2e

DAYS = 15
END = datetime(2026, 11, 27, 18, 2, tzinfo=UTC)  # a Friday, 10:02 in San Francisco


def is_anomaly(delivery: Delivery) -> bool:
    """A ``traffic.anomaly`` delivery."""
    return delivery.body is not None and delivery.body.get("type") == "traffic.anomaly"


def anomaly_hooks(stack: LocalStack) -> list[Delivery]:
    """Every ``traffic.anomaly`` delivery the receiver saw (verified or not, any answer)."""
    receiver = stack.webhooks
    assert receiver is not None
    return [d for d in receiver.deliveries if is_anomaly(d)]


@pytest.fixture
def anomaly_stack(event_stack: LocalStack) -> Iterator[LocalStack]:
    """The stack with its event functions; this test's webhooks are taken out of the shared
    receiver afterwards, as the later tests read violation fields of every delivery there
    (``sweep_id``, ``camera_id``)."""
    yield event_stack
    receiver = event_stack.webhooks
    if receiver is not None:
        with receiver._lock:
            receiver.deliveries[:] = [d for d in receiver.deliveries if not is_anomaly(d)]


def dispatched(stack: LocalStack, interval_id: str) -> int:
    """How many times anomaly_dispatcher handled the interval (its log lines)."""
    log = stack.stack.log_dir / "anomaly_dispatcher.log"
    text = log.read_text(errors="replace") if log.is_file() else ""
    return sum("anomaly dispatched" in line and interval_id in line for line in text.splitlines())


def test_an_injected_jam_is_one_signed_anomaly_webhook_and_only_once(
    anomaly_stack: LocalStack,
) -> None:
    event_stack = anomaly_stack
    settings = Settings()
    client = bigquery_client(settings.project_id, settings.bigquery_endpoint)
    history = BigQueryWarehouse(client, f"anom_{uuid.uuid4().hex[:8]}", "US", 30, 300)
    cameras = [c for c in load_registry(settings.registry_path).cameras if not is_broken(c)][:2]
    jammed, quiet = cameras[0].id, cameras[1].id
    end_s = end_of_history(END)
    injected = plan_injected(cameras, end_s)
    [(camera, jam)] = injected.incidents
    assert camera == jammed
    write_history(history, cameras, DAYS, end_s, seed=3, injected=injected)
    config = ForecastConfig(settings.project_id, history._dataset_name, metrics=("vehicles",))
    backend = LocalBackend(history, settings.project_id, history._dataset_name)
    alerts = AnomalyAlerts(PubSubBus(settings.project_id), min_steps=2, window_h=24)
    now = datetime.fromtimestamp(end_s + 300, UTC)

    def run() -> RunSummary:
        ids = [c.id for c in cameras]
        return run_forecasts(history, backend, config, ids, now=now, alerts=alerts)

    first = run()
    assert first.published == len(first.intervals) >= 1
    [interval] = [i for i in first.intervals if i.camera_id == jammed]
    start_s = datetime.fromisoformat(interval.start.replace("Z", "+00:00")).timestamp()
    assert jam.start_s <= start_s < jam.start_s + jam.duration_s
    assert interval.steps >= 2
    assert interval.direction == "above"

    # One signed webhook for the jam, its id the interval's; none for the quiet camera.
    got = wait_for(lambda: [d for d in anomaly_hooks(event_stack) if d.status == 200], 60)
    assert [d.webhook_id for d in got] == [interval.interval_id], got
    [hook] = got
    assert hook.verified  # standardwebhooks.Webhook(secret).verify(body, headers) passed
    assert hook.body is not None
    validate("webhooks/traffic_anomaly", hook.body)
    assert hook.body["timestamp"] == interval.start
    data = hook.body["data"]
    assert (data["camera_id"], data["metric"], data["interval_id"]) == (
        jammed,
        "vehicles",
        interval.interval_id,
    )
    assert (
        AnomalyInterval.from_message(
            {k: v for k, v in data.items() if k not in ("severity", "duration_s")}
        )
        == interval
    )
    assert data["severity"] == ("HIGH" if interval.duration_s >= 3600 else "MEDIUM")
    assert all(d.body and d.body["data"]["camera_id"] != quiet for d in anomaly_hooks(event_stack))
    if data["severity"] == "HIGH":  # webhook and email
        mails = wait_for(
            lambda: [m for m in event_stack.emails() if m["X-Camwatch-Alert-Id"] == hook.webhook_id]
        )
        assert len(mails) == 1
    assert wait_for(lambda: dispatched(event_stack, interval.interval_id) >= 1)

    # The next run finds the same interval (same id) and publishes it again: nothing new.
    second = run()
    assert second.run_id != first.run_id
    assert interval.interval_id in [i.interval_id for i in second.intervals]
    assert wait_for(lambda: dispatched(event_stack, interval.interval_id) >= 2, 60)
    time.sleep(1)  # anything the second dispatch sent has arrived by now
    assert [d.webhook_id for d in anomaly_hooks(event_stack)] == [interval.interval_id]
    if data["severity"] == "HIGH":
        sent = [m for m in event_stack.emails() if m["X-Camwatch-Alert-Id"] == hook.webhook_id]
        assert len(sent) == 1

    # The dispatch is one alerts row, whatever the number of runs that found it.
    stack_dataset = BigQueryWarehouse(client, settings.bigquery_dataset, "US", 10)
    rows = stack_dataset.query(
        "SELECT violation_id, event_type, severity, type, camera_id "
        f"FROM `{stack_dataset.table_id('alerts')}` WHERE violation_id = @id",
        {"id": interval.interval_id},
    )
    assert rows == [
        {
            "violation_id": interval.interval_id,
            "event_type": "traffic.anomaly",
            "severity": data["severity"],
            "type": "vehicles",
            "camera_id": jammed,
        }
    ]
