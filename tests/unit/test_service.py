"""CameraProcessor with fakes: dedup, staleness, health rows, idempotent writes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from shared.domain.detections import ModelInfo
from shared.errors import (
    CameraNotFoundError,
    DependencyUnavailableError,
    FrameTimeoutError,
    NotAnImageError,
)
from shared.service_layer.idempotency import last_frame_key
from tests.conftest import jpeg
from tests.unit import fakes
from tests.unit.fakes import Rig, registry_of

REGISTRY = registry_of(
    {"id": "cam-a", "source": "http://a/1.jpg"},
    {
        "id": "cam-b",
        "source": "http://b/1.jpg",
        "rules": {"min_score": 0.3, "classes": ["bus"], "stale_after_s": 5},
    },
    {"id": "cam-dead", "source": "http://dead/1.jpg"},
)


def other_jpeg() -> bytes:
    img = np.full((60, 80, 3), 127, np.uint8)
    return cv2.imencode(".jpg", img)[1].tobytes()


@pytest.fixture
def rig() -> Rig:
    """cam-a and cam-b serve the same car picture; cam-dead times out."""
    return fakes.rig(
        REGISTRY,
        {
            "http://a/1.jpg": jpeg("car1.jpg"),
            "http://b/1.jpg": jpeg("car1.jpg"),
            "http://dead/1.jpg": FrameTimeoutError("camera dead timed out"),
        },
    )


def test_miss_then_hit_without_inference_or_second_row(rig: Rig) -> None:
    first = rig.processor.process("cam-a", "req-1").as_answer()
    assert first["cache"] == "miss"
    assert first["recorded"] is True
    assert first["counts"]["car"] == 1
    assert first["counts"]["bus"] == 1
    assert set(first["latency_ms"]) >= {"fetch", "decode", "cache", "detect", "warehouse", "total"}
    second = rig.processor.process("cam-a", "req-2").as_answer()
    assert second["cache"] == "hit"
    assert second["recorded"] is False
    assert second["detections"] == first["detections"]
    assert rig.detector.calls == 1
    assert "decode" not in second["latency_ms"]  # same bytes: the alias skips decoding
    assert second["frame"]["width"] == 1024
    assert second["frame"]["hash"] == first["frame"]["hash"]

    rows = rig.warehouse.rows["observations"]
    assert len(rows) == 1
    assert rows[0]["frame_hash"] == first["frame"]["hash"]
    assert rows[0]["cache_status"] == "miss"
    assert rows[0]["model"] == {"name": "fake", "version": "1", "sha256": "0" * 64}


def test_cache_entry_without_size_is_decoded_not_a_crash(rig: Rig) -> None:
    rig.processor.process("cam-a").as_answer()
    for entry in rig.cache.results.values():
        del entry["size"]  # as cached by a version before the bytes alias
    again = rig.processor.process("cam-a").as_answer()
    assert again["cache"] == "hit"
    assert "decode" in again["latency_ms"]
    assert again["frame"]["width"] == 1024
    assert rig.detector.calls == 1


def test_new_frame_is_a_miss(rig: Rig) -> None:
    rig.processor.process("cam-a").as_answer()
    rig.frames.frames["http://a/1.jpg"] = other_jpeg()
    assert rig.processor.process("cam-a").as_answer()["cache"] == "miss"
    assert rig.detector.calls == 2
    assert len(rig.warehouse.rows["observations"]) == 2


def test_per_camera_rules_apply(rig: Rig) -> None:
    result = rig.processor.process("cam-b").as_answer()
    assert [d["class_name"] for d in result["detections"]] == ["bus"]  # classes + min_score 0.3


def test_stale_camera_is_flagged_and_recorded_once(rig: Rig) -> None:
    rig.processor.process("cam-b").as_answer()
    digest, since = rig.cache.last[last_frame_key("cam-b")]
    rig.cache.last[last_frame_key("cam-b")] = (
        digest,
        since - 6000,
    )  # the same frame, 6 s ago (stale after 5)
    stale = rig.processor.process("cam-b").as_answer()
    assert stale["frame"]["status"] == "stale"
    assert stale["frame"]["stale_for_s"] >= 6
    again = rig.processor.process("cam-b").as_answer()
    assert again["frame"]["status"] == "stale"
    assert again["recorded"] is False
    statuses = [r["frame_status"] for r in rig.warehouse.rows["observations"]]
    assert statuses == ["ok", "stale"]


def test_unreachable_camera_records_a_health_row(rig: Rig) -> None:
    with pytest.raises(FrameTimeoutError):
        rig.processor.process("cam-dead", "req-9").as_answer()
    rig.frames.frames["http://dead/1.jpg"] = NotAnImageError("camera answered 'text/html'")
    with pytest.raises(NotAnImageError):
        rig.processor.process("cam-dead").as_answer()
    rows = rig.warehouse.rows["observations"]
    assert [(r["frame_status"], r["camera_id"]) for r in rows] == [
        ("timeout", "cam-dead"),
        ("not_image", "cam-dead"),
    ]
    assert rows[0]["error"] == "camera dead timed out"
    assert rows[0]["request_id"] == "req-9"


def test_unknown_camera(rig: Rig) -> None:
    with pytest.raises(CameraNotFoundError):
        rig.processor.process("cam-zzz").as_answer()


def test_failed_write_is_retried_not_lost(rig: Rig) -> None:
    rig.warehouse.fail_next = 1
    with pytest.raises(DependencyUnavailableError, match="bigquery"):
        rig.processor.process("cam-a").as_answer()
    assert not any(v == "pending" for v in rig.cache.keys.values())  # claim released
    assert rig.cache.results == {}  # not cached either: the retry is a miss and writes the row
    retry = rig.processor.process("cam-a").as_answer()
    assert retry["recorded"] is True
    assert len(rig.warehouse.rows["observations"]) == 1


def test_redis_down_is_a_dependency_error(rig: Rig) -> None:
    rig.cache.down = True
    with pytest.raises(DependencyUnavailableError, match="redis"):
        rig.processor.process("cam-a").as_answer()


def test_a_new_model_does_not_serve_the_old_models_cached_results(rig: Rig) -> None:
    assert rig.processor.process("cam-a").as_answer()["cache"] == "miss"
    assert rig.processor.process("cam-a").as_answer()["cache"] == "hit"
    rig.detector.model = ModelInfo("fake", "2", "1" * 64)  # redeployed with another model
    again = rig.processor.process("cam-a").as_answer()
    assert again["cache"] == "miss"
    assert again["model"]["sha256"] == "1" * 64
    assert rig.detector.calls == 2
    assert (
        rig.processor.process("cam-a").as_answer()["cache"] == "hit"
    )  # the new model's result is cached
