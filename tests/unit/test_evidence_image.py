"""The evidence image on a real frame (car1.jpg, 1024x680) with hand-placed marks: the zone and
the offender drawn, people and bystanders blurred, the offending car untouched; the overlay of
a camera's detections; the JPEG."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from shared.domain.detections import Detections
from shared.domain.evidence_image import (
    OFFENDER,
    ZONE_COLORS,
    Mark,
    Overlay,
    ZoneOutline,
    annotate,
    encode_jpeg,
    iou,
    mark_label,
    overlay_for,
    privacy_blur,
)
from shared.domain.registry import Camera, ZoneType
from shared.domain.violations import ViolationRecord
from tests.conftest import image

FRAME = image("car1.jpg")  # the car spans about (50, 195)-(955, 475)
CAR = Mark((50, 195, 955, 475), "car", 0.91, "t3", "offender")
TREES = Mark((560, 20, 760, 180), "truck", 0.62, "t9", "bystander")  # detailed foliage
WALKER = Mark((880, 500, 940, 600), "person", 0.77, "t5", "offender")  # on the road, right
# A bus lane around the car, its edges outside the car's box: (20, 170) (1004, 170)
# (1004, 646) (41, 646) in pixels, the last edge slanted.
LANE = ZoneOutline("busway", "bus_lane", ((0.02, 0.25), (0.98, 0.25), (0.98, 0.95), (0.04, 0.95)))
CAPTION = ("bus_lane: car 0.91, track t3, dwell 42 s, zone busway", "camera cam-1")
OVERLAY = Overlay((CAR, TREES, WALKER), (LANE,), CAPTION)


def inside(img: np.ndarray, box: tuple[float, ...], margin: int = 0) -> np.ndarray:
    x1, y1, x2, y2 = (int(v) for v in box)
    return img[y1 + margin : y2 - margin, x1 + margin : x2 - margin]


def sharpness(img: np.ndarray) -> float:
    """The variance of the Laplacian: high-frequency detail (edges, text, faces)."""
    return float(cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var())


def share_of(img: np.ndarray, points: list[tuple[int, int]], color: tuple[int, ...]) -> float:
    """The share of (x, y) points whose pixel is exactly ``color``."""
    return float(np.mean([tuple(img[y, x].tolist()) == color for x, y in points]))


def along(a: tuple[int, int], b: tuple[int, int], n: int = 25) -> list[tuple[int, int]]:
    """Points on the segment a-b, its ends left out."""
    return [
        (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t))
        for t in np.linspace(0.1, 0.9, n)
    ]


def test_annotation_draws_the_zone_outline_in_its_type_colour() -> None:
    out = annotate(FRAME, OVERLAY)
    orange = ZONE_COLORS[ZoneType.BUS_LANE]
    edges = {
        "top": along((300, 170), (540, 170)),  # clear of the labels and the trees' box
        "right": along((1004, 170), (1004, 646)),
        "bottom": along((41, 646), (1004, 646)),
        "slanted": along((20, 170), (41, 646)),
    }
    for name, points in edges.items():
        assert share_of(out, points, orange) >= 0.9, name
    assert share_of(FRAME, edges["bottom"], orange) == 0  # not in the photo already
    bare = annotate(FRAME, replace(OVERLAY, zones=()))
    assert share_of(bare, edges["bottom"], orange) == 0


def test_annotation_draws_the_offender_box_in_red() -> None:
    out = annotate(FRAME, OVERLAY)
    x1, _, x2, y2 = (int(v) for v in CAR.box)
    edges = [
        along((x1, 250), (x1, 450)),  # left
        along((x2 - 1, 250), (x2 - 1, 450)),  # right
        along((100, y2 - 1), (900, y2 - 1)),  # bottom
    ]
    for points in edges:
        assert share_of(out, points, OFFENDER) == 1.0
    as_bystander = annotate(FRAME, replace(OVERLAY, marks=(replace(CAR, role="bystander"),)))
    assert share_of(as_bystander, edges[2], OFFENDER) == 0


def test_annotation_keeps_the_offending_car_as_the_camera_saw_it() -> None:
    """Its interior (less the outline) is neither blurred nor tinted by the zone's fill."""
    out = annotate(FRAME, OVERLAY)
    assert np.array_equal(inside(out, CAR.box, 8), inside(FRAME, CAR.box, 8))
    # the zone's fill does tint the road outside the car
    assert not np.array_equal(out[500:640, 100:900], FRAME[500:640, 100:900])


@pytest.mark.parametrize(
    "mark",
    [
        TREES,  # a bystander
        WALKER,  # a person, though the offender
        replace(CAR, role="bystander"),  # the car, not part of any violation
    ],
)
def test_blur_hides_bystanders_and_people(mark: Mark) -> None:
    out = privacy_blur(FRAME, [mark])
    before, after = inside(FRAME, mark.box), inside(out, mark.box)
    assert np.any(after != before, axis=2).mean() > 0.5  # most pixels changed
    assert sharpness(after) < sharpness(before) / 20
    assert np.array_equal(out[:, :40], FRAME[:, :40])  # nothing else changed


def test_blur_leaves_the_offending_vehicle_untouched() -> None:
    out = privacy_blur(FRAME, [CAR, TREES, WALKER])
    assert np.array_equal(inside(out, CAR.box), inside(FRAME, CAR.box))
    assert not np.array_equal(inside(out, TREES.box), inside(FRAME, TREES.box))


def test_blur_of_a_bystander_overlapping_the_offender_spares_the_offender() -> None:
    """A bystander's box reaching into the offender's is blurred outside it only; a person's
    box is blurred everywhere, over the offender too."""
    passer = Mark((700, 120, 900, 260), "car", 0.5, None, "bystander")
    rider = Mark((300, 150, 400, 260), "person", 0.8, None, "bystander")
    out = privacy_blur(FRAME, [CAR, passer, rider])
    assert np.array_equal(out[195:260, 700:900], FRAME[195:260, 700:900])
    assert sharpness(out[120:195, 700:900]) < sharpness(FRAME[120:195, 700:900]) / 20
    assert not np.array_equal(out[195:260, 300:400], FRAME[195:260, 300:400])


def test_blur_makes_two_plates_indistinguishable() -> None:
    """Text a camera could read comes out as the same smudge whatever it says."""
    plates = []
    for text in ("ABC 123", "XYZ 789"):
        plate = np.full((120, 360, 3), 235, np.uint8)
        cv2.putText(plate, text, (15, 85), cv2.FONT_HERSHEY_SIMPLEX, 2.2, (20, 20, 20), 6)
        plates.append(plate)
    gap_before = np.abs(plates[0].astype(int) - plates[1].astype(int)).mean()
    spot = Mark((0, 0, 360, 120), "car", 0.8, None, "bystander")
    blurred = [privacy_blur(p, [spot]).astype(int) for p in plates]
    assert np.abs(blurred[0] - blurred[1]).mean() < gap_before / 5


@pytest.mark.parametrize(
    ("box", "blurred"),
    [
        ((10, 10, 10, 10), False),  # empty
        ((-50, -50, -10, -10), False),  # wholly outside
        ((5.5, 5.5, 6.2, 6.9), False),  # under a pixel: the pixel (5, 5) only
        ((30, 40, 20, 50), False),  # inverted
        ((float("nan"), 0, 50, 50), False),  # not a number: skipped
        ((1000, 600, 2000, 900), True),  # mostly outside: the corner inside is blurred
    ],
)
def test_blur_clips_boxes_and_takes_tiny_ones(
    box: tuple[float, float, float, float], blurred: bool
) -> None:
    out = privacy_blur(FRAME, [Mark(box, "person", 0.5, None, "bystander")])
    assert out.shape == FRAME.shape
    drawn = annotate(FRAME, Overlay((Mark(box, "car", 0.5, None, "offender"),), (LANE,), CAPTION))
    assert drawn.shape == FRAME.shape
    assert np.array_equal(out[:590, 20:990], FRAME[:590, 20:990])
    assert np.array_equal(out[600:, 1000:], FRAME[600:, 1000:]) is not blurred


def test_input_is_not_modified_and_jpeg_round_trips() -> None:
    frame = FRAME.copy()
    out = annotate(frame, OVERLAY)
    privacy_blur(frame, OVERLAY.marks)
    assert np.array_equal(frame, FRAME)
    assert out.shape == frame.shape
    data = encode_jpeg(out)
    assert data[:2] == b"\xff\xd8"
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None
    assert decoded.shape == FRAME.shape
    assert len(encode_jpeg(out, quality=30)) < len(data)
    with pytest.raises(ValueError, match="quality"):
        encode_jpeg(out, quality=0)
    with pytest.raises(ValueError, match="uint8"):
        annotate(frame.astype(np.float32), OVERLAY)
    with pytest.raises(ValueError, match="non-empty"):
        privacy_blur(frame[:0], OVERLAY.marks)


@pytest.mark.parametrize(
    ("car_box", "band_rows"),
    [
        ((200, 300, 500, 420), slice(0, 60)),  # the offender low: the caption at the top
        ((20, 10, 300, 150), slice(-60, None)),  # the offender high: the caption at the bottom
    ],
)
def test_caption_banner_keeps_clear_of_the_offender(
    car_box: tuple[float, float, float, float], band_rows: slice
) -> None:
    grey = np.full((480, 640, 3), 128, np.uint8)
    out = annotate(grey, Overlay((replace(CAR, box=car_box),), (), CAPTION))
    band = out[band_rows, :200]
    assert np.mean(band.max(axis=2) < 64) > 0.5  # a dark band
    assert (band.min(axis=2) > 200).sum() > 100  # white text on it
    lower = inside(out, car_box, 6)[-60:]  # below a label drawn inside a box at the top
    assert np.array_equal(lower, inside(grey, car_box, 6)[-60:])


def test_lines_grow_with_the_image() -> None:
    """The offender's outline is thicker on 1920x1080 than on 320x240."""

    def outline(size: tuple[int, int]) -> int:
        sx, sy = size[0] / FRAME.shape[1], size[1] / FRAME.shape[0]
        x1, y1, x2, y2 = CAR.box
        car = replace(CAR, box=(x1 * sx, y1 * sy, x2 * sx, y2 * sy))
        out = annotate(np.asarray(cv2.resize(FRAME, size), np.uint8), Overlay((car,), (), CAPTION))
        column = out[:, round((x1 + x2) / 2 * sx)]
        return int(np.all(column == OFFENDER, axis=1).sum())

    small, large = outline((320, 240)), outline((1920, 1080))
    assert 2 <= small < large


# --- the overlay of a camera's frame ------------------------------------------------------

CAMERA = Camera.model_validate(
    {
        "id": "cam-1",
        "name": "Main St",
        "source": "http://cam/1.jpg",
        "location": {"lat": 37.8, "lon": -122.3},
        "timezone": "America/Los_Angeles",
        "zones": [{"name": "busway", "type": "bus_lane", "polygon": [[0, 0.5], [1, 0.5], [1, 1]]}],
    }
)
AT = "2026-11-30T16:15:02Z"


def dets(*rows: tuple[str, float, tuple[float, float, float, float]]) -> Detections:
    """A small factory: (class, score, box) per detection."""
    return Detections(
        np.array([r[2] for r in rows], np.float32).reshape(-1, 4),
        np.array([r[1] for r in rows], np.float32),
        np.zeros(len(rows), np.int64),
        np.array([r[0] for r in rows], dtype=object),
    )


def violation(**change: object) -> ViolationRecord:
    base = ViolationRecord(
        violation_id="v1",
        camera_id="cam-1",
        event_time=AT,
        type="bus_lane",
        zone="busway",
        class_name="car",
        confidence=0.84,
        box=(100, 100, 200, 200),
        observation_id="o1",
        evidence_uri="gs://b/evidence/cam-1/v1.jpg",
        track_id="t3",
        dwell_s=42.0,
    )
    return replace(base, **change)  # type: ignore[arg-type]


FOUR = dets(
    ("car", 0.84, (100, 100, 200, 200)),  # t3: the tracked offender
    ("bus", 0.70, (400, 100, 500, 200)),  # t4: a bystander
    ("car", 0.60, (302, 302, 398, 398)),  # untracked: IoU 0.92 with the untracked violation
    ("person", 0.90, (600, 600, 640, 700)),  # untracked: matches nothing
)
TRACKS = ["t3", "t4", None, None]


def test_overlay_matches_offenders_by_track_and_by_box() -> None:
    untracked = violation(violation_id="v2", track_id=None, box=(300, 300, 400, 400))
    overlay = overlay_for(CAMERA, FOUR, TRACKS, [violation(box=(0, 0, 1, 1)), untracked], AT)
    assert [m.role for m in overlay.marks] == ["offender", "bystander", "offender", "bystander"]
    first = overlay.marks[0]
    assert replace(first, score=round(first.score, 2)) == Mark(
        (100, 100, 200, 200), "car", 0.84, "t3", "offender"
    )
    assert iou((302, 302, 398, 398), (300, 300, 400, 400)) >= 0.9
    assert overlay.zones == (
        ZoneOutline("busway", "bus_lane", ((0.0, 0.5), (1.0, 0.5), (1.0, 1.0))),
    )


@pytest.mark.parametrize(
    ("offender", "role"),
    [
        (violation(track_id="t9"), "bystander"),  # another track, though the same box
        (violation(track_id=None, box=(100, 100, 200, 230)), "bystander"),  # IoU 0.77
        (violation(track_id=None, type="congestion"), "bystander"),  # a zone's violation
        (violation(track_id=None), "offender"),  # untracked: the same box
    ],
)
def test_overlay_match_rules(offender: ViolationRecord, role: str) -> None:
    overlay = overlay_for(CAMERA, FOUR, TRACKS, [offender], AT)
    assert overlay.marks[0].role == role


def test_overlay_caption_has_the_rule_dwell_and_local_time() -> None:
    overlay = overlay_for(
        CAMERA, FOUR, TRACKS, [violation(), violation(track_id=None, dwell_s=None)], AT
    )
    assert overlay.caption == (
        "bus_lane: car 0.84, track t3, dwell 42 s, zone busway",
        "bus_lane: car 0.84, zone busway",
        "2026-11-30 08:15:02 PST (America/Los_Angeles)",
        "camera cam-1",
    )


@pytest.mark.parametrize(
    ("timezone", "at", "local"),
    [
        ("America/Los_Angeles", "2026-07-01T16:15:02Z", "2026-07-01 09:15:02 PDT"),  # summer
        ("Asia/Kolkata", "2026-11-30T16:15:02+00:00", "2026-11-30 21:45:02 IST"),
        (None, "2026-11-30T08:15:02-08:00", "2026-11-30 16:15:02 UTC"),  # no zone: UTC
    ],
)
def test_latest_frame_overlay_marks_every_one_a_bystander(
    timezone: str | None, at: str, local: str
) -> None:
    camera = CAMERA.model_copy(update={"timezone": timezone})
    overlay = overlay_for(camera, FOUR, TRACKS, (), at)
    assert {m.role for m in overlay.marks} == {"bystander"}
    assert overlay.caption == (f"{local} ({timezone or 'UTC'})", "camera cam-1")


def test_overlay_needs_a_track_id_per_detection() -> None:
    with pytest.raises(ValueError, match="3 track ids for 4 detections"):
        overlay_for(CAMERA, FOUR, TRACKS[:3], (), AT)
    assert overlay_for(CAMERA, Detections.empty(), [], (), AT).marks == ()


def test_mark_label() -> None:
    assert mark_label(CAR) == "car 0.91 #t3"
    assert mark_label(replace(CAR, track_id=None, score=0.5)) == "car 0.50"
