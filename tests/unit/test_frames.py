"""Frame checks, decoding and the content hash."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from shared.domain.frames import RawFrame, decode_frame, frame_hash
from shared.errors import FrameDecodeError, FrameTooLargeError, NotAnImageError
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
            RawFrame("http", data=b"GIF89a....", content_type="image/jpeg"),
            NotAnImageError,
            "do not start",
        ),
        # JPEG magic followed by garbage
        (RawFrame("http", data=b"\xff\xd8\xff\xe0" + b"\x00" * 500), FrameDecodeError, "decoded"),
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
    with pytest.raises(FrameTooLargeError, match="1024x680"):
        decode_frame(RawFrame("file", data=data), MB, 1024 * 680 - 1)
    assert decode_frame(RawFrame("file", data=data), len(data), 1024 * 680).size == (1024, 680)


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
