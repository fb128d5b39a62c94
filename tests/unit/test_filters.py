"""Per-camera detection filters: per-class scores, box area bounds, ignore masks."""

from __future__ import annotations

from typing import Any

import pytest

from shared.domain.detections import Detections
from shared.domain.filters import camera_filter
from shared.domain.registry import CameraRules
from tests.unit.test_zones import dets

SIZE = (200, 100)  # width, height: 20,000 px
CAR = ("car", 0.55, (10, 60, 40, 90))  # 900 px = 0.045 of the frame, anchor (25, 90)
PERSON = ("person", 0.35, (150, 10, 160, 40))  # 300 px = 0.015, anchor (155, 40)
TRUCK = ("truck", 0.9, (0, 0, 200, 100))  # the whole frame, anchor (100, 100)


def kept(rules: dict[str, Any], *rows: Any) -> list[str]:
    found = camera_filter(CameraRules.model_validate(rules)).apply(dets(*rows), SIZE)
    return [str(c) for c in found.class_name]


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        # no filters: everything stays
        ({}, ["car", "person", "truck"]),
        # a per-class score drops only that class below it
        ({"min_scores": {"car": 0.6}}, ["person", "truck"]),
        ({"min_scores": {"car": 0.55}}, ["car", "person", "truck"]),  # at the bound: kept
        ({"min_scores": {"person": 0.4, "truck": 0.5}}, ["car", "truck"]),
        # box area as a share of the frame
        ({"min_area": 0.02}, ["car", "truck"]),  # the person (0.015) is too small
        ({"min_area": 0.045}, ["car", "truck"]),  # at the bound: kept
        ({"max_area": 0.5}, ["car", "person"]),  # the truck fills the frame
        ({"min_area": 0.02, "max_area": 0.5}, ["car"]),
        # a mask over the top right drops the person (anchor inside), keeps the car
        ({"masks": [[[0.5, 0], [1, 0], [1, 0.5], [0.5, 0.5]]]}, ["car", "truck"]),
        # a mask over the car's box but not its bottom-centre keeps it
        ({"masks": [[[0, 0.5], [0.3, 0.5], [0.3, 0.8], [0, 0.8]]]}, ["car", "person", "truck"]),
        # two masks: the car's anchor (25, 90) in the second
        (
            {
                "masks": [
                    [[0.5, 0], [1, 0], [1, 0.5], [0.5, 0.5]],
                    [[0, 0.8], [0.3, 0.8], [0.3, 1], [0, 1]],
                ]
            },
            ["truck"],
        ),
    ],
)
def test_filters(rules: dict[str, Any], expected: list[str]) -> None:
    assert kept(rules, CAR, PERSON, TRUCK) == expected


def test_no_detections_pass_through() -> None:
    rules = CameraRules.model_validate({"min_area": 0.1, "masks": [[[0, 0], [1, 0], [1, 1]]]})
    assert len(camera_filter(rules).apply(Detections.empty(), SIZE)) == 0
