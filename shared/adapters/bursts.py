"""Bursts: a few frames of one camera per job, and their time budget.

A camera with ``burst`` in the registry gives ``frames`` frames per job instead of one.
``rtsp://`` streams and video files read consecutive frames from one open capture
(:meth:`shared.adapters.frame_sources.VideoSource.fetch_many`), an MJPEG stream consecutive
parts of one connection under its one deadline (``mjpeg.read_parts``) and an HLS stream frames
of its newest segments, about ``spacing_s`` apart in stream time, else consecutive, decoded
from the segments fetched under its one deadline (:mod:`shared.adapters.hls_fetch`); every
other source (snapshots, ``gs://``, image files) is polled, one ordinary fetch (same byte, pixel and
address limits, same deadline) every ``spacing_s`` seconds from the first.

The burst as a whole is bounded: a frame is only asked for if the spacing still to wait plus
one fetch deadline ends within :data:`BURST_BUDGET_S` of the burst's start, so a burst takes
at most the budget plus one deadline. The budget is half the camera-jobs subscription's ack
deadline (120 s, ``schemas/pubsub/topology.json``), leaving the other half for decoding,
detection and writing. A burst the budget cuts short keeps the frames it has (logged).

A frame that fails within a burst is dropped and the burst goes on; the burst fails only when
every frame failed, with the first frame's error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from shared.domain.frames import RawFrame
from shared.errors import FrameError

log = logging.getLogger(__name__)

BURST_BUDGET_S = 60.0


@dataclass(frozen=True)
class BurstFrame:
    """One frame of a burst and when it was taken, in seconds after the burst began."""

    raw: RawFrame
    offset_s: float


def poll(
    fetch: Callable[[], RawFrame],
    frames: int,
    spacing_s: float,
    deadline_s: float,
    budget_s: float = BURST_BUDGET_S,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[BurstFrame]:
    """Fetch ``frames`` times, the i-th fetch starting ``i * spacing_s`` after the first.

    Raises:
        FrameError: every fetch failed (the first failure).
    """
    start = clock()
    taken: list[BurstFrame] = []
    first_error: FrameError | None = None
    for i in range(frames):
        wait = max(0.0, start + i * spacing_s - clock())
        if i and clock() - start + wait + deadline_s > budget_s:
            log.warning("burst cut short by its time budget", extra={"frames": len(taken)})
            break
        if wait:
            sleep(wait)
        offset = round(clock() - start, 3)
        try:
            taken.append(BurstFrame(fetch(), offset))
        except FrameError as exc:
            first_error = first_error or exc
            log.warning("a frame of a burst failed", extra={"kind": exc.kind, "frame": i})
    if not taken:
        assert first_error is not None
        raise first_error
    return taken
