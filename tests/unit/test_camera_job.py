"""The camera worker: one camera-jobs message, processed once per sweep, or dropped, or retried."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.health import CameraHealth
from shared.errors import DependencyUnavailableError, FrameTimeoutError, MessageRejectedError
from shared.messages.envelope import PubsubMessage
from shared.service_layer.camera_job import handle_job
from shared.service_layer.idempotency import camera_health_key
from tests.conftest import jpeg
from tests.unit.fakes import Rig, message, registry_of, rig

REGISTRY = registry_of(
    {"id": "cam-a", "source": "http://a/1.jpg"},
    {"id": "cam-b", "source": "http://b/1.jpg"},
)


@pytest.fixture
def worker() -> Rig:
    """cam-a serves a car; cam-b times out."""
    return rig(
        REGISTRY, {"http://a/1.jpg": jpeg("car1.jpg"), "http://b/1.jpg": FrameTimeoutError("t")}
    )


def job(
    camera_id: str, sweep_id: str = "s1", age_s: float = 5, message_id: str = "7"
) -> PubsubMessage:
    scheduled = (datetime.now(UTC) - timedelta(seconds=age_s)).isoformat()
    payload = {"sweep_id": sweep_id, "camera_id": camera_id, "scheduled_at": scheduled}
    return message(payload, message_id)


def test_worker_processes_once_per_sweep(worker: Rig) -> None:
    processor, cache, rows = worker.processor, worker.cache, worker.warehouse.rows
    assert handle_job(job("cam-a"), processor, cache) == "processed"
    assert handle_job(job("cam-a"), processor, cache) == "duplicate"  # a redelivery
    assert len(rows["observations"]) == 1
    assert rows["observations"][0]["sweep_id"] == "s1"
    assert handle_job(job("cam-b"), processor, cache) == "timeout"  # health row, not retried
    assert [r["frame_status"] for r in rows["observations"]] == ["ok", "timeout"]
    # The next sweep sees the same frame: a cache hit, still one row for that sweep.
    assert handle_job(job("cam-a", "s9"), processor, cache) == "processed"
    last = rows["observations"][-1]
    assert (last["sweep_id"], last["cache_status"]) == ("s9", "hit")
    assert len(rows["observations"]) == 3


def test_expired_job_is_dropped_not_processed(worker: Rig) -> None:
    processor, cache = worker.processor, worker.cache
    too_old = processor.settings.max_job_age_s + 1
    assert handle_job(job("cam-a", age_s=too_old), processor, cache) == "expired"
    assert "observations" not in worker.warehouse.rows
    assert handle_job(job("cam-a", age_s=60), processor, cache) == "processed"


def test_worker_rejects_unknown_and_retries_transient(worker: Rig) -> None:
    processor, cache = worker.processor, worker.cache
    with pytest.raises(MessageRejectedError, match="unknown camera"):
        handle_job(job("cam-zzz"), processor, cache)
    worker.warehouse.fail_next = 1
    with pytest.raises(DependencyUnavailableError):
        handle_job(job("cam-a", "s2"), processor, cache)
    assert handle_job(job("cam-a", "s2"), processor, cache) == "processed"  # the redelivery


def test_jobs_that_can_never_succeed_are_rejected_before_the_claim(worker: Rig) -> None:
    """An unknown camera (even an old job, even with Redis down) or a job from the future."""
    processor, cache = worker.processor, worker.cache
    cache.down = True
    with pytest.raises(MessageRejectedError, match="unknown camera"):
        handle_job(job("cam-zzz", age_s=processor.settings.max_job_age_s + 60), processor, cache)
    cache.down = False
    with pytest.raises(MessageRejectedError, match="in the future"):
        handle_job(job("cam-a", age_s=-3600), processor, cache)
    assert handle_job(job("cam-a", age_s=-60), processor, cache) == "processed"  # clock skew


def test_each_sweep_records_the_cameras_health_for_the_monitor(worker: Rig) -> None:
    processor, cache = worker.processor, worker.cache
    for sweep in ("s1", "s2"):
        assert handle_job(job("cam-b", sweep), processor, cache) == "timeout"
    assert handle_job(job("cam-a"), processor, cache) == "processed"
    b = CameraHealth.from_json(cache.get(camera_health_key("cam-b")))
    a = CameraHealth.from_json(cache.get(camera_health_key("cam-a")))
    assert (b.failures, b.last_error_kind, b.last_frame_at) == (2, "timeout", None)
    assert (a.failures, a.stale) == (0, False)
    assert a.last_frame_at is not None
    assert handle_job(job("cam-a", "s1"), processor, cache) == "duplicate"  # not recorded
    assert CameraHealth.from_json(cache.get(camera_health_key("cam-a"))) == a


def test_a_redelivered_job_takes_back_what_its_failed_attempt_kept(
    worker: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BigQuery answered too late (the row landed) and Redis was gone when the attempt gave its
    claims back: the same message's redelivery is processed, once, without a second row."""
    processor, cache, warehouse = worker.processor, worker.cache, worker.warehouse
    worker.warehouse.land_then_fail = 1
    with monkeypatch.context() as m:
        m.setattr(cache, "release", lambda key: None)
        with pytest.raises(DependencyUnavailableError):
            handle_job(job("cam-a", "s3", message_id="41"), processor, cache)
    # Another message with the same job (a duplicate publish) leaves it to its owner.
    assert handle_job(job("cam-a", "s3", message_id="42"), processor, cache) == "duplicate"
    assert handle_job(job("cam-a", "s3", message_id="41"), processor, cache) == "processed"
    assert [r["sweep_id"] for r in warehouse.rows["observations"]] == ["s3"]


def test_a_retried_job_that_sees_a_new_frame_still_writes_one_row(
    worker: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A clip camera moves on between the tries: the sweep's row is the camera's, not the
    frame's, so the row the first try landed is found and not written again."""
    processor, cache, warehouse = worker.processor, worker.cache, worker.warehouse
    warehouse.land_then_fail = 1
    with monkeypatch.context() as m:
        m.setattr(cache, "release", lambda key: None)
        with pytest.raises(DependencyUnavailableError):
            handle_job(job("cam-a", "s5", message_id="51"), processor, cache)
    worker.frames.frames["http://a/1.jpg"] = jpeg("vtest_f300.jpg")  # the next frame
    assert handle_job(job("cam-a", "s5", message_id="51"), processor, cache) == "processed"
    assert [r["sweep_id"] for r in warehouse.rows["observations"]] == ["s5"]
