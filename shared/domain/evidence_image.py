"""The evidence image: a frame blurred for privacy, then annotated, at its full resolution.

:func:`overlay_for` (:mod:`shared.domain.evidence_overlay`) says what to draw (the marks of
the detections, each an offender or a bystander; the camera's zones; the caption),
:func:`privacy_blur` hides people and bystanders,
:func:`annotate` blurs then draws, and :func:`encode_jpeg` makes the stored bytes.

Images are OpenCV's ``(H, W, 3)`` ``uint8`` BGR arrays, and colours are BGR. Nothing here
changes its input. The privacy rules are those of ``docs/design/evidence.md``:

* every person is blurred, an offender too (the image shows where they were, not who);
* every road user that is not an offender is blurred, inside an offending vehicle's box
  excepted (the evidence keeps the offending vehicle whole);
* a congestion violation belongs to a zone: it makes no road user an offender.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

from shared.domain.evidence_labels import Rect, place_label
from shared.domain.evidence_overlay import (
    Box,
    Mark,
    Overlay,
    Role,
    ZoneOutline,
    iou,
    overlap,
    overlay_for,
)
from shared.domain.registry import ZoneType

__all__ = [
    "Box",
    "Mark",
    "Overlay",
    "Role",
    "ZoneOutline",
    "annotate",
    "encode_jpeg",
    "iou",
    "mark_label",
    "overlay_for",
    "privacy_blur",
]

Image = npt.NDArray[np.uint8]
Color = tuple[int, int, int]
OFFENDER: Color = (0, 0, 255)  # red
BYSTANDER: Color = (170, 170, 170)  # grey
ZONE_COLORS: dict[str, Color] = {  # one per zone type, none red or grey
    ZoneType.BUS_LANE: (0, 140, 255),  # orange
    ZoneType.BIKE_LANE: (0, 200, 0),  # green
    ZoneType.CROSSWALK: (0, 255, 255),  # yellow
    ZoneType.DOUBLE_PARKING: (255, 0, 255),  # magenta
    ZoneType.INTERSECTION: (255, 255, 0),  # cyan
    ZoneType.NO_STANDING: (255, 90, 0),  # blue
    ZoneType.ROADWAY: (180, 0, 120),  # purple
}
OTHER_ZONE: Color = (255, 255, 255)  # a type this module does not know: white
FILL_ALPHA = 0.15  # the zones' translucent fill
BANNER_ALPHA = 0.65  # the caption banner's dark background
BLOCKS = 8  # a blurred box is pixelated to about this many blocks across its longer side
MIN_BLOCK_PX = 8
FONT = cv2.FONT_HERSHEY_SIMPLEX


def privacy_blur(image: Image, marks: Sequence[Mark]) -> Image:
    """A copy with every person's and every bystander's box blurred beyond recognition.

    Each box is pixelated to about 8 blocks across its longer side (blocks of 8 px at least),
    then smoothed over about a block, so no face or plate can be read. An offending road user
    that is not a person is left untouched, even where a bystander's box overlaps it. Boxes are
    clipped to the image; empty ones are skipped.
    """
    _check(image)
    out = image.copy()
    height, width = image.shape[:2]
    kept = [_pixels(m.box, width, height) for m in marks if _shown(m)]  # offending vehicles
    for mark in marks:
        x1, y1, x2, y2 = _pixels(mark.box, width, height)
        if _shown(mark) or x2 <= x1 or y2 <= y1:
            continue
        hidden = np.ones((y2 - y1, x2 - x1, 1), bool)
        if mark.class_name != "person":  # a bystander road user: not over an offending vehicle
            for kx1, ky1, kx2, ky2 in kept:
                hidden[max(ky1 - y1, 0) : max(ky2 - y1, 0), max(kx1 - x1, 0) : max(kx2 - x1, 0)] = 0
        region = out[y1:y2, x1:x2]
        np.copyto(region, _obscure(region), where=hidden)
    return out


def annotate(image: Image, overlay: Overlay) -> Image:
    """The evidence image: :func:`privacy_blur`, then the zones (outline, light fill and
    name, a colour per zone type), the marks (offenders thick red, bystanders thin grey, each
    labelled ``class score #track``) and the caption banner, drawn at the image's resolution
    with line widths and text that grow with it; no label hides another
    (:mod:`shared.domain.evidence_labels`). The input is not changed."""
    out = privacy_blur(image, overlay.marks)
    height, width = out.shape[:2]
    unit = min(height, width)
    line = max(1, round(unit / 360))
    font = max(0.35, unit / 1000)
    taken: list[Rect] = []  # the labels drawn so far: none hides another
    out = _zones(out, overlay, line, font, taken)
    ordered = sorted(overlay.marks, key=_offends)  # offenders drawn last, on top
    boxes = [_pixels(m.box, width, height) for m in ordered]
    for mark, (x1, y1, x2, y2) in zip(ordered, boxes, strict=True):
        if x2 > x1 and y2 > y1:
            offender = mark.role == "offender"
            color, thick = (OFFENDER, 2 * line) if offender else (BYSTANDER, line)
            cv2.rectangle(out, (x1, y1), (x2 - 1, y2 - 1), color, thick, cv2.LINE_8)
    for mark, (x1, y1, x2, y2) in zip(ordered, boxes, strict=True):
        if x2 > x1 and y2 > y1:
            color = OFFENDER if mark.role == "offender" else BYSTANDER
            _label(out, mark_label(mark), (x1, y1), color, font * 0.8, taken)
    reach = 30 * font  # an offender's label above its box
    avoid = [(b[0], b[1] - reach, b[2], b[3]) for b in (m.box for m in ordered if _offends(m))]
    _banner(out, overlay.caption, font, avoid)
    return out


def encode_jpeg(image: Image, quality: int = 90) -> bytes:
    """The image as JPEG bytes.

    Raises:
        ValueError: ``quality`` outside 1..100, or OpenCV cannot encode the image.
    """
    if not 1 <= quality <= 100:
        raise ValueError(f"JPEG quality must be 1..100, got {quality}")
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("OpenCV could not encode the image as JPEG")
    return data.tobytes()


def mark_label(mark: Mark) -> str:
    """``car 0.84 #t3`` (no ``#`` part when untracked)."""
    track = f" #{mark.track_id}" if mark.track_id else ""
    return f"{mark.class_name} {mark.score:.2f}{track}"


def _zones(image: Image, overlay: Overlay, line: int, font: float, taken: list[Rect]) -> Image:
    """The zones' light fill (not over an offending vehicle), outlines and names (their
    labels added to ``taken``)."""
    height, width = image.shape[:2]
    polygons = [  # as the rules place them (PolygonZone), kept inside the image
        np.clip(np.round(np.array(z.polygon) * [width, height]), 0, [width - 1, height - 1]).astype(
            np.int32
        )
        for z in overlay.zones
    ]
    filled = image.copy()
    for zone, points in zip(overlay.zones, polygons, strict=True):
        cv2.fillPoly(filled, [points], _zone_color(zone.type))
    out: Image = np.asarray(cv2.addWeighted(filled, FILL_ALPHA, image, 1 - FILL_ALPHA, 0), np.uint8)
    for mark in overlay.marks:
        if _shown(mark):
            x1, y1, x2, y2 = _pixels(mark.box, width, height)
            out[y1:y2, x1:x2] = image[y1:y2, x1:x2]
    for zone, points in zip(overlay.zones, polygons, strict=True):
        cv2.polylines(out, [points], True, _zone_color(zone.type), line, cv2.LINE_8)
    for zone, points in zip(overlay.zones, polygons, strict=True):
        top = points[np.argmin(points[:, 1])]
        at = (int(top[0]), int(top[1]))
        _label(out, zone.name, at, _zone_color(zone.type), font * 0.9, taken)
    return out


def _offends(mark: Mark) -> bool:
    return mark.role == "offender"


def _shown(mark: Mark) -> bool:
    """An offending road user that is not a person: never blurred nor tinted."""
    return mark.role == "offender" and mark.class_name != "person"


def _check(image: Image) -> None:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or not image.size:
        raise ValueError(
            f"expected a non-empty (H, W, 3) uint8 BGR image, got {image.dtype} {image.shape}"
        )


def _pixels(box: Sequence[float], width: int, height: int) -> tuple[int, int, int, int]:
    """The pixel rows and columns a box covers (end excluded), clipped to the image; none
    for a box with a NaN or an infinity."""
    if not all(math.isfinite(v) for v in box):
        return 0, 0, 0, 0
    x1, y1 = (min(max(math.floor(v), 0), n) for v, n in ((box[0], width), (box[1], height)))
    x2, y2 = (min(max(math.ceil(v), 0), n) for v, n in ((box[2], width), (box[3], height)))
    return x1, y1, max(x2, x1), max(y2, y1)


def _obscure(region: Image) -> Image:
    """A region pixelated to blocks scaled to it, smoothed (a Gaussian of half a block on the
    blocks), then enlarged back bilinearly."""
    height, width = region.shape[:2]
    block = max(MIN_BLOCK_PX, math.ceil(max(height, width) / BLOCKS))
    small = cv2.resize(
        region,
        (max(1, math.ceil(width / block)), max(1, math.ceil(height / block))),
        interpolation=cv2.INTER_AREA,
    )
    smooth = cv2.GaussianBlur(small, (0, 0), sigmaX=0.5, borderType=cv2.BORDER_REPLICATE)
    return np.asarray(cv2.resize(smooth, (width, height), interpolation=cv2.INTER_LINEAR), np.uint8)


def _zone_color(zone_type: str) -> Color:
    return ZONE_COLORS.get(zone_type, OTHER_ZONE)


def _label(
    image: Image,
    text: str,
    at: tuple[int, int],
    color: Color,
    scale: float,
    taken: list[Rect],
) -> None:
    """Text on a filled box of ``color``, above ``at`` where there is room, else below it,
    moved off the labels of ``taken`` (:func:`place_label`); its box is added to them."""
    thick = max(1, round(scale * 1.5))
    (w, h), base = cv2.getTextSize(text, FONT, scale, thick)
    pad = max(2, h // 4)
    size = (w + 2 * pad + 1, h + base + 2 * pad + 1)
    x, y, x2, y2 = place_label(size, at, (image.shape[1], image.shape[0]), taken)
    taken.append((x, y, x2, y2))
    cv2.rectangle(image, (x, y), (x2 - 1, y2 - 1), color, cv2.FILLED)
    ink = (255, 255, 255) if sum(color) < 400 else (0, 0, 0)
    cv2.putText(image, text, (x + pad, y + pad + h), FONT, scale, ink, thick, cv2.LINE_AA)


def _banner(image: Image, lines: Sequence[str], font: float, avoid: Sequence[Box]) -> None:
    """The caption on a dark translucent band at the top left, or at the bottom left where
    that hides less of the offenders' boxes; each line shrunk to fit the width."""
    if not lines:
        return
    height, width = image.shape[:2]
    thick = max(1, round(font * 1.5))
    widest = max(cv2.getTextSize(t, FONT, font, thick)[0][0] for t in lines)
    scale = max(0.3, min(font, font * (width - 16) / max(widest, 1)))
    (_, h), base = cv2.getTextSize("Ag", FONT, scale, thick)
    step = h + base + max(3, h // 3)
    right = min(width, max(cv2.getTextSize(t, FONT, scale, thick)[0][0] for t in lines) + 16)
    tall = min(height, step * len(lines) + 8)
    top = 0
    if sum(overlap(b, (0, height - tall, right, height)) for b in avoid) < sum(
        overlap(b, (0, 0, right, tall)) for b in avoid
    ):
        top = height - tall
    band = image[top : top + tall, :right]
    band[:] = cv2.addWeighted(band, 1 - BANNER_ALPHA, np.zeros_like(band), BANNER_ALPHA, 0)
    for i, text in enumerate(lines):
        org = (8, top + 4 + h + i * step)
        cv2.putText(image, text, org, FONT, scale, (255, 255, 255), thick, cv2.LINE_AA)
