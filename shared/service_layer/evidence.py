"""Evidence images: what camwatch stores of a frame, and the signed URL an alert carries.

* Each new violation's frame, annotated and with bystanders blurred
  (:mod:`shared.domain.evidence_image`), at ``evidence/{camera}/{yyyy}/{mm}/{dd}/{id}.jpg``:
  written once per violation (a claim, ``vision:write:evidence:{id}``), however often its frame
  is redelivered.
* With ``store_original_frames``, the frame as the camera sent it beside it, under
  ``originals/`` (the same claim).
* Every new frame of a camera, annotated and blurred, at ``latest/{camera}.jpg`` (overwritten;
  best effort: a failure is logged, never retried).
* The signed URL of an evidence image (:class:`~shared.adapters.url_signer.UrlSigner`).

The bucket's lifecycle rules (``terraform/main.tf``) delete each kind after its retention
(docs/design/evidence.md).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from shared.adapters.blobstore import BlobStore
from shared.adapters.cache import Cache
from shared.adapters.url_signer import UrlSigner, parse_gs_uri
from shared.domain.detections import Detections
from shared.domain.evidence_image import annotate, encode_jpeg, overlay_for
from shared.domain.frames import RawFrame
from shared.domain.registry import Camera
from shared.domain.violations import ViolationRecord
from shared.errors import DependencyUnavailableError
from shared.service_layer.idempotency import WRITE_CLAIM_S, WRITTEN_S, claim, write_key

log = logging.getLogger(__name__)

JPEG = "image/jpeg"


@dataclass(frozen=True)
class Shot:
    """A new frame as the evidence draws it: the decoded image at full resolution, what was
    found in it, and the bytes the camera sent."""

    image: npt.NDArray[np.uint8]
    detections: Detections
    track_ids: Sequence[str | None]
    event_time: str  # ISO 8601, UTC
    raw: RawFrame


def dated(kind: str, camera_id: str, event_time: str) -> str:
    """``{kind}/{camera}/{yyyy}/{mm}/{dd}/`` of the frame's UTC date."""
    day = datetime.fromisoformat(event_time)
    return f"{kind}/{camera_id}/{day:%Y/%m/%d}/"


@dataclass
class EvidenceStore:
    """Writes evidence, originals and latest frames into ``bucket``, and signs their URLs."""

    blobs: BlobStore
    cache: Cache
    signer: UrlSigner
    bucket: str
    url_expiry_s: int
    store_originals: bool = False

    def evidence_dir(self, camera_id: str, event_time: str) -> str:
        """``gs://{bucket}/evidence/{camera}/{yyyy}/{mm}/{dd}/``: the frame's violations' dir."""
        return f"gs://{self.bucket}/{dated('evidence', camera_id, event_time)}"

    def write_violation(
        self, camera: Camera, violation: ViolationRecord, shot: Shot, owner: str = ""
    ) -> bool:
        """Store a new violation's evidence (and original, when asked) once; True if this call
        wrote it. ``owner``: the sweep job's message id (its redelivery writes it again).

        Raises:
            DependencyUnavailableError: Redis or storage is down (the claim is given back, so
                the retry writes it).
        """
        key = write_key("evidence", violation.violation_id)
        with claim(self.cache, key, hold_s=WRITE_CLAIM_S, done_s=WRITTEN_S, owner=owner) as held:
            if not held.taken:
                return False
            overlay = overlay_for(
                camera, shot.detections, shot.track_ids, (violation,), shot.event_time
            )
            bucket, name = parse_gs_uri(violation.evidence_uri)
            self.blobs.write(bucket, name, encode_jpeg(annotate(shot.image, overlay)), JPEG)
            if self.store_originals:  # as the camera sent it; a video frame as a JPEG
                data = shot.raw.data or encode_jpeg(shot.image)
                png = data.startswith(b"\x89PNG\r\n\x1a\n")
                original = name.replace("evidence/", "originals/", 1)
                if png:
                    original = original.removesuffix(".jpg") + ".png"
                self.blobs.write(bucket, original, data, "image/png" if png else JPEG)
        return True

    def write_latest(self, camera: Camera, shot: Shot) -> str | None:
        """Overwrite ``latest/{camera}.jpg`` with this frame, every road user blurred; its URI,
        or None when storage failed (logged: the next frame writes it again)."""
        overlay = overlay_for(camera, shot.detections, shot.track_ids, (), shot.event_time)
        try:
            return self.blobs.write(
                self.bucket,
                f"latest/{camera.id}.jpg",
                encode_jpeg(annotate(shot.image, overlay)),
                JPEG,
            )
        except DependencyUnavailableError as exc:
            log.warning(
                "latest frame not stored", extra={"camera_id": camera.id, "error": exc.message}
            )
            return None

    def url(self, uri: str) -> str:
        """A signed GET URL of ``gs://...``, valid for ``url_expiry_s``.

        Raises:
            DependencyUnavailableError: the signer (IAM) failed: the publish is retried.
        """
        return self.signer.sign(uri, self.url_expiry_s)
