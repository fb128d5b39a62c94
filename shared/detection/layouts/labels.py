"""Default class names, for graphs that carry none (no ``names`` metadata, no labels file)."""

from __future__ import annotations

from shared.settings import ASSETS

# COCO-80 in training order (NanoDet and Ultralytics), one ``<id> <name>`` per line like the
# SSD's own label file.
COCO80_LABELS = ASSETS / "models" / "coco80_labels.txt"
COCO80 = [
    line.split(maxsplit=1)[1] for line in COCO80_LABELS.read_text().splitlines() if line.strip()
]
