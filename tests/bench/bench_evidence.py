"""Evidence images: what drawing and blurring cost per frame, against encoding the frame alone.
Figures, not pass/fail; all from this one run and machine.

Run as ``python -m tests.bench.bench_evidence`` (``--repeat N``). For a 768x576 frame of
passers-by (the vendored ``vtest_f300.jpg``) and the same frame enlarged to 1920x1080, with
the detections the vendored SSD finds in it (boxes scaled with the frame), it times:

* **encode**: ``encode_jpeg`` of the frame as it is (the baseline: storing any image costs it);
* **blur**: ``privacy_blur`` (every person and bystander pixelated);
* **annotate + encode**: what ``EvidenceStore`` does per stored image (blur, draw, encode).
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

from shared.detection.factory import make_detector
from shared.devstack.camera_server import IMAGES
from shared.domain.evidence_image import Mark, Overlay, Role, annotate, encode_jpeg, privacy_blur
from shared.settings import Settings
from tests.bench.bench_process import timed

SIZES = ((768, 576), (1920, 1080))


def marks_of(image: npt.NDArray[np.uint8], min_score: float) -> tuple[Mark, ...]:
    """The SSD's detections of ``image`` at or above ``min_score``, the first vehicle an
    offender, the rest bystanders."""
    found = make_detector(Settings()).detect(image)
    marks, offender = [], True
    for box, name, score in zip(
        found.xyxy.tolist(), found.class_name, found.confidence.tolist(), strict=True
    ):
        if score < min_score:
            continue
        vehicle = str(name) in ("car", "bus", "truck", "motorcycle")
        role: Role = "offender" if vehicle and offender else "bystander"
        offender = offender and not vehicle
        marks.append(Mark((box[0], box[1], box[2], box[3]), str(name), score, None, role))
    return tuple(marks)


def scaled(marks: Sequence[Mark], fx: float, fy: float) -> tuple[Mark, ...]:
    """The marks of a frame resized by ``fx``, ``fy``."""
    return tuple(
        Mark(
            (m.box[0] * fx, m.box[1] * fy, m.box[2] * fx, m.box[3] * fy),
            m.class_name,
            m.score,
            m.track_id,
            m.role,
        )
        for m in marks
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Time the three steps at each size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=30, help="timed calls per figure")
    args = parser.parse_args(argv)
    source = np.asarray(cv2.imread(str(IMAGES / "vtest_f300.jpg")), np.uint8)
    base = marks_of(source, Settings().score_threshold)
    caption = ("no_standing: car 0.84, track t7, dwell 74 s", "2026-11-30 08:15 PST", "cam")
    print(
        f"evidence image: {len(base)} detections (SSD, score >= threshold), median of {args.repeat}"
    )
    print(
        f"  {'frame':<10} {'encode ms':>10} {'blur ms':>9} {'annotate+encode ms':>19} {'ratio':>6}"
    )
    for width, height in SIZES:
        image = np.asarray(
            cv2.resize(source, (width, height), interpolation=cv2.INTER_LINEAR), np.uint8
        )
        marks = scaled(base, width / source.shape[1], height / source.shape[0])
        overlay = Overlay(marks, (), caption)
        encode = statistics.median(timed(lambda: encode_jpeg(image), args.repeat))  # noqa: B023
        blur = statistics.median(timed(lambda: privacy_blur(image, marks), args.repeat))  # noqa: B023
        full = statistics.median(
            timed(lambda: encode_jpeg(annotate(image, overlay)), args.repeat)  # noqa: B023
        )
        print(
            f"  {width}x{height:<5} {encode:10.1f} {blur:9.1f} {full:19.1f} {full / encode:5.1f}x",
            flush=True,
        )


if __name__ == "__main__":
    main()
