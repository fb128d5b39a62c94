"""A camera's burst in processing: fetch it, decode its earlier frames.

The last frame of a burst is processed as a lone frame is (decode policy, cache, stale check,
violations, the one row). When it is new, the earlier frames are decoded here (through the
same decode policy; one that fails is left out, logged), detected in one batch with it, and
applied to the tracks first, each at its own time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from shared.adapters.bursts import BurstFrame
from shared.adapters.frame_sources import FrameSource
from shared.domain.frames import Frame, FramePolicy, RawFrame
from shared.domain.registry import Camera
from shared.errors import FrameError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fetched:
    """What a camera job fetched: the frame to process, when, and a burst's earlier frames."""

    raw: RawFrame
    at_ms: int  # after the job began (0 without a burst)
    earlier: tuple[BurstFrame, ...] = ()


def fetch_camera(frames: FrameSource, camera: Camera) -> Fetched:
    """One frame, or the camera's burst (see :mod:`shared.adapters.bursts`).

    Raises:
        FrameError: no frame (a burst: every frame failed; the first error).
    """
    if camera.burst is None or camera.burst.frames == 1:
        return Fetched(frames.fetch(camera.source), 0)
    burst = frames.fetch_burst(camera.source, camera.burst.frames, camera.burst.spacing_s)
    *earlier, last = burst
    return Fetched(last.raw, offset_ms(last), tuple(earlier))


def decode_earlier(
    policy: FramePolicy, camera_id: str, earlier: tuple[BurstFrame, ...]
) -> list[tuple[Frame, BurstFrame]]:
    """A burst's earlier frames decoded, in order; one that fails is left out."""
    decoded = []
    for item in earlier:
        try:
            decoded.append((policy.decode(item.raw), item))
        except FrameError as exc:
            log.warning(
                "a frame of a burst was not decoded",
                extra={"camera_id": camera_id, "kind": exc.kind, "error": exc.message},
            )
    return decoded


def offset_ms(item: BurstFrame) -> int:
    """The frame's time in whole ms after the burst began."""
    return int(item.offset_s * 1000)
