"""Stream material for the local camera server and the tests: MJPEG parts and HLS segments
(MPEG-TS, encoded in memory with PyAV) and playlists."""

from __future__ import annotations

import io
from collections.abc import Sequence

import av
import numpy as np
import numpy.typing as npt

BOUNDARY = "camwatchframe"


def mjpeg_part(jpeg: bytes, boundary: str = BOUNDARY, length: bool = True) -> bytes:
    """One part of a ``multipart/x-mixed-replace`` body, with or without ``Content-Length``."""
    head = f"--{boundary}\r\nContent-Type: image/jpeg\r\n"
    if length:
        head += f"Content-Length: {len(jpeg)}\r\n"
    return head.encode() + b"\r\n" + jpeg + b"\r\n"


def encode_segment(images: Sequence[npt.NDArray[np.uint8]], fps: int = 10) -> bytes:
    """BGR images as an MPEG-TS segment (MPEG-4 part 2: in every ffmpeg build, fast)."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mpegts") as container:
        height, width = images[0].shape[:2]
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height = width - width % 2, height - height % 2
        stream.pix_fmt = "yuv420p"
        for image in images:
            frame = av.VideoFrame.from_ndarray(image[: stream.height, : stream.width], "bgr24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()


def media_playlist(segments: Sequence[str], sequence: int = 0, seconds: float = 1.0) -> bytes:
    """A live media playlist listing ``segments`` (URIs as given, relative or absolute)."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{int(seconds + 0.999)}"]
    lines.append(f"#EXT-X-MEDIA-SEQUENCE:{sequence}")
    for uri in segments:
        lines += [f"#EXTINF:{seconds:.3f},", uri]
    return ("\n".join(lines) + "\n").encode()


def master_playlist(variants: Sequence[tuple[str, int]]) -> bytes:
    """A master playlist of ``(uri, bandwidth)`` variants."""
    lines = ["#EXTM3U"]
    for uri, bandwidth in variants:
        lines += [f"#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},RESOLUTION=640x480", uri]
    return ("\n".join(lines) + "\n").encode()
