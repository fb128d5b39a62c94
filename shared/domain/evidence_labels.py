"""Where the labels of an evidence image go: next to what they name, clear of each other.

A label sits above its anchor (a box's top-left corner, a zone's top vertex) where there is
room, else below it, kept inside the image. Two labels near the right edge clamp to the same
``x``, and an offender's label can land on a zone's name: a label that meets one already placed
moves, as little as it takes, to a place clear of all of them: further from its anchor where
it can (up from above it), else back past it.
"""

from __future__ import annotations

from collections.abc import Sequence

Rect = tuple[int, int, int, int]  # x1, y1, x2, y2 in pixels, the ends excluded


def place_label(
    size: tuple[int, int], at: tuple[int, int], bounds: tuple[int, int], taken: Sequence[Rect]
) -> Rect:
    """The rectangle of a label of ``size`` (width, height) for the anchor ``at``.

    Args:
        size: the label's width and height in pixels.
        at: the anchor ``(x, y)``: the label's left edge, and its bottom (or, without room
            above, its top).
        bounds: the image's width and height.
        taken: the labels placed before; the label keeps clear of them where it can.

    Returns:
        The first place (above, or below, the anchor) when it meets no label of ``taken``;
        else the nearest clear place straight above or below a label it would meet, away
        from the anchor first (so a label does not move over what it names), then towards
        it; else, with no clear place in the image, the first place.
    """
    width, height = size
    x = min(max(at[0], 0), max(bounds[0] - width, 0))
    top = at[1] - height
    first = top if top >= 0 else min(at[1], max(bounds[1] - height, 0))
    spots = {first}
    for other in taken:
        if other[0] < x + width and x < other[2]:  # in the same columns: above it, below it
            spots.update((other[1] - height, other[3]))
    lowest = max(bounds[1] - height, 0)
    above = first < at[1]  # away from what it names first: up from above it, down from below

    def order(y: int) -> tuple[bool, int, int]:
        return (y > first) if above else (y < first), abs(y - first), y

    for y in sorted((y for y in spots if 0 <= y <= lowest), key=order):
        rect = (x, y, x + width, y + height)
        if not any(meets(rect, other) for other in taken):
            return rect
    return x, first, x + width, first + height


def meets(a: Rect, b: Rect) -> bool:
    """Whether two rectangles share a pixel."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
