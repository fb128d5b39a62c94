"""Adapters against the real services: Redis, bqemulator, fake-gcs-server, the camera server."""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest

from shared.adapters.blobstore import GcsBlobStore, storage_client
from shared.adapters.cache import RedisCache
from shared.adapters.http_snapshot import HttpSnapshotSource
from shared.adapters.warehouse import BigQueryWarehouse, bigquery_client
from shared.bootstrap import redis_cache
from shared.devstack.procs import free_port
from shared.devstack.stack import LocalStack
from shared.domain.detections import Detections, ModelInfo
from shared.domain.frames import decode_frame
from shared.domain.observations import CachedResult, FrameFailure
from shared.errors import (
    DependencyUnavailableError,
    ForbiddenSourceError,
    FrameTimeoutError,
    FrameTooLargeError,
    FrameUnreachableError,
    NotAnImageError,
    WarehouseRejectedError,
)
from shared.service_layer.idempotency import bytes_key, frame_key, last_frame_key
from shared.settings import Settings
from tests.conftest import jpeg

pytestmark = pytest.mark.integration


def test_redis_cache_lookup_store_and_same_frame_since(stack_settings: Settings) -> None:
    cache = redis_cache(stack_settings, 1.0)
    cam = f"cam-{uuid.uuid4().hex[:8]}"
    last = last_frame_key(cam)

    def lookup(digest: str, now_ms: int) -> tuple[CachedResult | None, int]:
        return cache.lookup(frame_key(cam, digest), last, digest, now_ms, 60)

    assert lookup("h1", 1000) == (None, 1000)
    result = CachedResult(Detections.empty(), ModelInfo("m", "1", "0" * 64), (640, 480))
    cache.store(frame_key(cam, "h1"), result, 1, {bytes_key(cam, "b1"): "h1"})
    found, since = lookup("h1", 5000)
    assert since == 1000
    assert found is not None
    assert (found.model, found.size, len(found.detections)) == (result.model, (640, 480), 0)
    assert cache.get(bytes_key(cam, "b1")) == "h1"
    assert lookup("h2", 9000) == (None, 9000)  # a new frame resets "since"
    assert cache._r.ttl(f"vision:camera:{cam}:frame:h1") in (0, 1)  # the key named in the issue
    time.sleep(1.1)
    assert lookup("h1", 10000)[0] is None  # expired


def test_redis_claims(stack_settings: Settings) -> None:
    cache = redis_cache(stack_settings, 1.0)
    key = f"vision:write:test:{uuid.uuid4().hex}"
    assert cache.claim(key, 60)
    assert not cache.claim(key, 60)
    cache.release(key)
    assert cache.claim(key, 60)
    cache.confirm(key, 3600)
    assert not cache.claim(key, 60)
    assert cache._r.ttl(key) > 60


def test_redis_claims_taken_back_by_their_owner_only(stack_settings: Settings) -> None:
    cache = redis_cache(stack_settings, 1.0)
    key = f"vision:job:test:{uuid.uuid4().hex}"
    assert cache.claim(key, 60, owner="m-1") == "taken"
    assert cache.state(key) == "pending"
    assert cache.claim(key, 60, owner="m-2") == ""
    assert cache.claim(key, 60) == ""
    assert cache.claim(key, 90, owner="m-1") == "retaken"
    assert cache._r.ttl(key) > 60  # the hold starts again
    cache.confirm(key, 3600)
    assert cache.claim(key, 60, owner="m-1") == ""


def test_redis_counts_a_messages_failures(stack_settings: Settings) -> None:
    cache = redis_cache(stack_settings, 1.0)
    key = f"attempts:test:{uuid.uuid4().hex}"
    assert [cache.count(key, 60) for _ in range(3)] == [1, 2, 3]
    assert 0 < cache._r.ttl(key) <= 60  # set by the first count, not pushed back by the others


def test_redis_down_is_dependency_unavailable() -> None:
    cache = RedisCache.connect("127.0.0.1", free_port(), 0.5)
    with pytest.raises(DependencyUnavailableError, match="redis"):
        cache.lookup(frame_key("cam", "h"), last_frame_key("cam"), "h", 0, 60)
    with pytest.raises(DependencyUnavailableError):
        cache.ping()


def _warehouse(settings: Settings, dataset: str) -> BigQueryWarehouse:
    client = bigquery_client(settings.project_id, settings.bigquery_endpoint)
    return BigQueryWarehouse(client, dataset, "US", 10)


def test_tables_created_from_schemas_with_partitioning(stack_settings: Settings) -> None:
    warehouse = _warehouse(stack_settings, f"it_{uuid.uuid4().hex[:8]}")
    warehouse.ensure_tables()
    client = warehouse._client
    for name in ("observations", "violations"):
        table = client.get_table(warehouse.table_id(name))
        assert table.time_partitioning.field == "event_time"
        assert table.time_partitioning.type_ == "DAY"
        assert table.clustering_fields == ["camera_id"]
    fields = {f.name: f for f in client.get_table(warehouse.table_id("observations")).schema}
    assert fields["detections"].mode == "REPEATED"
    assert fields["observation_id"].mode == "REQUIRED"


def test_insert_and_query_round_trip(stack_settings: Settings) -> None:
    warehouse = _warehouse(stack_settings, f"it_{uuid.uuid4().hex[:8]}")
    row = {
        "observation_id": "o1",
        "camera_id": "cam-1",
        "event_time": "2026-11-23T10:00:00+00:00",
        "frame_status": "ok",
        "counts": {"car": 2, "person": 1},
        "detections": [
            {
                "class_id": 2,
                "class_name": "car",
                "score": 0.9,
                "box": {"x1": 1.0, "y1": 2.0, "x2": 3.0, "y2": 4.0},
            }
        ],
    }
    warehouse.insert_rows("observations", [row], ["o1"])
    rows = warehouse.query(
        f"SELECT camera_id, counts.car AS cars, d.box.x2 AS x2 FROM "
        f"`{warehouse.table_id('observations')}`, UNNEST(detections) d WHERE camera_id = @cam",
        {"cam": "cam-1"},
    )
    assert rows == [{"camera_id": "cam-1", "cars": 2, "x2": 3.0}]
    with pytest.raises(WarehouseRejectedError):
        warehouse.query("SELEC nonsense")


@dataclass(frozen=True)
class _Event:
    """A violations row as the table has it: the id of a later event carries its number."""

    violation_id: str
    event_seq: int
    event_time: str = "2026-11-23T10:00:00+00:00"
    table: ClassVar[str] = "violations"

    @property
    def row_id(self) -> str:
        seq = self.event_seq
        return self.violation_id if seq == 0 else f"{self.violation_id}.{seq}"

    def as_row(self) -> dict[str, Any]:
        return {
            "violation_id": self.violation_id,
            "event_seq": self.event_seq,
            "event_time": self.event_time,
            "camera_id": "cam-1",
        }


def test_contains_finds_a_row_by_its_id(stack_settings: Settings) -> None:
    """What a retaken write asks before inserting again (its earlier insert may have landed)."""
    warehouse = _warehouse(stack_settings, f"it_{uuid.uuid4().hex[:8]}")
    failure = FrameFailure(
        "f1", "cam-1", "2026-11-23T10:00:00+00:00", "timeout", "slow", "http", "r", None
    )
    assert not warehouse.contains(failure)
    warehouse.insert([failure])
    assert warehouse.contains(failure)
    opened, later = _Event("v1", 0), _Event("v1", 2)
    warehouse.insert([opened])
    assert warehouse.contains(opened)
    assert not warehouse.contains(later)
    warehouse.insert([later])
    assert warehouse.contains(later)
    # A later attempt of the same work (a later event time) finds it; two days on, nothing.
    assert warehouse.contains(_Event("v1", 2, "2026-11-23T10:05:00+00:00"))
    assert not warehouse.contains(_Event("v1", 2, "2026-11-25T10:00:00+00:00"))


def test_bigquery_down_is_dependency_unavailable() -> None:
    client = bigquery_client("p", f"http://127.0.0.1:{free_port()}")
    warehouse = BigQueryWarehouse(client, "d", "US", 1.0)
    start = time.monotonic()
    with pytest.raises(DependencyUnavailableError, match="bigquery"):
        warehouse.ping()
    assert time.monotonic() - start < 10  # bounded by the configured deadline, not 600 s


def test_gcs_read_write_and_errors(stack_settings: Settings) -> None:
    client = storage_client(stack_settings.project_id, stack_settings.storage_emulator_host)
    bucket = f"it-{uuid.uuid4().hex[:8]}"
    client.create_bucket(bucket)
    blobs = GcsBlobStore(client)
    data = jpeg("car1.jpg")
    assert blobs.write(bucket, "f.jpg", data, "image/jpeg") == f"gs://{bucket}/f.jpg"
    assert blobs.read(bucket, "f.jpg", len(data)) == data
    with pytest.raises(FrameTooLargeError):
        blobs.read(bucket, "f.jpg", len(data) - 1)
    with pytest.raises(FrameUnreachableError, match="no object"):
        blobs.read(bucket, "missing.jpg", 100)
    blobs.ping()
    dead = GcsBlobStore(storage_client("p", f"http://127.0.0.1:{free_port()}"), timeout_s=1)
    with pytest.raises(DependencyUnavailableError, match="storage"):
        dead.read("b", "o", 10)


def _http(**kw: object) -> HttpSnapshotSource:
    args: dict[str, object] = {
        "connect_timeout_s": 1.0,
        "read_timeout_s": 1.0,
        "max_bytes": 1 << 20,
        "allow_private": True,
    } | kw
    return HttpSnapshotSource(**args)  # type: ignore[arg-type]


def test_http_snapshots_and_faults(local_stack: LocalStack) -> None:
    url = local_stack.camera_server.url  # type: ignore[union-attr]
    raw = _http().fetch(f"{url}/snapshot/car1.jpg")
    assert raw.data == jpeg("car1.jpg")
    assert raw.content_type == "image/jpeg"
    a, b = (_http().fetch(f"{url}/clip/it-cam.jpg") for _ in range(2))
    assert a.data != b.data  # a live camera: successive frames differ
    with pytest.raises(NotAnImageError, match="text/html"):
        decode_frame(_http().fetch(f"{url}/not-image"), 1 << 20, 10**8)
    with pytest.raises(FrameTooLargeError):
        _http().fetch(f"{url}/huge.jpg")
    with pytest.raises(FrameTimeoutError):
        _http(read_timeout_s=0.5).fetch(f"{url}/slow.jpg")
    with pytest.raises(FrameUnreachableError, match="HTTP 500"):
        _http().fetch(f"{url}/status/500")
    with pytest.raises(FrameUnreachableError, match=r"unreachable: Connection refused$"):
        _http().fetch(f"http://127.0.0.1:{free_port()}/cam.jpg")
    # A redirect is followed, and each hop is checked: never into the metadata server.
    assert _http().fetch(f"{url}/redirect?to=/snapshot/car1.jpg").data == jpeg("car1.jpg")
    with pytest.raises(ForbiddenSourceError, match=re.escape("169.254.169.254")):
        _http().fetch(f"{url}/redirect?to=http://169.254.169.254/computeMetadata/v1/")
    with pytest.raises(ForbiddenSourceError, match="private"):
        _http(allow_private=False).fetch(f"{url}/snapshot/car1.jpg")
