"""Zones in pixels: anchors, overlap, coverage and the confidence formula, table-driven.

The rules are in ``tests/unit/test_rules.py``; the bus-lane rule on the demo bus camera with
the real SSD in ``tests/model/test_ssd.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from shared.domain.detections import Detections
from shared.domain.registry import Zone, ZoneType
from shared.domain.zones import Anchor, PolygonZone, confidence

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
    ("score", "overlap", "expected"),
    [
        (0.8, 1.0, 0.8),  # wholly inside: the score itself
        (0.8, 0.5, 0.6),  # half inside: 0.8 x 0.75
        (0.8, 0.0, 0.4),  # anchor in, box barely: half the score
        (0.8, 1.5, 0.8),  # overlap clipped to 1
        (0.8, -0.2, 0.4),  # and to 0
    ],
)
def test_confidence_formula(score, overlap, expected) -> None:
    got = confidence(np.array([score], np.float32), np.array([overlap], np.float32))
    assert got[0] == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    ("boxes", "share"),
    [
        ([], 0.0),  # nothing covers it
        ([(0, 50, 100, 100)], 1.0),  # the whole lower-left quarter
        ([(0, 50, 50, 100)], 0.5),  # half of it
        ([(0, 50, 50, 100), (25, 50, 75, 100)], 0.75),  # overlapping boxes count once
        ([(-50, 0, 20, 200)], 0.2),  # a box beyond the frame is clipped
        ([(150, 0, 200, 40)], 0.0),  # elsewhere in the frame
    ],
)
def test_covered_share_of_a_zone(boxes, share) -> None:
    got = PolygonZone(LANE, SIZE).covered_share(np.array(boxes, np.float32).reshape(-1, 4))
    assert got == pytest.approx(share, abs=0.03)
