"""Zones and the generic violation rule, table-driven.

The rule on the demo bus camera with the real SSD is in ``tests/model/test_ssd.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from shared.domain.detections import Detections
from shared.domain.registry import Zone, ZoneType
from shared.domain.schedules import Day, Window
from shared.domain.zones import Anchor, PolygonZone, confidence, find_violations

SIZE = (200, 100)  # width, height
# The lower-left quarter of the frame.
LANE = Zone(name="lane", type=ZoneType.BUS_LANE, polygon=[[0, 0.5], [0.5, 0.5], [0.5, 1], [0, 1]])


def dets(*rows: tuple[str, float, tuple[float, float, float, float]]) -> Detections:
    """A small factory: (class, score, box) per detection."""
    return Detections(
        np.array([r[2] for r in rows], np.float32).reshape(-1, 4),
        np.array([r[1] for r in rows], np.float32),
        np.zeros(len(rows), np.int64),
        np.array([r[0] for r in rows], dtype=object),
    )


@pytest.mark.parametrize(
    ("box", "inside"),
    [
        ((10, 60, 40, 90), True),  # wholly inside
        ((80, 20, 120, 70), True),  # bottom-centre (100, 70) on the zone's right edge
        ((120, 60, 160, 90), False),  # right of the zone
        ((10, 10, 40, 40), False),  # above the zone
        ((90, 10, 130, 60), False),  # bottom-centre (110, 60) just right of the edge
    ],
)
def test_contains_by_bottom_centre(box, inside) -> None:
    zone = PolygonZone(LANE, SIZE)
    assert zone.contains(dets(("car", 0.9, box))).tolist() == [inside]


def test_centre_anchor_and_overlap() -> None:
    zone = PolygonZone(LANE, SIZE)
    low = dets(("car", 0.9, (0, 10, 40, 60)))  # only the bottom 10 of 50 rows are inside
    assert zone.contains(low, Anchor.BOTTOM_CENTER).tolist() == [True]
    assert zone.contains(low, Anchor.CENTER).tolist() == [False]  # centre y = 35
    assert zone.overlap(low)[0] == pytest.approx(0.2, abs=0.03)
    assert zone.overlap(dets(("car", 0.9, (10, 60, 40, 90))))[0] == pytest.approx(1.0)
    assert zone.overlap(Detections.empty()).shape == (0,)


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        # a car in the bus lane: a violation, confidence from score and full overlap
        ([("car", 0.8, (10, 60, 40, 90))], [("bus_lane", "car", 0.8)]),
        # a bus in the bus lane is allowed
        ([("bus", 0.9, (10, 60, 40, 90))], []),
        # a car outside the lane
        ([("car", 0.9, (120, 60, 160, 90))], []),
        # half the box in the lane: confidence 0.8 x (0.5 + 0.5 x 0.5)
        ([("car", 0.8, (0, 25, 40, 75))], [("bus_lane", "car", 0.6)]),
    ],
)
def test_bus_lane_rule(rows, expected) -> None:
    found = find_violations(dets(*rows), [LANE], SIZE)
    got = [(v.type, v.class_name, v.confidence) for v in found]
    assert [(t, c) for t, c, _ in got] == [(t, c) for t, c, _ in expected]
    for (_, _, conf), (_, _, want) in zip(got, expected, strict=True):
        assert conf == pytest.approx(want, abs=0.03)


def test_unrestricted_zone_types_never_violate() -> None:
    crosswalk = Zone(name="x", type=ZoneType.ROADWAY, polygon=LANE.polygon)
    assert find_violations(dets(("car", 0.9, (10, 60, 40, 90))), [crosswalk], SIZE) == []


@pytest.mark.parametrize(
    ("score", "overlap", "dwell", "expected"),
    [
        (0.8, 1.0, 1.0, 0.8),  # wholly inside: the score itself
        (0.8, 0.5, 1.0, 0.6),  # half inside: 0.8 x 0.75
        (0.8, 0.0, 1.0, 0.4),  # anchor in, box barely: half the score
        (0.8, 1.5, 1.0, 0.8),  # overlap clipped to 1
        (0.8, -0.2, 1.0, 0.4),  # and to 0
        (0.8, 1.0, 0.5, 0.4),  # the dwell slot scales it (dwell rules, a later slice)
        (0.8, 1.0, 2.0, 0.8),  # dwell clipped to 1
    ],
)
def test_confidence_formula(score, overlap, dwell, expected) -> None:
    got = confidence(np.array([score], np.float32), np.array([overlap], np.float32), dwell)
    assert got[0] == pytest.approx(expected, abs=1e-6)


PEAK_LANE = LANE.model_copy(
    update={"schedule": [Window(days=[Day.MON], start="07:00", end="10:00")]}
)


@pytest.mark.parametrize(
    ("at", "found"),
    [
        (datetime(2026, 3, 9, 11, 0, tzinfo=UTC), 1),  # Monday 07:00 in New York: active
        (datetime(2026, 3, 9, 14, 0, tzinfo=UTC), 0),  # Monday 10:00 there: ended
        (datetime(2026, 3, 14, 12, 0, tzinfo=UTC), 0),  # a Saturday
        (None, 1),  # no time given: every zone counts
    ],
)
def test_a_scheduled_lane_counts_only_while_active(at, found) -> None:
    car = dets(("car", 0.8, (10, 60, 40, 90)))
    assert len(find_violations(car, [PEAK_LANE], SIZE, at, "America/New_York")) == found
