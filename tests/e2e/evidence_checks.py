"""What a downloaded evidence image must show, checked against the frame it was drawn on (a
snapshot camera's image): the frame's size, the offender's outline in the offender colour,
every bystander blurred and the offending vehicle as the camera saw it
(``shared/domain/evidence_image.py``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from shared.adapters.warehouse import BigQueryWarehouse
from shared.devstack.camera_server import IMAGES
from shared.domain.evidence_image import OFFENDER, iou
from shared.domain.evidence_overlay import overlap

Image = npt.NDArray[Any]
Box = tuple[float, float, float, float]

# The frames of the alerting snapshot cameras of tests/e2e/test_sweep.py, as served.
SNAPSHOTS = {
    "cam-009-market-van-ness": "pexels_double_decker_bus.jpg",
    "cam-011-howard-11th": "car1.jpg",
}

RED_TOLERANCE = 100  # per channel, from OFFENDER: the JPEG smears a 2 px line's colour
SAME_BOX_IOU = 0.9  # the violation's box and its detection's
BLURRED = 5  # a bystander's Laplacian variance falls at least this many times (10 to 160 seen)
KEPT = 0.5  # the offending vehicle's stays above this share of the source's (1.1 to 1.2 seen)
KEPT_DIFF = 8.0  # and its mean grey level moves less than this (2 to 3.3 seen; blurred: 37+)


def as_box(box: Mapping[str, Any]) -> Box:
    """A ``{"x1", "y1", "x2", "y2"}`` record as a tuple."""
    return float(box["x1"]), float(box["y1"]), float(box["x2"]), float(box["y2"])


def outline_share(image: Image, box: Box, n: int = 25) -> float:
    """The share of points along the box's left, right and bottom edges (the top holds the
    label) with a pixel of the offender colour within a pixel of them."""
    x1, y1 = int(np.floor(box[0])), int(np.floor(box[1]))
    x2, y2 = int(np.ceil(box[2])) - 1, int(np.ceil(box[3])) - 1  # as the rectangle is drawn
    spots = np.linspace(0.1, 0.9, n)
    points = [
        *((x1, round(y1 + (y2 - y1) * t)) for t in spots),
        *((x2, round(y1 + (y2 - y1) * t)) for t in spots),
        *((round(x1 + (x2 - x1) * t), y2) for t in spots),
    ]
    found = []
    for x, y in points:
        patch = image[max(y - 1, 0) : y + 2, max(x - 1, 0) : x + 2].reshape(-1, 3).astype(int)
        found.append(bool(np.any(np.abs(patch - OFFENDER).max(axis=1) < RED_TOLERANCE)))
    return float(np.mean(found))


def sharpness(grey: Image) -> float:
    """The variance of the Laplacian: the fine detail (edges, text, faces) of a region."""
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def region(box: Box, margin: int) -> tuple[slice, slice]:
    x1, y1, x2, y2 = (int(v) for v in box)
    return slice(y1 + margin, y2 - margin), slice(x1 + margin, x2 - margin)


def check_evidence(
    evidence: Image, source: Image, offender: Box, detections: Sequence[Mapping[str, Any]]
) -> int:
    """Assert what the evidence of one violation shows, ``offender`` its box and
    ``detections`` its frame's (``class_name``, ``box``); the number of bystanders checked.

    Bystanders whose box is tiny or mostly the offender's (left sharp there) are skipped.
    """
    assert evidence.shape == source.shape
    assert outline_share(evidence, offender) >= 0.9
    assert outline_share(source, offender) <= 0.2  # not in the photo already
    grey = cv2.cvtColor(evidence, cv2.COLOR_BGR2GRAY)
    before = cv2.cvtColor(source, cv2.COLOR_BGR2GRAY)
    [kept] = [d for d in detections if iou(as_box(d["box"]), offender) >= SAME_BOX_IOU]
    if kept["class_name"] != "person":  # a person is blurred, an offender too
        inside = region(offender, 8)  # clear of the outline
        assert sharpness(grey[inside]) > KEPT * sharpness(before[inside])
        moved = np.abs(grey[inside].astype(int) - before[inside].astype(int)).mean()
        assert moved < KEPT_DIFF, moved
    checked = 0
    for detection in (d for d in detections if d is not kept):
        box = as_box(detection["box"])
        inside = region(box, 3)
        area = (box[2] - box[0]) * (box[3] - box[1])
        if area < 400 or overlap(box, offender) > area / 4:
            continue
        assert sharpness(grey[inside]) * BLURRED < sharpness(before[inside]), detection
        checked += 1
    return checked


def check_delivery(evidence: Image, data: Mapping[str, Any], warehouse: BigQueryWarehouse) -> int:
    """:func:`check_evidence` of a webhook's evidence (``data``: the body's), against its
    camera's snapshot and the detections of its observation."""
    source = cv2.imread(str(IMAGES / SNAPSHOTS[data["camera_id"]]), cv2.IMREAD_COLOR)
    assert source is not None
    [seen] = warehouse.query(
        f"SELECT detections FROM `{warehouse.table_id('observations')}` "
        "WHERE observation_id = @observation",
        {"observation": data["observation_id"]},
    )
    return check_evidence(evidence, source, as_box(data["box"]), seen["detections"])
