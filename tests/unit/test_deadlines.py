"""Every outside call gives up before the ack deadline of the subscriptions that make it."""

from __future__ import annotations

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery, storage  # type: ignore[attr-defined]

from shared.adapters import deadlines
from shared.adapters.blobstore import GcsBlobStore
from shared.adapters.bus import PubSubBus
from shared.adapters.deadlines import Deadline
from shared.adapters.warehouse import BigQueryWarehouse
from shared.messages.topology import ROUTE_BY_TOPIC, ROUTES
from shared.settings import Settings


def too_slow(found: dict[str, Deadline]) -> list[str]:
    """The dependencies whose worst case reaches a caller's ack deadline."""
    late = []
    for d in found.values():
        ack = min(ROUTE_BY_TOPIC[t].ack_deadline_s for t in d.callers)
        if d.worst_s >= ack:
            late.append(f"{d.dependency} ({d.setting}): {d.worst_s} s >= ack deadline {ack} s")
    return late


def test_every_route_in_the_topology_is_known() -> None:
    assert set(deadlines.ALL_ROUTES) == {r.topic for r in ROUTES}
    for d in deadlines.deadlines(Settings()).values():
        assert d.callers
        assert set(d.callers) <= set(deadlines.ALL_ROUTES)


def test_default_deadlines_end_before_the_ack_deadlines() -> None:
    assert too_slow(deadlines.deadlines(Settings())) == []


@pytest.mark.parametrize(
    ("setting", "value", "dependency"),
    [
        ("inference_timeout_s", 40.0, "inference"),
        ("bigquery_timeout_s", 30.0, "bigquery"),
        ("redis_timeout_s", 30.0, "redis"),
        ("webhook_timeout_s", 60.0, "webhook"),
        ("dependency_ride_out_s", 30.0, "pubsub publish"),  # 30 s, then a 40 s publish
    ],
)
def test_a_long_setting_is_reported(setting: str, value: float, dependency: str) -> None:
    late = too_slow(deadlines.deadlines(Settings(**{setting: value})))  # type: ignore[arg-type]
    assert any(line.startswith(f"{dependency} (") for line in late), late


def test_the_publisher_retry_carries_the_publish_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", "127.0.0.1:1")  # no credentials, no connection
    publisher = PubSubBus("p", timeout_s=7.0)._publisher()
    options = publisher.publisher_options
    assert options.retry._timeout == 7.0  # not the client's 600 s
    assert options.timeout == deadlines.PUBLISH_RPC_TIMEOUT_S


def test_bigquery_retries_carry_the_configured_deadline() -> None:
    client = bigquery.Client(project="p", credentials=AnonymousCredentials())
    tables = BigQueryWarehouse(client, "d", "US", 4.0)
    assert tables._retry._timeout == 4.0
    assert tables._job_retry._timeout == 4.0  # not 2400 s
    assert BigQueryWarehouse(client, "d", "US", 4.0, job_timeout_s=90)._job_retry._timeout == 90


def test_storage_retry_carries_the_configured_deadline() -> None:
    client = storage.Client(project="p", credentials=AnonymousCredentials())
    assert GcsBlobStore(client)._retry._timeout == deadlines.STORAGE_TIMEOUT_S
    assert GcsBlobStore(client, timeout_s=3.0)._retry._timeout == 3.0
