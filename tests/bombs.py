"""Hostile frames, built in memory: decompression bombs of each format, tiny and odd images.

A bomb is a small valid image whose header is rewritten to claim a huge size (checksums
fixed where the format has them), as an attacker would send: a few hundred bytes that a
naive decoder turns into gigabytes.
"""

from __future__ import annotations

import io
import struct
import zlib

import cv2
import numpy as np
from PIL import Image


def encoded(mode: str, fmt: str, size: tuple[int, int] = (64, 48), **options: object) -> bytes:
    """A small image of ``mode`` (Pillow's: RGB, L, RGBA, P, 1, I;16, CMYK, ...) as ``fmt``."""
    image = Image.new(mode, size)
    if mode in ("RGB", "RGBA", "CMYK", "L", "LA"):
        image = Image.new(mode, size, (90,) * len(mode) if len(mode) > 1 else 90)
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def jpeg_bomb(width: int, height: int, progressive: bool = False) -> bytes:
    """A grey 16x16 JPEG whose frame header (SOF0, or SOF2 when progressive) claims this size."""
    params = [cv2.IMWRITE_JPEG_PROGRESSIVE, 1] if progressive else []
    ok, buf = cv2.imencode(".jpg", np.full((16, 16, 3), 128, np.uint8), params)
    assert ok
    data = bytearray(buf.tobytes())
    at = data.index(b"\xff\xc2" if progressive else b"\xff\xc0")
    struct.pack_into(">HH", data, at + 5, height, width)
    return bytes(data)


def png_bomb(width: int, height: int) -> bytes:
    """A 16x16 PNG whose IHDR claims this size (its CRC recomputed, so libpng reads on)."""
    data = bytearray(encoded("RGB", "PNG", (16, 16)))
    struct.pack_into(">II", data, 16, width, height)  # IHDR data starts at 16
    struct.pack_into(">I", data, 29, zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def zero_png(width: int, height: int) -> bytes:
    """A valid all-black RGB PNG of this size: a real, fully decodable bomb (~1000:1)."""
    row = b"\x00" * (1 + 3 * width)  # filter byte, then pixels
    body = zlib.compressobj(9)
    idat = b"".join(body.compress(row) for _ in range(height)) + body.flush()

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload)
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def gif_bomb(width: int, height: int) -> bytes:
    """A 16x16 GIF whose screen and image descriptor claim this size (at most 65535)."""
    data = bytearray(encoded("P", "GIF", (16, 16)))
    struct.pack_into("<HH", data, 6, width, height)
    at = data.index(b"\x2c")  # the image descriptor
    struct.pack_into("<HH", data, at + 5, width, height)
    return bytes(data)


def webp_bomb(width: int, height: int) -> bytes:
    """A lossy 64x64 WebP whose VP8 frame claims this size (at most 16383)."""
    ok, buf = cv2.imencode(".webp", np.zeros((64, 64, 3), np.uint8), [cv2.IMWRITE_WEBP_QUALITY, 80])
    assert ok
    data = bytearray(buf.tobytes())
    struct.pack_into("<HH", data, data.index(b"VP8 ") + 14, width, height)
    return bytes(data)


def bmp_bomb(width: int, height: int) -> bytes:
    """A 16x16 BMP whose info header claims this size."""
    data = bytearray(encoded("RGB", "BMP", (16, 16)))
    struct.pack_into("<ii", data, 18, width, height)
    return bytes(data)
