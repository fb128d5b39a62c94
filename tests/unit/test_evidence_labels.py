"""The labels of an evidence image keep clear of each other: two boxes near the right edge, an
offender's label on a zone's name, and the place of one label among others."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

from shared.domain.evidence_image import (
    BYSTANDER,
    ZONE_COLORS,
    Mark,
    Overlay,
    ZoneOutline,
    annotate,
)
from shared.domain.evidence_labels import Rect, meets, place_label
from shared.domain.registry import ZoneType

BLACK = np.zeros((480, 640, 3), np.uint8)
SIZE = (60, 20)
BOUNDS = (640, 480)


@pytest.mark.parametrize(
    ("at", "taken", "placed"),
    [
        # nothing in the way: above the anchor
        ((100, 200), [], (100, 180, 160, 200)),
        # no room above: below the anchor
        ((100, 10), [], (100, 10, 160, 30)),
        # near the right edge: clamped inside, then above the label already there
        ((620, 200), [(580, 180, 640, 200)], (580, 160, 640, 180)),
        # a label in the way, and no room above it: below it
        ((100, 30), [(90, 10, 200, 30)], (100, 30, 160, 50)),
        # two labels stacked above the anchor: further up, not down over the box it names
        ((100, 200), [(100, 180, 160, 200), (100, 160, 160, 180)], (100, 140, 160, 160)),
        # no room further up: down, past the anchor
        ((100, 40), [(100, 20, 160, 40), (100, 0, 160, 20)], (100, 40, 160, 60)),
        # below its anchor (no room above it): further down first
        ((100, 5), [(100, 5, 160, 25)], (100, 25, 160, 45)),
        # a label in other columns is no obstacle
        ((100, 200), [(160, 180, 220, 200)], (100, 180, 160, 200)),
    ],
)
def test_a_label_goes_to_the_nearest_clear_place(
    at: tuple[int, int], taken: list[Rect], placed: Rect
) -> None:
    got = place_label(SIZE, at, BOUNDS, taken)
    assert got == placed
    assert not any(meets(got, other) for other in taken)


def test_with_no_clear_place_a_label_keeps_its_first_place() -> None:
    full = [(0, y, 640, y + 20) for y in range(0, 480, 20)]
    assert place_label(SIZE, (100, 200), BOUNDS, full) == (100, 180, 160, 200)


def test_many_labels_at_one_anchor_stack_without_overlapping() -> None:
    taken: list[Rect] = []
    for _ in range(8):
        taken.append(place_label(SIZE, (630, 240), BOUNDS, taken))
    assert all(not meets(a, b) for a, b in combinations(taken, 2))
    assert all(r[1] >= 0 and r[3] <= 480 and r[2] <= 640 for r in taken)


def rows_with(image: np.ndarray, color: tuple[int, int, int], rows: slice) -> int:
    """How many rows of ``rows`` hold a pixel of exactly ``color``."""
    return int(np.any(np.all(image[rows] == color, axis=2), axis=1).sum())


def test_two_labels_near_the_right_edge_are_both_shown() -> None:
    """Their boxes share a top; clamped to the same x, the second label would hide the first."""
    left = Mark((570, 240, 610, 300), "person", 0.79, "t1", "bystander")
    right = Mark((600, 240, 639, 300), "person", 0.42, "t2", "bystander")
    one = annotate(BLACK, Overlay((left,), (), ()))
    two = annotate(BLACK, Overlay((left, right), (), ()))
    tall = rows_with(one, BYSTANDER, slice(0, 238))  # one label's rows, above the boxes
    assert tall >= 10
    assert rows_with(two, BYSTANDER, slice(0, 238)) >= 2 * tall


def test_an_offenders_label_leaves_the_zones_name_readable() -> None:
    """The zone's top edge and the offender's box start at the same corner: both labels would
    sit on it, the offender's (longer, drawn later) over the zone's."""
    zone = ZoneOutline("bl", "bus_lane", ((0.2, 0.5), (0.6, 0.5), (0.6, 0.8), (0.2, 0.8)))
    car = Mark((128, 240, 300, 330), "car", 0.84, "8cdef4609ed0", "offender")
    orange = ZONE_COLORS[ZoneType.BUS_LANE]
    alone = annotate(BLACK, Overlay((), (zone,), ()))
    both = annotate(BLACK, Overlay((car,), (zone,), ()))
    above = (slice(0, 237), slice(0, 640))  # above the outlines
    shown = np.all(alone[above] == orange, axis=2).sum()
    assert shown > 100  # the zone's name on its orange box
    assert np.all(both[above] == orange, axis=2).sum() == shown  # none of it covered
