"""Stream sources: the MJPEG part reader and the HLS playlist parser and segment decoder."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from shared.adapters import hls
from shared.adapters.hls import (
    decode_frames,
    decode_segment,
    frame_times,
    is_playlist,
    parse_playlist,
)
from shared.adapters.hls_fetch import _chain, pick
from shared.adapters.mjpeg import PartReader, boundary_of, is_multipart
from shared.devstack.streams import encode_segment, master_playlist, media_playlist, mjpeg_part
from shared.errors import FrameError

JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4 + b"\xff\xd9"
LIMIT = 4096


def chunked(data: bytes, size: int) -> Iterator[bytes]:
    return (data[i : i + size] for i in range(0, len(data), size))


def read(stream: bytes, size: int = 7, boundary: bytes = b"camwatchframe", parts: int = 1):
    reader = PartReader(chunked(stream, size), boundary, LIMIT)
    return [reader.next_part() for _ in range(parts)]


def kind_of(call) -> str:
    with pytest.raises(FrameError) as caught:
        call()
    return caught.value.kind


@pytest.mark.parametrize("size", [1, 7, 4096])  # delimiters and headers split across chunks
@pytest.mark.parametrize("length", [True, False])  # Content-Length, or scan to the next boundary
def test_mjpeg_parts_in_order(size: int, length: bool) -> None:
    second = JPEG[::-1]
    stream = (
        mjpeg_part(JPEG, length=length) + mjpeg_part(second, length=length) + b"--camwatchframe"
    )
    first, then = read(stream, size, parts=2)
    assert (first.data, first.content_type) == (JPEG, "image/jpeg")
    assert then.data == second


@pytest.mark.parametrize(
    ("stream", "kind"),
    [
        # a preamble within the skip bound is skipped
        (b"x" * 100 + mjpeg_part(JPEG), "ok"),
        # a part announced over the limit: refused before its bytes are read
        (b"--camwatchframe\r\nContent-Length: 4097\r\n\r\n", "too_large"),
        # a part without a length that runs past the limit
        (mjpeg_part(bytes(LIMIT + 10), length=False) + b"--camwatchframe", "too_large"),
        # garbage before the first boundary, over the skip bound
        (b"\xff" * (LIMIT + 100) + mjpeg_part(JPEG), "too_large"),
        # the stream ends before a part, within a part, or with the final boundary
        (b"", "unreachable"),
        (b"junk\r\n", "unreachable"),
        (b"--camwatchframe\r\nContent-Length: 100\r\n\r\n\xff\xd8", "decode_error"),
        (mjpeg_part(JPEG, length=False), "decode_error"),
        (b"--camwatchframe--\r\n", "unreachable"),
        # endless headers
        (b"--camwatchframe\r\n" + b"X-Pad: 1\r\n" * 3000, "decode_error"),
    ],
    ids=[
        "preamble",
        "declared-over-limit",
        "no-length-over-limit",
        "garbage-over-skip-bound",
        "empty",
        "no-boundary-ever",
        "ends-mid-part",
        "ends-before-next-boundary",
        "final-boundary",
        "endless-headers",
    ],
)
def test_mjpeg_bounds(stream: bytes, kind: str) -> None:
    if kind == "ok":
        assert read(stream)[0].data == JPEG
    else:
        assert kind_of(lambda: read(stream)) == kind


@pytest.mark.parametrize(
    ("content_type", "boundary"),
    [
        ("multipart/x-mixed-replace; boundary=camwatchframe", b"camwatchframe"),
        ('multipart/x-mixed-replace;boundary="--myboundary"', b"myboundary"),  # quoted, with --
        ("Multipart/X-Mixed-Replace; charset=x; boundary=a b", b"a b"),
    ],
)
def test_mjpeg_boundary_parameter(content_type: str, boundary: bytes) -> None:
    assert is_multipart(content_type)
    assert boundary_of(content_type) == boundary


@pytest.mark.parametrize(
    "content_type", ["multipart/x-mixed-replace", "multipart/x-mixed-replace; boundary=--"]
)
def test_mjpeg_without_boundary_is_not_an_image(content_type: str) -> None:
    assert kind_of(lambda: boundary_of(content_type)) == "not_image"


def test_mjpeg_boundary_given_with_dashes_matches_lines_with_dashes() -> None:
    stream = b"--myboundary\r\nContent-Type: image/jpeg\r\n\r\n" + JPEG + b"\r\n--myboundary"
    part = read(stream, boundary=boundary_of("multipart/x-mixed-replace;boundary=--myboundary"))
    assert part[0].data == JPEG


BASE = "http://cam.test/live/index.m3u8"


@pytest.mark.parametrize(
    ("uri", "absolute"),
    [
        ("seg7.ts", "http://cam.test/live/seg7.ts"),  # relative to the playlist
        ("../other/seg7.ts", "http://cam.test/other/seg7.ts"),
        ("/root/seg7.ts", "http://cam.test/root/seg7.ts"),
        ("https://cdn.test/a/seg7.ts?t=1", "https://cdn.test/a/seg7.ts?t=1"),  # absolute
        ("file:///etc/passwd", "file:///etc/passwd"),  # kept: the fetch refuses the scheme
    ],
)
def test_media_playlist_live_edge(uri: str, absolute: str) -> None:
    playlist = parse_playlist(media_playlist(["seg5.ts", "seg6.ts", uri]), BASE)
    assert not playlist.is_master
    assert playlist.segments[0] == "http://cam.test/live/seg5.ts"
    assert playlist.live_edge() == absolute


def test_master_playlist_picks_the_lowest_bandwidth() -> None:
    data = master_playlist([("hi/index.m3u8", 5_000_000), ("lo/index.m3u8", 300_000)])
    playlist = parse_playlist(data, BASE)
    assert playlist.is_master
    assert playlist.variant() == "http://cam.test/live/lo/index.m3u8"


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n", "unreachable"),  # no segment (yet)
        (b"<html>maintenance</html>", "not_image"),
        (b"", "not_image"),
        (b"#EXTM3U\n\xff\xfe\xfa", "not_image"),  # not UTF-8
    ],
    ids=["empty-playlist", "html", "empty-answer", "binary"],
)
def test_playlists_without_a_segment(data: bytes, kind: str) -> None:
    assert kind_of(lambda: parse_playlist(data, BASE).live_edge()) == kind


@pytest.mark.parametrize(
    ("content_type", "url", "expected"),
    [
        ("application/vnd.apple.mpegurl", "http://c.test/live", True),
        ("application/x-mpegURL; charset=utf-8", "http://c.test/live", True),
        (None, "http://c.test/live/INDEX.M3U8?token=1", True),
        ("image/jpeg", "http://c.test/cam.jpg", False),
        ("text/plain", "http://c.test/m3u8", False),
    ],
)
def test_is_playlist(content_type: str | None, url: str, expected: bool) -> None:
    assert is_playlist(content_type, url) is expected


def segment(width: int = 96, height: int = 64) -> bytes:
    images = [np.full((height, width, 3), 40 * i, np.uint8) for i in range(3)]
    return encode_segment(images)


def test_segment_gives_its_first_frame() -> None:
    image = decode_segment(segment(), 96 * 64)
    assert image.shape == (64, 96, 3)
    assert image.dtype == np.uint8
    assert int(image.mean()) < 10  # the first frame is black


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (JPEG, "decode_error"),  # not video at all
        (b"\x47" + bytes(187) + b"\x47" + bytes(1000), "decode_error"),  # TS sync, no streams
        (segment()[:376], "decode_error"),  # cut short: two packets
        (segment(320, 240), "too_large"),  # declared size over the pixel cap
    ],
    ids=["jpeg", "ts-without-video", "truncated", "over-pixel-cap"],
)
def test_bad_segments(data: bytes, kind: str) -> None:
    assert kind_of(lambda: decode_segment(data, 96 * 64)) == kind


def test_ffmpeg_backstop_refuses_frames_the_container_did_not_declare(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As if the declared size were missed: ffmpeg's own max_pixels must stop the allocation.
    monkeypatch.setattr(hls, "BACKSTOP_FACTOR", 0)
    monkeypatch.setattr(hls, "BACKSTOP_MARGIN", 96 * 64)  # passes the open, not the padding
    # ffmpeg answers EINVAL or ENOMEM, depending on where it checks: decode_error or too_large.
    assert kind_of(lambda: decode_segment(segment(), 96 * 64)) in ("decode_error", "too_large")


def test_frame_times_are_the_stream_timestamps() -> None:
    data = encode_segment([np.full((64, 96, 3), 40 * i, np.uint8) for i in range(5)], fps=4)
    assert frame_times(data, 96 * 64) == [0.0, 0.25, 0.5, 0.75, 1.0]


def test_decode_frames_gives_the_positions_asked() -> None:
    images = decode_frames(segment(), [1, 2], 96 * 64)
    assert sorted(images) == [1, 2]
    assert int(images[1].mean()) < int(images[2].mean())  # 40, then 80


@pytest.mark.parametrize(
    "call",
    [
        lambda: frame_times(segment(320, 240), 96 * 64),  # declared over the cap: no decode
        lambda: decode_frames(segment(320, 240), [2], 96 * 64),
    ],
    ids=["times", "frames"],
)
def test_burst_reads_keep_the_pixel_cap(call) -> None:
    assert kind_of(call) == "too_large"


def test_decode_frames_past_the_last_frame_is_a_decode_error() -> None:
    assert kind_of(lambda: decode_frames(segment(), [0, 7], 96 * 64)) == "decode_error"


TENTHS = [i / 10 for i in range(10)]  # ten frames 0.1 s apart


@pytest.mark.parametrize(
    ("times", "frames", "spacing_s", "picked"),
    [
        # fewer frames than asked: all of them
        (TENTHS[:2], 3, 1.0, [0, 1]),
        # spacing 0 (or below the frame period): the newest consecutive frames
        (TENTHS, 3, 0.0, [7, 8, 9]),
        (TENTHS, 3, 0.05, [7, 8, 9]),
        # the frames span the spacing: the newest and the ones spacing_s before it
        (TENTHS, 3, 0.3, [3, 6, 9]),
        (TENTHS, 2, 0.9, [0, 9]),
        # they do not span it: consecutive, not spread
        (TENTHS, 3, 0.5, [7, 8, 9]),
        # uneven timestamps: the frame nearest each mark
        ([0.0, 0.1, 0.45, 0.5, 0.6, 1.0], 3, 0.45, [1, 4, 5]),
    ],
)
def test_pick(times: list[float], frames: int, spacing_s: float, picked: list[int]) -> None:
    assert pick(times, frames, spacing_s) == picked


@pytest.mark.parametrize(
    ("before", "after", "chained"),
    [
        # the stream's own clock goes on across segments: kept (a gap too)
        ([10.0, 10.5], [11.0, 11.5], [11.0, 11.5]),
        ([10.0, 10.5], [12.0, 12.5], [12.0, 12.5]),
        # each segment starts at 0: one frame period after the one before ends
        ([0.0, 0.25, 0.5], [0.0, 0.25], [0.75, 1.0]),
        # a one-frame segment before: the later segment's own period
        ([0.0], [0.0, 0.2], [0.2, 0.4]),
    ],
)
def test_segments_chain_on_one_clock(
    before: list[float], after: list[float], chained: list[float]
) -> None:
    _chain(before, after)
    assert after == pytest.approx(chained)
