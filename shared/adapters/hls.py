"""HLS (``.m3u8`` playlists, as state 511 systems publish): parse a playlist, pick the live
edge, decode one frame of a segment from memory.

The playlist parser is hand-written: it needs the variant lines of a master playlist and the
segment URIs of a media playlist, about thirty lines, where the ``m3u8`` package (well kept, but
not a dependency yet) would add a pinned dependency and a ``load()`` that fetches URIs by
itself. Segments are decoded with PyAV from bytes already fetched and checked; the demuxer is
chosen from the bytes (MPEG-TS or ISO BMFF, neither of which opens anything), so ffmpeg never
fetches anything itself. A burst reads the frames of the newest segments
(:mod:`shared.adapters.hls_fetch`): their times from the packets, then the frames it picks.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import av
import numpy as np
import numpy.typing as npt

from shared.errors import (
    FrameDecodeError,
    FrameTooLargeError,
    FrameUnreachableError,
    NotAnImageError,
)

PLAYLIST_TYPES = {
    "application/vnd.apple.mpegurl",
    "application/x-mpegurl",
    "audio/mpegurl",
    "audio/x-mpegurl",
}
MAX_PLAYLIST_BYTES = 1024 * 1024
TS_PACKET = 188
BMFF_BOXES = {b"ftyp", b"styp", b"moof", b"moov", b"sidx"}
# ffmpeg probes this many bytes to find the streams (its default is 5 MB)
PROBE_BYTES = 1024 * 1024
# ffmpeg's max_pixels counts a frame with its padding (edges, alignment): room for that
BACKSTOP_FACTOR, BACKSTOP_MARGIN = 2, 1 << 20


@dataclass(frozen=True)
class Variant:
    """One stream of a master playlist: its absolute URI and ``BANDWIDTH`` (bits/s, 0 if none)."""

    uri: str
    bandwidth: int


@dataclass(frozen=True)
class Playlist:
    """A parsed playlist: a master lists ``variants``, a media playlist ``segments`` (absolute)."""

    variants: tuple[Variant, ...]
    segments: tuple[str, ...]

    @property
    def is_master(self) -> bool:
        """Whether this is a master playlist (it lists variant streams)."""
        return bool(self.variants)

    def variant(self) -> str:
        """The variant to watch: the lowest bandwidth (detection needs no more than that)."""
        return min(self.variants, key=lambda v: v.bandwidth).uri

    def live_edge(self) -> str:
        """The newest segment (the last one listed).

        Raises:
            FrameUnreachableError: the playlist lists no segment (yet).
        """
        if not self.segments:
            raise FrameUnreachableError("HLS playlist lists no segment")
        return self.segments[-1]


def is_playlist(content_type: str | None, url: str) -> bool:
    """Whether an answer is an HLS playlist, by its content type or its URL's ``.m3u8`` path."""
    ctype = (content_type or "").split(";")[0].strip().lower()
    return ctype in PLAYLIST_TYPES or urlsplit(url).path.lower().endswith(".m3u8")


def parse_playlist(data: bytes, base_url: str) -> Playlist:
    """Parse an M3U8 playlist; URIs are resolved against ``base_url`` (the playlist's URL).

    Raises:
        NotAnImageError: the answer is not a playlist (no ``#EXTM3U`` first line, not UTF-8).
    """
    try:
        lines = [line.strip() for line in data.decode("utf-8-sig").splitlines()]
    except UnicodeDecodeError as exc:
        raise NotAnImageError("HLS playlist is not UTF-8 text") from exc
    if not lines or lines[0] != "#EXTM3U":
        raise NotAnImageError(f"not an HLS playlist ({len(data)} bytes without #EXTM3U)")
    variants: list[Variant] = []
    segments: list[str] = []
    bandwidth: int | None = None
    for line in lines[1:]:
        if line.startswith("#EXT-X-STREAM-INF:"):
            bandwidth = _attribute_int(line, "BANDWIDTH")
        elif line and not line.startswith("#"):
            uri = urljoin(base_url, line)
            if bandwidth is not None:
                variants.append(Variant(uri, bandwidth))
                bandwidth = None
            else:
                segments.append(uri)
    return Playlist(tuple(variants), tuple(segments))


def _attribute_int(line: str, name: str) -> int:
    for attribute in line.split(":", 1)[1].split(","):
        key, _, value = attribute.partition("=")
        if key.strip() == name and value.strip().isdigit():
            return int(value.strip())
    return 0


def _demuxer(data: bytes) -> str:
    """The ffmpeg demuxer for a segment's bytes: MPEG-TS or ISO BMFF (fMP4), nothing else."""
    if len(data) > TS_PACKET and data[0] == 0x47 and data[TS_PACKET] == 0x47:
        return "mpegts"
    if data[4:8] in BMFF_BOXES:
        return "mp4"
    raise FrameDecodeError(f"HLS segment of {len(data)} bytes is neither MPEG-TS nor MP4")


def decode_segment(data: bytes, max_pixels: int) -> npt.NDArray[np.uint8]:
    """The first video frame of a segment, as a BGR image.

    The stream's declared size is checked against ``max_pixels`` before a frame is decoded, and
    each decoded frame's size again (a decode bomb must not reach the pixel buffers), with
    ffmpeg's ``max_pixels`` as a backstop.

    Raises:
        FrameDecodeError: not a video segment, no video stream or frame, or ffmpeg refused it.
        FrameTooLargeError: the video is over ``max_pixels``.
    """
    return decode_frames(data, [0], max_pixels)[0]


def frame_times(data: bytes, max_pixels: int) -> list[float]:
    """The presentation times (s, the stream's clock) of a segment's frames, in order.

    Read from the packets without decoding them; the declared size is checked first.

    Raises:
        FrameDecodeError: not a video segment, no video stream or frame, or ffmpeg refused it.
        FrameTooLargeError: the declared video size is over ``max_pixels``.
    """
    with _opened(data, max_pixels) as (container, stream):
        base = float(stream.time_base or 0)
        packets = [p for p in container.demux(stream) if p.size]
        if not packets:
            raise FrameDecodeError("HLS segment has no video frame")
        if base and all(p.pts is not None for p in packets):
            return sorted(float(p.pts or 0) * base for p in packets)
        rate = float(stream.guessed_rate or 1)  # no timestamps: the nominal frame rate
        return [i / rate for i in range(len(packets))]


def decode_frames(
    data: bytes, positions: Collection[int], max_pixels: int
) -> dict[int, npt.NDArray[np.uint8]]:
    """The segment's frames at ``positions`` (0: its first, in presentation order) as BGR images.

    Decoding stops after the last position asked; frames in between are decoded (the codec
    needs them) but not converted. The sizes are checked as in :func:`decode_segment`.

    Raises:
        FrameDecodeError: as :func:`decode_segment`, or a position past the last frame.
        FrameTooLargeError: the video is over ``max_pixels``.
    """
    images: dict[int, npt.NDArray[np.uint8]] = {}
    wanted = set(positions)
    with _opened(data, max_pixels) as (container, stream):
        for position, frame in enumerate(container.decode(stream)):
            _check_size(frame.width, frame.height, max_pixels)
            if position in wanted:
                image = frame.to_ndarray(format="bgr24")
                images[position] = np.ascontiguousarray(image, dtype=np.uint8)
            if len(images) == len(wanted):
                return images
    raise FrameDecodeError(
        "HLS segment has no video frame"
        if not images
        else f"HLS segment has {len(images)} of {len(wanted)} frames asked"
    )


@contextlib.contextmanager
def _opened(
    data: bytes, max_pixels: int
) -> Iterator[tuple[av.container.InputContainer, av.VideoStream]]:
    """The segment opened from memory, its video stream checked; ffmpeg's errors mapped."""
    options = {"probesize": str(PROBE_BYTES), "analyzeduration": "1000000"}
    try:
        with av.open(io.BytesIO(data), "r", format=_demuxer(data), options=options) as container:
            if not container.streams.video:
                raise FrameDecodeError("HLS segment has no video stream")
            stream = container.streams.video[0]
            _check_size(stream.codec_context.width, stream.codec_context.height, max_pixels)
            # ffmpeg's own check before it allocates a frame: the backstop for a size the
            # container left undeclared (0x0) or that changes mid-stream (with a margin for
            # padding); the decoded frame is checked exactly below.
            stream.codec_context.options = {
                "max_pixels": str(BACKSTOP_FACTOR * max_pixels + BACKSTOP_MARGIN)
            }
            yield container, stream
    except av.error.MemoryError as exc:  # the backstop, where ffmpeg allocates (else EINVAL)
        raise FrameTooLargeError(
            f"ffmpeg refused an HLS frame over {max_pixels} px: {exc}"
        ) from exc
    except av.FFmpegError as exc:
        raise FrameDecodeError(f"HLS segment could not be decoded: {exc}") from exc


def _check_size(width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise FrameTooLargeError(f"HLS video is {width}x{height}, over the {max_pixels} px cap")
