"""Violations in the service: a row per lifecycle event, evidence stored, one alert each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
import pytest

from shared.domain.lifecycle import Book
from shared.errors import DependencyUnavailableError
from shared.messages.schemas import validate
from tests.conftest import image, jpeg
from tests.unit import fakes
from tests.unit.fakes import Rig, registry_of

# FakeDetector finds a car at (1, 2, 30, 40): bottom-centre (15.5, 40) in a 1024x680 frame.
LANE = {
    "name": "corner-lane",
    "type": "bus_lane",
    "polygon": [[0, 0], [0.1, 0], [0.1, 0.1], [0, 0.1]],
}
REGISTRY = registry_of(
    {"id": "cam-v", "source": "http://v/1.jpg", "zones": [LANE]},
)


def changed_jpeg() -> bytes:
    img = image("car1.jpg")
    img[600:, 600:] = 0  # another frame of the same size
    return cv2.imencode(".jpg", img)[1].tobytes()


@pytest.fixture
def rig() -> Rig:
    """cam-v serves the car picture; its corner lane holds the fake detector's car."""
    return fakes.rig(REGISTRY, {"http://v/1.jpg": jpeg("car1.jpg")})


def test_violation_recorded_with_evidence_and_alerted_once(rig: Rig) -> None:
    first = rig.processor.process("cam-v", sweep_id="s1").as_answer()
    [v] = first["violations"]
    assert (v["type"], v["zone"], v["class_name"], v["alerted"]) == (
        "bus_lane",
        "corner-lane",
        "car",
        True,
    )
    # The evidence: the frame annotated at its full size, at a dated path named by the id.
    day = datetime.fromisoformat(first["event_time"]).strftime("%Y/%m/%d")
    assert v["evidence_uri"] == (
        f"gs://camwatch-evidence/evidence/cam-v/{day}/{v['violation_id']}.jpg"
    )
    evidence = cv2.imdecode(
        np.frombuffer(rig.evidence.objects[v["evidence_uri"]], np.uint8), cv2.IMREAD_COLOR
    )
    assert evidence is not None
    assert evidence.shape == image("car1.jpg").shape
    assert not np.array_equal(evidence, image("car1.jpg"))  # drawn on
    assert "gs://camwatch-evidence/latest/cam-v.jpg" in rig.evidence.objects
    [(topic, message, attributes)] = rig.bus.sent
    assert topic == "violations"
    assert message["violation_id"] == v["violation_id"]
    # The message (not the row) carries the signed URL of the evidence.
    assert message["evidence_url"].startswith(
        f"http://127.0.0.1:9/camwatch-evidence/evidence/cam-v/{day}/"
    )
    assert "evidence_url" not in v
    validate("violation", message)
    assert attributes == {"camera_id": "cam-v", "type": "bus_lane"}
    assert (v["event"], v["event_seq"], v["track_id"]) == ("open", 0, "t1")
    book = Book.from_json(rig.cache.get("violation:camera:cam-v:type:bus_lane"))
    assert [(o.violation_id, o.published) for o in book.open] == [(v["violation_id"], True)]
    assert rig.cache.strings["violation:camera:cam-v:type:bus_lane"][1] == 24 * 3600
    # The same car, a new frame: the same violation updated, no second alert.
    rig.frames.frames["http://v/1.jpg"] = changed_jpeg()
    [again] = rig.processor.process("cam-v", sweep_id="s2").as_answer()["violations"]
    assert (again["event"], again["event_seq"], again["alerted"]) == ("update", 1, False)
    assert again["violation_id"] == v["violation_id"]
    assert again["evidence_uri"] == v["evidence_uri"]  # the evidence of the open event
    assert len(rig.warehouse.rows["violations"]) == 2
    assert len(rig.bus.sent) == 1
    assert len(rig.evidence.objects) == 2  # the evidence, and the latest frame overwritten
    # A cache hit does not find them again.
    assert rig.processor.process("cam-v").as_answer()["violations"] == []


def test_failed_alert_is_retried_not_lost(rig: Rig) -> None:
    rig.bus.fail_next = 1
    with pytest.raises(DependencyUnavailableError, match="pubsub"):
        rig.processor.process("cam-v").as_answer()
    book = Book.from_json(rig.cache.get("violation:camera:cam-v:type:bus_lane"))
    assert [o.published for o in book.open] == [False]  # open, its alert not out yet
    retry = rig.processor.process("cam-v").as_answer()
    assert [v["alerted"] for v in retry["violations"]] == [True]
    assert len(rig.bus.sent) == 1
    assert len(rig.warehouse.rows["violations"]) == 1  # the first attempt's row, written once
    # The redelivered frame opens the same violation: its evidence was written once.
    [uri] = {v["evidence_uri"] for v in retry["violations"]}
    assert rig.evidence.writes.count(uri) == 1


def test_storage_down_is_retried(rig: Rig) -> None:
    rig.evidence.down = True
    with pytest.raises(DependencyUnavailableError, match="storage"):
        rig.processor.process("cam-v").as_answer()
    rig.evidence.down = False
    assert rig.processor.process("cam-v").as_answer()["violations"][0]["alerted"] is True


def test_each_violation_of_a_frame_has_its_own_evidence() -> None:
    stand = {**LANE, "name": "corner-bikes", "type": "bike_lane"}
    r = fakes.rig(
        registry_of({"id": "cam-w", "source": "http://w/1.jpg", "zones": [LANE, stand]}),
        {"http://w/1.jpg": jpeg("car1.jpg")},
    )
    found = r.processor.process("cam-w").as_answer()["violations"]
    # The car breaks both lanes, the bus the bike lane: three violations, three images, each
    # with its own offender (the others blurred).
    assert sorted((v["type"], v["class_name"]) for v in found) == [
        ("bike_lane", "bus"),
        ("bike_lane", "car"),
        ("bus_lane", "car"),
    ]
    uris = {v["evidence_uri"] for v in found}
    assert len(uris) == 3
    assert uris | {"gs://camwatch-evidence/latest/cam-w.jpg"} == set(r.evidence.objects)
    assert len(r.bus.sent) == 3  # one alert per violation


@pytest.mark.parametrize("originals", [False, True])
def test_the_original_frame_is_stored_only_when_asked(originals: bool) -> None:
    r = fakes.rig(REGISTRY, {"http://v/1.jpg": jpeg("car1.jpg")}, originals=originals)
    [v] = r.processor.process("cam-v").as_answer()["violations"]
    original = v["evidence_uri"].replace("/evidence/", "/originals/", 1)
    stored = {uri.split("/")[3] for uri in r.evidence.objects}  # the top folder of each object
    if originals:
        assert r.evidence.objects[original] == jpeg("car1.jpg")  # byte for byte
        assert stored == {"evidence", "latest", "originals"}
    else:
        assert stored == {"evidence", "latest"}  # privacy by default: nothing unblurred


def test_decoded_only_frames_are_encoded_as_jpeg_evidence() -> None:
    r = fakes.rig(
        registry_of({"id": "cam-x", "source": "rtsp://x/1", "zones": [LANE]}),
        {"rtsp://x/1": image("car1.jpg")},
    )
    [v] = r.processor.process("cam-x").as_answer()["violations"]
    data = r.evidence.objects[v["evidence_uri"]]
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert data[:3] == b"\xff\xd8\xff"
    assert decoded is not None
    assert decoded.shape == (680, 1024, 3)


def test_a_cache_hit_of_a_decoded_only_frame_finds_no_violation_again() -> None:
    # Video frames have no bytes alias: the hit is found after decoding, and must still be a hit.
    r = fakes.rig(
        registry_of({"id": "cam-x", "source": "rtsp://x/1", "zones": [LANE]}),
        {"rtsp://x/1": image("car1.jpg")},
    )
    assert len(r.processor.process("cam-x").violations) == 1
    again = r.processor.process("cam-x")
    assert again.cache == "hit"
    assert again.violations == ()
    assert len(r.evidence.writes) == 2  # the evidence and the latest frame, once: not on a hit
    assert len(r.bus.sent) == 1


def test_a_failed_row_holds_every_alert_of_the_frame_and_the_retry_sends_them() -> None:
    stand = {**LANE, "name": "corner-bikes", "type": "bike_lane"}
    r = fakes.rig(
        registry_of({"id": "cam-w", "source": "http://w/1.jpg", "zones": [LANE, stand]}),
        {"http://w/1.jpg": jpeg("car1.jpg")},
    )
    r.warehouse.fail_next = 1  # one of the three violation rows fails (they run side by side)
    with pytest.raises(DependencyUnavailableError):
        r.processor.process("cam-w", sweep_id="s1").as_answer()
    assert r.bus.sent == []  # nothing published before every row was in
    found = r.processor.process("cam-w", sweep_id="s1").as_answer()["violations"]
    assert [v["event"] for v in found] == ["open"] * 3  # the retry gives the same events
    assert sum(v["alerted"] for v in found) == 3
    assert len(r.bus.sent) == 3
    assert len(r.warehouse.rows["violations"]) == 3  # the two that made it are not rewritten


def _window_around_now(start_h: int, end_h: int) -> dict[str, object]:
    """Every day, from ``start_h`` to ``end_h`` hours from now (UTC wall clock)."""
    now = datetime.now(UTC)
    return {
        "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        "start": (now + timedelta(hours=start_h)).strftime("%H:%M"),
        "end": (now + timedelta(hours=end_h)).strftime("%H:%M"),
    }


@pytest.mark.parametrize(
    ("window", "found"),
    [
        (_window_around_now(2, 3), []),  # the lane opens in two hours: no violation now
        (_window_around_now(-1, 1), ["corner-lane"]),  # active now: the car is in it
    ],
)
def test_a_scheduled_lane_finds_violations_only_while_active(
    window: dict[str, object], found: list[str]
) -> None:
    lane = {**LANE, "schedule": [window]}
    registry = registry_of(
        {"id": "cam-s", "source": "http://s/1.jpg", "zones": [lane], "timezone": "UTC"}
    )
    rig = fakes.rig(registry, {"http://s/1.jpg": jpeg("car1.jpg")})
    answer = rig.processor.process("cam-s").as_answer()
    assert [v["zone"] for v in answer["violations"]] == found
    assert len(rig.warehouse.rows.get("violations", [])) == len(found)


def test_a_mask_over_the_car_drops_it_before_zones_and_tracks() -> None:
    corner = [[0, 0], [0.1, 0], [0.1, 0.1], [0, 0.1]]  # holds the car's anchor (15.5, 40)
    registry = registry_of(
        {"id": "cam-m", "source": "http://m/1.jpg", "zones": [LANE], "rules": {"masks": [corner]}}
    )
    rig = fakes.rig(registry, {"http://m/1.jpg": jpeg("car1.jpg")})
    answer = rig.processor.process("cam-m").as_answer()
    assert answer["violations"] == []
    assert answer["counts"]["car"] == 0


def test_an_old_claim_in_the_key_is_taken_over_without_a_second_alert(rig: Rig) -> None:
    # A worker of the seed's kind alerted this camera's bus lane and left its claim string.
    rig.cache.strings["violation:camera:cam-v:type:bus_lane"] = ("done", 24 * 3600)
    [v] = rig.processor.process("cam-v").as_answer()["violations"]
    assert (v["event"], v["alerted"]) == ("open", True)  # recorded as open, alerted before
    assert rig.bus.sent == []
    book = Book.from_json(rig.cache.get("violation:camera:cam-v:type:bus_lane"))
    assert [o.published for o in book.open] == [True]
    assert not book.legacy


def test_a_car_that_stays_in_a_no_standing_zone_opens_on_the_second_frame() -> None:
    kerb = {**LANE, "name": "corner-kerb", "type": "no_standing"}
    r = fakes.rig(
        registry_of(
            {"id": "cam-k", "source": "http://k/1.jpg", "zones": [kerb], "rules": {"stop_s": 0}}
        ),
        {"http://k/1.jpg": jpeg("car1.jpg")},
    )
    assert r.processor.process("cam-k").violations == ()  # seen once: not stationary yet
    r.frames.frames["http://k/1.jpg"] = changed_jpeg()  # the fake finds the same boxes
    found = r.processor.process("cam-k").violations
    assert sorted((v.event, v.class_name) for v in found) == [("open", "bus"), ("open", "car")]
    assert all(v.dwell_s is not None and v.dwell_s >= 0 for v in found)
    assert len(r.bus.sent) == 2
