"""Recording the violations of a new frame: a row each, one evidence object, one alert each.

Each violation is a ``violations`` row (idempotent by its id). The Redis key
``violation:camera:{id}:type:{type}`` (24 h) lets only the first of an ongoing violation reach
the ``violations`` topic; a failure releases it so the retry alerts. The evidence upload and
the rows run side by side; the alerts go out once all are in.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import datetime

import cv2
import numpy as np
import numpy.typing as npt

from shared.adapters.blobstore import BlobStore
from shared.adapters.bus import EventBus
from shared.adapters.cache import Cache
from shared.adapters.warehouse import Warehouse
from shared.domain.frames import RawFrame
from shared.domain.observations import Observation
from shared.domain.registry import Camera
from shared.domain.violations import ViolationRecord
from shared.domain.zones import find_violations
from shared.service_layer.idempotency import ALERT_DEDUP_S, claim, row_id, violation_key, write_once


@dataclass
class ViolationRecorder:
    """Writes rows, stores evidence and publishes alerts for the violations of a frame."""

    cache: Cache
    warehouse: Warehouse
    evidence: BlobStore
    bus: EventBus
    bucket: str
    _pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(8, thread_name_prefix="record"), repr=False
    )

    def record(
        self,
        camera: Camera,
        observation: Observation,
        raw: RawFrame,
        image: npt.NDArray[np.uint8],
    ) -> tuple[ViolationRecord, ...]:
        """Every violation of a new frame, recorded; the first of each ongoing one alerted."""
        frame = observation.frame
        size = (frame.width, frame.height)
        at = datetime.fromisoformat(observation.event_time)
        found = find_violations(observation.detections, camera.zones, size, at, camera.timezone)
        if not found:
            return ()
        name, data, content_type = evidence_object(camera.id, frame.hash, raw, image)
        records = [
            ViolationRecord(
                violation_id=row_id(
                    camera.id, frame.hash, v.type, v.zone, v.class_name, repr(v.box)
                ),
                camera_id=camera.id,
                event_time=observation.event_time,
                type=v.type,
                zone=v.zone,
                class_name=v.class_name,
                confidence=v.confidence,
                box=v.box,
                observation_id=observation.observation_id,
                evidence_uri=f"gs://{self.bucket}/{name}",
                sweep_id=observation.sweep_id,
            )
            for v in found
        ]
        with ExitStack() as stack:
            claims = [
                stack.enter_context(
                    claim(
                        self.cache,
                        violation_key(r.camera_id, r.type),
                        hold_s=ALERT_DEDUP_S,
                        done_s=ALERT_DEDUP_S,
                    )
                )
                for r in records
            ]
            records = [replace(r, alerted=c.taken) for r, c in zip(records, claims, strict=True)]
            jobs: list[Future[object]] = [
                self._pool.submit(self.evidence.write, self.bucket, name, data, content_type)
            ]
            jobs += [self._pool.submit(write_once, self.cache, self.warehouse, r) for r in records]
            errors = [e for e in (job.exception() for job in jobs) if e is not None]
            if errors:
                raise errors[0]
            for record, held in zip(records, claims, strict=True):
                if held.taken:
                    self.bus.publish(
                        "violations", [record], camera_id=record.camera_id, type=record.type
                    )
                    held.confirm()  # published: a later failure keeps this claim
        return tuple(records)


def evidence_object(
    camera_id: str, digest: str, raw: RawFrame, image: npt.NDArray[np.uint8]
) -> tuple[str, bytes, str]:
    """Object name, bytes and type of a frame's evidence: the frame as the camera sent it
    (JPEG or PNG, unaltered); a decoded-only frame (video) is encoded as JPEG."""
    data, kind = raw.data or b"", image_kind(raw.data or b"")
    if kind is None:
        ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        data, kind = (jpeg.tobytes() if ok else b""), "jpeg"
    name = f"evidence/{camera_id}/{digest}.{'jpg' if kind == 'jpeg' else kind}"
    return name, data, f"image/{kind}"


def image_kind(data: bytes) -> str | None:
    """``jpeg`` or ``png`` by magic bytes, else None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    return None
