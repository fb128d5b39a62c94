"""HLS frames from a fetched playlist: one frame of the live edge, or a burst of the newest
segments' frames, each segment fetched through the caller's checked GET.

The fetching itself (one deadline, byte limits, address checks for every URL, redirects) stays
in :class:`shared.adapters.http_snapshot.HttpSnapshotSource`, which passes its ``read``: the
body of a URL (at most ``limit`` bytes) and the URL it came from after redirects.

A burst reads **consecutive frames of the stream**, not polls: the newest segment's frames
and, when it has fewer than the burst asks, those of the segments before it, in order (at most
one segment per frame asked). Of those frames the burst takes the newest ``frames``,
``spacing_s`` apart in stream time where the segments span that much, else consecutive ones;
each frame's offset is its presentation time after the first frame taken. Timestamps that
restart in each segment (as segments encoded one by one have) are chained: a segment starts one
frame period after the one before it ends. A segment before the newest that fails ends the
burst with the frames read so far (logged); the newest one failing fails the fetch.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from shared.adapters.bursts import BurstFrame
from shared.adapters.hls import (
    MAX_PLAYLIST_BYTES,
    Playlist,
    decode_frames,
    decode_segment,
    frame_times,
    parse_playlist,
)
from shared.domain.frames import RawFrame
from shared.errors import FrameError, NotAnImageError

log = logging.getLogger(__name__)

Read = Callable[[str, int], tuple[bytes, str]]


@dataclass(frozen=True)
class Limits:
    """The byte limit of one segment and the pixel limit of one frame."""

    segment_bytes: int
    pixels: int


@dataclass
class _Segment:
    """A segment's bytes and its frames' times on the burst's (chained) clock."""

    data: bytes
    times: list[float]


def media_playlist(read: Read, playlist: Playlist) -> Playlist:
    """The media playlist to watch: ``playlist``, or a master's lowest-bandwidth variant."""
    if not playlist.is_master:
        return playlist
    data, url = read(playlist.variant(), MAX_PLAYLIST_BYTES)
    media = parse_playlist(data, url)
    if media.is_master:
        raise NotAnImageError("HLS variant playlist is itself a master playlist")
    return media


def live_frames(
    read: Read, playlist: Playlist, frames: int, spacing_s: float, limits: Limits
) -> list[BurstFrame]:
    """``frames`` frames (at most) of the live stream, in order; one: the live edge's first.

    Raises:
        FrameError: the playlist, the variant or the newest segment failed.
    """
    media = media_playlist(read, playlist)
    if frames <= 1:
        data, _ = read(media.live_edge(), limits.segment_bytes)
        return [BurstFrame(RawFrame("hls", image=decode_segment(data, limits.pixels)), 0.0)]
    segments = _newest_segments(read, media, frames, limits)
    timeline = [(s, i) for s in segments for i in range(len(s.times))]
    times = [s.times[i] for s, i in timeline]
    picked = [timeline[k] for k in pick(times, frames, spacing_s)]
    taken: list[tuple[float, npt.NDArray[np.uint8]]] = []
    first_error: FrameError | None = None
    for segment in segments:
        positions = [i for s, i in picked if s is segment]
        try:
            images = decode_frames(segment.data, positions, limits.pixels) if positions else {}
        except FrameError as exc:
            first_error = first_error or exc
            log.warning("an HLS segment of a burst failed", extra={"kind": exc.kind})
            continue
        taken += [(segment.times[i], images[i]) for i in positions]
    if not taken:
        assert first_error is not None
        raise first_error
    start = taken[0][0]
    return [BurstFrame(RawFrame("hls", image=im), round(t - start, 3)) for t, im in taken]


def _newest_segments(read: Read, media: Playlist, frames: int, limits: Limits) -> list[_Segment]:
    """The newest segments holding ``frames`` frames (or all listed), oldest first."""
    media.live_edge()  # no segment listed: unreachable
    segments: list[_Segment] = []
    for url in reversed(media.segments[-frames:]):
        try:
            data, _ = read(url, limits.segment_bytes)
            segment = _Segment(data, frame_times(data, limits.pixels))
        except FrameError as exc:
            if not segments:
                raise
            log.warning("an earlier HLS segment of a burst failed", extra={"kind": exc.kind})
            break
        segments.insert(0, segment)
        if sum(len(s.times) for s in segments) >= frames:
            break
    for before, after in itertools.pairwise(segments):
        _chain(before.times, after.times)
    return segments


def _chain(before: list[float], after: list[float]) -> None:
    """Shift ``after`` to start one frame period after ``before`` unless it already does."""
    if after[0] > before[-1]:
        return  # continuous timestamps: the stream's own clock
    period = (before[-1] - before[0]) / (len(before) - 1) if len(before) > 1 else 0.0
    period = period or (after[1] - after[0] if len(after) > 1 else 0.1)
    shift = before[-1] + period - after[0]
    after[:] = [t + shift for t in after]


def pick(times: list[float], frames: int, spacing_s: float) -> list[int]:
    """The indices of the newest ``frames`` of ``times`` (ascending), ``spacing_s`` apart where
    they span that much (each the nearest to its mark), else the newest consecutive ones."""
    count = len(times)
    if count <= frames:
        return list(range(count))
    if spacing_s <= 0 or times[-1] - times[0] < (frames - 1) * spacing_s:
        return list(range(count - frames, count))
    chosen: list[int] = []
    for k in range(frames):
        mark = times[-1] - (frames - 1 - k) * spacing_s
        low = chosen[-1] + 1 if chosen else 0
        high = count - (frames - k)  # room for the frames after this one
        chosen.append(min(range(low, high + 1), key=lambda j: abs(times[j] - mark)))
    return chosen
