"""What encoded image bytes say about themselves before any pixel is decoded.

Pillow's lazy ``Image.open`` reads only the header: the format, the size and, for JPEG, whether
it is progressive. camwatch decides from these what to decode (``shared.domain.frames``), so a
decompression bomb (a few hundred bytes claiming 30000x30000 pixels) is refused or decoded at
reduced scale before OpenCV allocates anything. Pillow never decodes pixels here.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image

from shared.errors import FrameDecodeError, NotAnImageError

# The formats a camera may serve, by Pillow's names; anything else is not an image to camwatch.
FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP")
# Leading bytes of those formats: bytes that start like one but will not open are corrupt,
# anything else (HTML, JSON, text, TIFF, ...) is not an image.
MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"RIFF", b"GIF87a", b"GIF89a", b"BM")

# camwatch's own caps decide, from this header (Pillow's bomb check would raise on open
# without the size, and its limit is not camwatch's).
Image.MAX_IMAGE_PIXELS = None


@dataclass(frozen=True)
class ImageHeader:
    """An encoded image's format (Pillow's name), size and JPEG progressiveness."""

    format: str
    width: int
    height: int
    progressive: bool = False

    @property
    def pixels(self) -> int:
        """Width times height."""
        return self.width * self.height


def read_header(data: bytes) -> ImageHeader:
    """The header of ``data``: one of :data:`FORMATS`, its size, whether progressive.

    Raises:
        NotAnImageError: the bytes do not start like a supported image (HTML, text, TIFF, ...).
        FrameDecodeError: they start like one but the header is truncated or corrupt.
    """
    if not data.startswith(MAGIC) or (data.startswith(b"RIFF") and data[8:12] != b"WEBP"):
        head = data[:16].decode("ascii", "replace").replace("\n", " ")
        raise NotAnImageError(
            f"{len(data)} bytes that do not start like a JPEG/PNG/WebP/GIF/BMP image: {head!r}"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns on odd but readable headers
            with Image.open(io.BytesIO(data), formats=FORMATS) as image:
                width, height = image.size
                fmt = str(image.format)
                progressive = bool(image.info.get("progressive") or image.info.get("progression"))
    except Exception as exc:  # Pillow's plugins raise many kinds; all mean a bad header
        raise FrameDecodeError(
            f"{len(data)} bytes with an unreadable image header: {type(exc).__name__}: {exc}"
        ) from exc
    if width <= 0 or height <= 0:
        raise FrameDecodeError(f"image header claims {width}x{height} pixels")
    return ImageHeader(fmt, width, height, progressive)
