"""The processor keeps each camera's tracks: a new frame moves them, the same frame only keeps
them alive, and a failure before the row is written leaves a retry that moves nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from shared.errors import DependencyUnavailableError
from shared.service_layer.idempotency import tracks_key
from tests.conftest import jpeg
from tests.unit import fakes
from tests.unit.fakes import Rig, registry_of
from tests.unit.test_service import other_jpeg

ROOT = Path(__file__).resolve().parents[2]
ANSWER = json.loads((ROOT / "schemas" / "process_camera_response.schema.json").read_text())
SOURCE = "http://a/1.jpg"


@pytest.fixture
def rig() -> Rig:
    """cam-a serves the car picture; the fake detector finds a car and a bus (and a dog)."""
    return fakes.rig(registry_of({"id": "cam-a", "source": SOURCE}), {SOURCE: jpeg("car1.jpg")})


def stored(rig: Rig) -> tuple[dict[str, Any], int]:
    """The camera's tracks document as kept in the cache, and its TTL."""
    value, ttl_s = rig.cache.strings[tracks_key("cam-a")]
    return json.loads(value), ttl_s


def test_a_new_frame_opens_tracks_and_answers_their_ids(rig: Rig) -> None:
    answer = rig.processor.process("cam-a").as_answer()
    jsonschema.validate(answer, ANSWER)
    assert [(d["class_name"], d["track_id"]) for d in answer["detections"]] == [
        ("car", "t1"),
        ("bus", "t2"),
    ]
    doc, ttl_s = stored(rig)
    assert ttl_s == rig.processor.settings.track_ttl_s
    assert doc["frame"] == answer["frame"]["hash"]
    assert [t["id"] for t in doc["tracks"]] == ["t1", "t2"]
    assert "tracks" in answer["latency_ms"]
    assert (
        "track_id" not in rig.warehouse.rows["observations"][0]["detections"][0]
    )  # rows as before


def test_the_same_frame_again_keeps_ids_without_judging_motion(rig: Rig) -> None:
    first = rig.processor.process("cam-a").as_answer()
    before, _ = stored(rig)
    hit = rig.processor.process("cam-a").as_answer()
    assert hit["cache"] == "hit"
    assert [d["track_id"] for d in hit["detections"]] == ["t1", "t2"]
    after, _ = stored(rig)
    car_before, car_after = before["tracks"][0], after["tracks"][0]
    assert car_after["last_seen_ms"] >= car_before["last_seen_ms"]
    assert car_after["stationary_since_ms"] is None  # a repeated frame says nothing of motion
    assert car_after["box"] == car_before["box"]
    assert after["frame"] == first["frame"]["hash"]


def test_a_new_frame_with_the_boxes_in_place_is_stationary(rig: Rig) -> None:
    rig.processor.process("cam-a")
    rig.frames.frames[SOURCE] = other_jpeg()  # a new frame; the fake finds the same boxes
    answer = rig.processor.process("cam-a").as_answer()
    assert answer["cache"] == "miss"
    assert [d["track_id"] for d in answer["detections"]] == ["t1", "t2"]
    doc, _ = stored(rig)
    assert all(
        t["stationary_since_ms"] == t["first_seen_ms"] <= t["last_seen_ms"] for t in doc["tracks"]
    )


def test_redis_down_while_tracking_records_nothing(rig: Rig, monkeypatch) -> None:
    def down(*args, **kwargs):
        raise DependencyUnavailableError("redis", "connection refused")

    monkeypatch.setattr(rig.cache, "update", down)
    with pytest.raises(DependencyUnavailableError, match="redis"):
        rig.processor.process("cam-a")
    assert "observations" not in rig.warehouse.rows
    assert rig.cache.results == {}  # not cached: the retry is a miss and tracks the frame
    monkeypatch.undo()
    retry = rig.processor.process("cam-a").as_answer()
    assert retry["cache"] == "miss"
    assert [d["track_id"] for d in retry["detections"]] == ["t1", "t2"]


def test_a_retry_after_a_failed_write_moves_no_track(rig: Rig) -> None:
    rig.warehouse.fail_next = 1
    with pytest.raises(DependencyUnavailableError, match="bigquery"):
        rig.processor.process("cam-a")
    retry = rig.processor.process("cam-a").as_answer()
    assert retry["cache"] == "miss"  # detected again, but the tracks had this frame already
    assert [d["track_id"] for d in retry["detections"]] == ["t1", "t2"]
    doc, _ = stored(rig)
    assert [t["stationary_since_ms"] for t in doc["tracks"]] == [None, None]
