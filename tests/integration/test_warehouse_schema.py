"""The warehouse's tables and views on the BigQuery emulator: new columns, violations_current."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from google.cloud import bigquery

from shared.adapters.warehouse import BigQueryWarehouse, bigquery_client, table_spec
from shared.errors import WarehouseRejectedError
from shared.settings import Settings

pytestmark = pytest.mark.integration

NEW_COLUMNS = ("event", "event_seq", "track_id", "started_at", "last_seen_at", "dwell_s")
RETRY = bigquery.DEFAULT_RETRY.with_deadline(10)


def _warehouse(settings: Settings) -> BigQueryWarehouse:
    client = bigquery_client(settings.project_id, settings.bigquery_endpoint)
    return BigQueryWarehouse(client, f"it_{uuid.uuid4().hex[:8]}", "US", 10)


def _old_violations_table(warehouse: BigQueryWarehouse) -> bigquery.Client:
    """The deployed ``violations`` table from before lifecycles, with one row."""
    client = warehouse._client
    client.create_dataset(warehouse._dataset, exists_ok=True)
    table = table_spec("violations", warehouse.table_id("violations"))
    table.schema = [f for f in table.schema if f.name not in NEW_COLUMNS]
    client.create_table(table)
    old = {**_row("old", None, None, "2026-01-01T08:00:00Z"), "alerted": True}
    assert not client.insert_rows_json(table, [old], row_ids=["old"], retry=RETRY)
    return client


def _row(vid: str, event: str | None, seq: int | None, at: str, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "violation_id": vid,
        "camera_id": "cam-1",
        "event_time": at,
        "type": "bus_lane",
        "confidence": 0.5,
        "class_name": "bus",
        "zone": "lane",
    }
    if event is not None:
        row |= {"event": event, "event_seq": seq, "track_id": f"t-{vid}"}
    return row | extra


def test_old_table_gets_the_new_columns_and_keeps_its_rows(stack_settings: Settings) -> None:
    warehouse = _warehouse(stack_settings)
    client = _old_violations_table(warehouse)
    before = {f.name for f in client.get_table(warehouse.table_id("violations")).schema}
    assert not before & set(NEW_COLUMNS)

    warehouse.ensure_tables()

    fields = {f.name: f for f in client.get_table(warehouse.table_id("violations")).schema}
    assert set(NEW_COLUMNS) <= set(fields)
    assert all(fields[name].mode == "NULLABLE" for name in NEW_COLUMNS)
    assert fields["violation_id"].mode == "REQUIRED"  # existing columns unchanged
    new = _row("v1", "update", 2, "2026-01-01T09:00:10Z", dwell_s=12.5)
    new |= {"started_at": "2026-01-01T08:59:58Z", "last_seen_at": "2026-01-01T09:00:10Z"}
    warehouse.insert_rows("violations", [new], ["v1.2"])
    rows = warehouse.query(
        f"SELECT violation_id, event, event_seq, track_id, last_seen_at, dwell_s "
        f"FROM `{warehouse.table_id('violations')}` ORDER BY violation_id"
    )
    assert rows == [
        {
            "violation_id": "old",
            "event": None,
            "event_seq": None,
            "track_id": None,
            "last_seen_at": None,
            "dwell_s": None,
        },
        {
            "violation_id": "v1",
            "event": "update",
            "event_seq": 2,
            "track_id": "t-v1",
            "last_seen_at": datetime(2026, 1, 1, 9, 0, 10, tzinfo=UTC),
            "dwell_s": 12.5,
        },
    ]
    # A second instance finds the table in step and changes nothing.
    _warehouse_on(warehouse).ensure_tables()
    assert len(client.get_table(warehouse.table_id("violations")).schema) == len(fields)


def _warehouse_on(warehouse: BigQueryWarehouse) -> BigQueryWarehouse:
    return BigQueryWarehouse(warehouse._client, warehouse._dataset_name, "US", 10)


def test_a_missing_required_column_is_an_error(stack_settings: Settings) -> None:
    warehouse = _warehouse(stack_settings)
    client = warehouse._client
    client.create_dataset(warehouse._dataset)
    table = table_spec("violations", warehouse.table_id("violations"))
    table.schema = [f for f in table.schema if f.name != "confidence"]
    client.create_table(table)
    with pytest.raises(WarehouseRejectedError, match=r"REQUIRED columns \['confidence'\]"):
        warehouse.ensure_tables()
    names = [f.name for f in client.get_table(warehouse.table_id("violations")).schema]
    assert "confidence" not in names


def test_violations_current_gives_each_violations_state(stack_settings: Settings) -> None:
    warehouse = _warehouse(stack_settings)
    _old_violations_table(warehouse)  # holds the legacy row "old": no event, no event_seq
    seen = {"started_at": "2026-01-01T09:59:50Z"}
    rows = [
        # Closed: open, two updates, close (inserted out of order).
        _row("v1", "close", 3, "2026-01-01T10:00:40Z", **seen, dwell_s=30.0, confidence=0.8),
        _row("v1", "open", 0, "2026-01-01T10:00:00Z", **seen, dwell_s=10.0, alerted=True)
        | {"evidence_uri": "gs://frames/v1.jpg"},
        _row("v1", "update", 1, "2026-01-01T10:00:10Z", **seen, dwell_s=20.0, confidence=0.7),
        _row("v1", "update", 2, "2026-01-01T10:00:20Z", **seen, dwell_s=30.0, confidence=0.9),
        # Open: open and one update.
        _row("v2", "open", 0, "2026-01-01T11:00:00Z", dwell_s=5.0, alerted=False),
        _row("v2", "update", 1, "2026-01-01T11:00:05Z", dwell_s=10.0),
    ]
    rows[0]["last_seen_at"] = "2026-01-01T10:00:20Z"
    warehouse.insert_rows(
        "violations", rows, [f"{r['violation_id']}.{r['event_seq']}" for r in rows]
    )

    got = {
        r["violation_id"]: r
        for r in warehouse.query(f"SELECT * FROM `{warehouse.table_id('violations_current')}`")
    }

    assert set(got) == {"old", "v1", "v2"}
    ts = datetime.fromisoformat
    v1 = got["v1"]
    assert (v1["state"], v1["events"], v1["dwell_s"]) == ("closed", 4, 30.0)
    assert v1["opened_at"] == ts("2026-01-01T10:00:00+00:00")
    assert v1["closed_at"] == ts("2026-01-01T10:00:40+00:00")
    assert v1["started_at"] == ts("2026-01-01T09:59:50+00:00")
    assert v1["last_seen_at"] == ts("2026-01-01T10:00:20+00:00")
    assert (v1["evidence_uri"], v1["alerted"], v1["track_id"]) == (
        "gs://frames/v1.jpg",
        True,
        "t-v1",
    )
    assert v1["confidence"] == 0.8  # the latest event's
    v2 = got["v2"]
    assert (v2["state"], v2["events"], v2["dwell_s"], v2["closed_at"]) == ("open", 2, 10.0, None)
    assert (v2["opened_at"], v2["alerted"]) == (ts("2026-01-01T11:00:00+00:00"), False)
    old = got["old"]
    assert (old["state"], old["events"], old["closed_at"], old["dwell_s"]) == (
        "open",
        1,
        None,
        None,
    )
    assert (old["opened_at"], old["alerted"]) == (ts("2026-01-01T08:00:00+00:00"), True)
