"""Frame checks, decoding and the content hash."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from shared.domain.frames import FramePolicy, RawFrame, decode_frame, frame_hash, plan_decode
from shared.domain.image_header import ImageHeader
from shared.errors import FrameDecodeError, FrameTooLargeError, FrameTooSmallError, NotAnImageError
from tests.conftest import image, jpeg

MB = 8 * 1024 * 1024


def test_jpeg_decodes_with_size_and_hash() -> None:
    frame = decode_frame(
        RawFrame("http", data=jpeg("car1.jpg"), content_type="image/jpeg"), MB, 10**8
    )
    assert frame.size == (1024, 680)
    assert frame.hash == frame_hash(image("car1.jpg"))
    assert len(frame.hash) == 32


@pytest.mark.parametrize(
    ("raw", "error", "match"),
    [
        # an HTML error page served with 200
        (
            RawFrame("http", data=b"<html>down</html>", content_type="text/html"),
            NotAnImageError,
            "text/html",
        ),
        # the right content type but not image bytes
        (
            RawFrame("http", data=b"%PDF-1.7....", content_type="image/jpeg"),
            NotAnImageError,
            "do not start",
        ),
        # JPEG magic followed by garbage
        (RawFrame("http", data=b"\xff\xd8\xff\xe0" + b"\x00" * 500), FrameDecodeError, "header"),
        # empty body
        (RawFrame("file", data=b""), NotAnImageError, "0 bytes"),
    ],
)
def test_bad_frames_get_typed_errors(raw: RawFrame, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        decode_frame(raw, MB, 10**8)


def test_byte_and_pixel_limits() -> None:
    data = jpeg("car1.jpg")
    with pytest.raises(FrameTooLargeError, match="bytes"):
        decode_frame(RawFrame("file", data=data), len(data) - 1, 10**8)
    assert decode_frame(RawFrame("file", data=data), len(data), 1024 * 680).size == (1024, 680)
    # A JPEG over the pixel cap is decoded at reduced scale; its hash is of those pixels.
    half = decode_frame(RawFrame("file", data=data), MB, 1024 * 680 - 1)
    assert (half.size, half.scale) == ((512, 340), 2)
    assert half.hash == decode_frame(RawFrame("file", data=data), MB, 600 * 400).hash
    tiny = decode_frame(RawFrame("file", data=data), MB, 128 * 85)
    assert (tiny.size, tiny.scale) == ((128, 85), 8)
    # Other formats decode at full size only.
    png = cv2.imencode(".png", image("car1.jpg"))[1].tobytes()
    with pytest.raises(FrameTooLargeError, match="1024x680"):
        decode_frame(RawFrame("file", data=png), MB, 1024 * 680 - 1)


@pytest.mark.parametrize(
    ("header", "max_pixels", "scale"),
    [
        (ImageHeader("JPEG", 4096, 4096), 4096 * 4096, 1),
        (ImageHeader("JPEG", 4097, 4096), 4096 * 4096, 2),
        (ImageHeader("JPEG", 16384, 16384), 4096 * 4096, 4),
        (ImageHeader("JPEG", 32768, 32768), 4096 * 4096, 8),
        (ImageHeader("JPEG", 32769, 32768), 4096 * 4096, 0),
        (ImageHeader("JPEG", 5000, 5000, progressive=True), 4096 * 4096, 2),
        (ImageHeader("JPEG", 6000, 6000, progressive=True), 4096 * 4096, 0),
        (ImageHeader("PNG", 4096, 4096), 4096 * 4096, 1),
        (ImageHeader("PNG", 4097, 4096), 4096 * 4096, 0),
        (ImageHeader("WEBP", 100, 100), 100 * 100, 1),
        (ImageHeader("GIF", 101, 100), 100 * 100, 0),
    ],
)
def test_decode_policy(header: ImageHeader, max_pixels: int, scale: int) -> None:
    """The one decode policy: the scale to decode at, or too large (0) from the header alone."""
    if scale:
        assert plan_decode(header, max_pixels) == scale
    else:
        with pytest.raises(FrameTooLargeError, match=f"{header.width}x{header.height}"):
            plan_decode(header, max_pixels)


def test_minimum_side_is_checked_from_the_header() -> None:
    with pytest.raises(FrameTooSmallError, match="8x8, under 32 px"):
        plan_decode(ImageHeader("PNG", 8, 8), 10**6, min_side=32)
    assert plan_decode(ImageHeader("PNG", 32, 32), 10**6, min_side=32) == 1
    policy = FramePolicy(MB, 10**8, min_side=32)
    with pytest.raises(FrameTooSmallError):
        policy.decode(RawFrame("video", image=np.zeros((20, 640, 3), np.uint8)))


def test_at_most_n_decodes_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    active, most, lock = 0, 0, threading.Lock()
    real = cv2.imdecode

    def slow_decode(buf: np.ndarray, flags: int) -> npt.NDArray[Any]:
        nonlocal active, most
        with lock:
            active += 1
            most = max(most, active)
        time.sleep(0.05)
        with lock:
            active -= 1
        decoded = real(buf, flags)
        assert decoded is not None
        return decoded

    monkeypatch.setattr("shared.domain.frames.cv2.imdecode", slow_decode)
    policy, data = FramePolicy(MB, 10**8, max_concurrent=3), jpeg("car1.jpg")
    with ThreadPoolExecutor(8) as pool:
        frames = list(pool.map(lambda _: policy.decode(RawFrame("t", data=data)), range(8)))
    assert most == 3
    assert len({f.hash for f in frames}) == 1


def test_opencv_errors_are_frame_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(buf: np.ndarray, flags: int) -> np.ndarray:
        raise cv2.error("OpenCV(5.0.0) loadsave.cpp:77: error: (-215) pixels <= limit")

    monkeypatch.setattr("shared.domain.frames.cv2.imdecode", refuse)
    with pytest.raises(FrameDecodeError, match="OpenCV refused it"):
        decode_frame(RawFrame("t", data=jpeg("car1.jpg")), MB, 10**8)


def test_hash_is_of_pixels_not_encoding() -> None:
    img = image("vtest_f300.jpg")
    png = cv2.imencode(".png", img)[1].tobytes()
    bmp = cv2.imencode(".bmp", img)[1].tobytes()
    a = decode_frame(RawFrame("file", data=png), MB, 10**8)
    b = decode_frame(RawFrame("file", data=bmp), MB, 10**8)
    assert a.hash == b.hash  # same pixels, two encodings
    changed = img.copy()
    changed[0, 0, 0] ^= 1
    assert frame_hash(changed) != a.hash  # one bit differs
    assert frame_hash(np.ascontiguousarray(img[:, :-1])) != a.hash  # other shape


def test_decoded_video_frame_passes_through() -> None:
    img = image("car1.jpg")
    frame = decode_frame(RawFrame("video", image=img), MB, 10**8)
    assert frame.source_kind == "video"
    assert frame.hash == frame_hash(img)
    with pytest.raises(FrameDecodeError, match="3-channel"):
        decode_frame(RawFrame("video", image=img[:, :, 0]), MB, 10**8)
