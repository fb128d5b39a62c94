"""Frames: bytes from a camera checked, then decoded into a BGR image with a content hash.

Every byte is hostile until checked. The header decides before any pixel is decoded
(:func:`plan_decode`, the one decode policy): the format must be one a camera serves, the size
within the caps, and a large baseline JPEG is decoded at reduced scale. At most
``max_concurrent`` decodes run at once per process, so concurrent bombs cannot add up, and
every OpenCV error is a frame error. OpenCV's own pixel limit is set before ``cv2`` is
imported (``shared/__init__.py``), as a backstop.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np
import numpy.typing as npt

from shared.domain.image_header import ImageHeader, read_header
from shared.errors import (
    FrameDecodeError,
    FrameTooLargeError,
    FrameTooSmallError,
    NotAnImageError,
)

# libjpeg decodes straight to 1/2, 1/4 or 1/8 scale, allocating only the reduced image.
_JPEG_SCALES = {
    1: cv2.IMREAD_COLOR,
    2: cv2.IMREAD_REDUCED_COLOR_2,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    8: cv2.IMREAD_REDUCED_COLOR_8,
}
# A progressive JPEG keeps every DCT coefficient of the full-size image while it decodes
# (3 to 6 bytes a pixel, whatever the output scale), so its hard cap is this many times the
# pixel cap; a baseline JPEG's is 64 times (1/8 scale); other formats decode at full size.
PROGRESSIVE_FACTOR = 2
# What some cameras send after a JPEG's end-of-image marker.
_PADDING = b"\x00\r\n \t"


@dataclass(frozen=True)
class RawFrame:
    """What a frame source returns: encoded bytes, or an already decoded image (video)."""

    source_kind: str
    data: bytes | None = None
    image: npt.NDArray[np.uint8] | None = None
    content_type: str | None = None


@dataclass(frozen=True)
class Frame:
    """A decoded BGR frame and its content hash; ``scale`` > 1: decoded at 1/scale size."""

    image: npt.NDArray[np.uint8]
    hash: str
    source_kind: str
    decode_ms: float
    scale: int = 1

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` in pixels, as decoded."""
        height, width = self.image.shape[:2]
        return width, height


def frame_hash(image: npt.NDArray[np.uint8]) -> str:
    """Hash of the decoded pixels and shape (so re-encoded copies of one frame match).

    For a JPEG decoded at reduced scale the hash covers the reduced pixels (the full-size ones
    never exist): the same bytes always give the same plan, pixels and hash.
    """
    digest = hashlib.blake2b(digest_size=16)
    digest.update(repr(image.shape).encode())
    digest.update(np.ascontiguousarray(image).data)
    return digest.hexdigest()


def bytes_hash(data: bytes) -> str:
    """Hash of encoded bytes: an alias that lets a repeated frame skip decoding."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def plan_decode(header: ImageHeader, max_pixels: int, min_side: int = 1) -> int:
    """The one decode policy: the scale (1, 2, 4 or 8) to decode ``header``'s image at.

    A baseline JPEG over ``max_pixels`` is decoded at the smallest reduction that fits (up to
    1/8, so up to 64 times the cap); a progressive JPEG up to :data:`PROGRESSIVE_FACTOR` times
    the cap; PNG, WebP, GIF and BMP only at full size, up to the cap.

    Raises:
        FrameTooLargeError: over the format's hard cap (nothing is decoded).
        FrameTooSmallError: a side under ``min_side``.
    """
    width, height = header.width, header.height
    if min(width, height) < min_side:
        raise FrameTooSmallError(f"frame is {width}x{height}, under {min_side} px on a side")
    factor = _hard_cap_factor(header)
    if header.pixels > max_pixels * factor:
        kind = f"{'progressive ' if header.progressive else ''}{header.format}"
        raise FrameTooLargeError(
            f"{kind} frame is {width}x{height}, over the {max_pixels * factor} px it may have"
        )
    return next(s for s in _JPEG_SCALES if -(-width // s) * -(-height // s) <= max_pixels)


def _hard_cap_factor(header: ImageHeader) -> int:
    """How many times the pixel cap this kind of image may have (reduced JPEG decoding)."""
    if header.format != "JPEG":
        return 1
    return PROGRESSIVE_FACTOR if header.progressive else 64


@cache
def _gate(max_concurrent: int) -> threading.BoundedSemaphore:
    """The process's decode gate (one per configured size; in practice one)."""
    return threading.BoundedSemaphore(max_concurrent)


@dataclass(frozen=True)
class FramePolicy:
    """The limits a frame is decoded under: bytes, pixels, a minimum side, concurrency.

    Camera frames use the configured minimum side; images sent to the inference service
    use 1 (callers may send crops).
    """

    max_bytes: int
    max_pixels: int
    min_side: int = 1
    max_concurrent: int = 2

    def decode(self, raw: RawFrame) -> Frame:
        """Check ``raw`` against the policy, decode it and hash it.

        Raises:
            FrameTooLargeError: over ``max_bytes`` bytes, or over the format's pixel cap.
            FrameTooSmallError: a side under ``min_side`` pixels.
            NotAnImageError: the content type or leading bytes are not a supported image's.
            FrameDecodeError: the header or pixels are corrupt.
        """
        start = time.perf_counter()
        scale = 1
        if raw.image is not None:
            image = raw.image
            height, width = image.shape[:2]
            plan_decode(ImageHeader("decoded", width, height), self.max_pixels, self.min_side)
        else:
            image, scale = self._decode(raw.data or b"", raw.content_type)
        if image.ndim != 3 or image.shape[2] != 3:
            raise FrameDecodeError(f"expected a 3-channel colour image, got shape {image.shape}")
        digest = frame_hash(image)
        return Frame(image, digest, raw.source_kind, (time.perf_counter() - start) * 1000, scale)

    def _decode(self, data: bytes, content_type: str | None) -> tuple[npt.NDArray[np.uint8], int]:
        if len(data) > self.max_bytes:
            raise FrameTooLargeError(f"frame is {len(data)} bytes, the limit is {self.max_bytes}")
        ctype = (content_type or "").split(";")[0].strip().lower()
        if ctype and not ctype.startswith("image/") and ctype != "application/octet-stream":
            raise NotAnImageError(f"camera answered {ctype!r}, not an image ({len(data)} bytes)")
        header = read_header(data)
        scale = plan_decode(header, self.max_pixels, self.min_side)
        if header.format == "JPEG" and not data.rstrip(_PADDING).endswith(b"\xff\xd9"):
            # libjpeg would fill the missing part with grey and call it a frame.
            raise FrameDecodeError(f"{len(data)} bytes of JPEG cut short (no end-of-image marker)")
        with _gate(self.max_concurrent):
            try:
                decoded = cv2.imdecode(np.frombuffer(data, np.uint8), _JPEG_SCALES[scale])
            except cv2.error as exc:
                raise FrameDecodeError(
                    f"{header.format} {header.width}x{header.height}: OpenCV refused it: "
                    f"{str(exc).strip().splitlines()[-1]}"
                ) from exc
        if decoded is None or decoded.size == 0:
            raise FrameDecodeError(f"{len(data)} bytes of {header.format} could not be decoded")
        return decoded.astype(np.uint8, copy=False), scale


def decode_frame(raw: RawFrame, max_bytes: int, max_pixels: int) -> Frame:
    """Decode ``raw`` under a :class:`FramePolicy` of these limits (no minimum side)."""
    return FramePolicy(max_bytes, max_pixels).decode(raw)
