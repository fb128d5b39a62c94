"""Frames: bytes from a camera checked and decoded into a BGR image with a content hash."""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from shared.errors import FrameDecodeError, FrameTooLargeError, NotAnImageError

# OpenCV refuses to allocate for images above this many pixels (a decompression-bomb guard,
# read at the first decode); the per-settings limit in ``decode_frame`` is checked after.
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(64 * 1024 * 1024))

# Leading bytes of the formats a snapshot camera may serve.
_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"BM", b"RIFF")


@dataclass(frozen=True)
class RawFrame:
    """What a frame source returns: encoded bytes, or an already decoded image (video)."""

    source_kind: str
    data: bytes | None = None
    image: npt.NDArray[np.uint8] | None = None
    content_type: str | None = None


@dataclass(frozen=True)
class Frame:
    """A decoded BGR frame and its content hash."""

    image: npt.NDArray[np.uint8]
    hash: str
    source_kind: str
    decode_ms: float

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` in pixels."""
        height, width = self.image.shape[:2]
        return width, height


def frame_hash(image: npt.NDArray[np.uint8]) -> str:
    """Hash of the decoded pixels and shape (so re-encoded copies of one frame match)."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(repr(image.shape).encode())
    digest.update(np.ascontiguousarray(image).data)
    return digest.hexdigest()


def bytes_hash(data: bytes) -> str:
    """Hash of encoded bytes: an alias that lets a repeated frame skip decoding."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def decode_frame(raw: RawFrame, max_bytes: int, max_pixels: int) -> Frame:
    """Check size, content type and magic bytes, decode, and hash.

    Raises:
        FrameTooLargeError: more than ``max_bytes`` bytes or ``max_pixels`` pixels.
        NotAnImageError: the content type or leading bytes are not an image's.
        FrameDecodeError: the image bytes are corrupt.
    """
    start = time.perf_counter()
    if raw.image is not None:
        image = raw.image
    else:
        data = raw.data or b""
        if len(data) > max_bytes:
            raise FrameTooLargeError(f"frame is {len(data)} bytes, the limit is {max_bytes}")
        ctype = (raw.content_type or "").split(";")[0].strip().lower()
        if ctype and not ctype.startswith("image/") and ctype != "application/octet-stream":
            raise NotAnImageError(f"camera answered {ctype!r}, not an image ({len(data)} bytes)")
        if not data.startswith(_MAGIC):
            raise NotAnImageError(f"{len(data)} bytes that do not start like a JPEG/PNG/BMP/WebP")
        decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if decoded is None or decoded.size == 0:
            raise FrameDecodeError(f"{len(data)} bytes of image data could not be decoded")
        image = decoded.astype(np.uint8, copy=False)
    if image.ndim != 3 or image.shape[2] != 3:
        raise FrameDecodeError(f"expected a 3-channel colour image, got shape {image.shape}")
    if image.shape[0] * image.shape[1] > max_pixels:
        raise FrameTooLargeError(
            f"frame is {image.shape[1]}x{image.shape[0]}, over {max_pixels} px"
        )
    digest = frame_hash(image)
    return Frame(image, digest, raw.source_kind, (time.perf_counter() - start) * 1000)
