"""Hostile stream cameras: MJPEG (``multipart/x-mixed-replace``) and HLS, and their outcomes.

The same corpus style, deadline and stub resolver as ``test_hostile_cameras``: scripted
sockets on 127.0.0.1, each case with its outcome and a bound on its time. A stream fetch ends
once its frame is read, however long the camera would go on sending.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

from shared.adapters.http_snapshot import HttpSnapshotSource
from shared.devstack.streams import encode_segment, master_playlist, media_playlist, mjpeg_part
from tests.integration.scripted_camera import (
    Peer,
    Script,
    ScriptedCamera,
    check_fetch,
)
from tests.integration.test_hostile_cameras import (
    BOUND_S,
    CONNECT_S,
    DEADLINE,
    GAP_S,
    JPEG,
    LIMIT,
    PUBLIC_CAMERA,
    QUICK_S,
    READ_S,
    answer,
    network,  # noqa: F401 - the stub resolver and the 127.0.0.1 guard, for every test here
)

pytestmark = pytest.mark.integration

MULTIPART = "multipart/x-mixed-replace; boundary=camwatchframe"
SEGMENT = encode_segment([np.full((48, 64, 3), 30 * i, np.uint8) for i in range(5)])
SEGMENT_LIMIT = 100_000
PLAYLIST = "application/vnd.apple.mpegurl"


def mjpeg(length: bool = True) -> Script:
    """An endless MJPEG stream: the snapshot as a part, again and again."""

    def script(peer: Peer) -> None:
        peer.request()
        peer.send(answer(Content_Type=MULTIPART))
        peer.flood(mjpeg_part(JPEG, length=length))

    return script


def mjpeg_trickled(peer: Peer) -> None:
    peer.request()
    peer.send(answer(Content_Type=MULTIPART))
    peer.trickle(itertools.cycle(mjpeg_part(JPEG)), GAP_S)


def mjpeg_sending(head: bytes, then: bytes, content_type: str = MULTIPART) -> Script:
    """Send ``head`` once, then ``then`` for ever."""

    def script(peer: Peer) -> None:
        peer.request()
        peer.send(answer(Content_Type=content_type) + head)
        peer.flood(then)

    return script


def routes(table: dict[str, Callable[[Peer], bytes]], wait_s: float = 0.0) -> Script:
    """Answer each path with ``table[path](peer)`` after ``wait_s``; a missing path is a 404."""

    def script(peer: Peer) -> None:
        path = peer.request()
        peer.server.stopping.wait(wait_s)
        peer.send(table[path](peer) if path in table else answer("404 Not Found", b""))

    return script


def body(data: bytes, content_type: str) -> Callable[[Peer], bytes]:
    return lambda peer: answer(body=data, Content_Type=content_type, Content_Length=len(data))


def playlist_of(uri: str) -> Callable[[Peer], bytes]:
    """A media playlist whose live edge is ``uri`` (``{port}``: the camera's port)."""
    return lambda peer: body(media_playlist(["old.ts", uri.format(port=peer.port)]), PLAYLIST)(peer)


Route = Callable[[Peer], bytes]


def hls(
    segment_uri: str = "seg.ts", segment: bytes = SEGMENT, more: dict[str, Route] | None = None
) -> Script:
    return routes(
        {
            "/live.m3u8": playlist_of(segment_uri),
            "/seg.ts": body(segment, "video/mp2t"),
            **(more or {}),
        }
    )


def slow_segment(peer: Peer) -> bytes:
    peer.server.stopping.wait(READ_S * 0.8)  # inside the read timeout, past the deadline
    return answer(body=SEGMENT, Content_Type="video/mp2t", Content_Length=len(SEGMENT))


@dataclass(frozen=True)
class Case:
    """A stream camera's behaviour and its defined outcome."""

    script: Script
    outcome: str
    within_s: float = QUICK_S
    match: str = ""
    path: str = "/live.m3u8"
    host: str = "127.0.0.1"


OVER = bytes(SEGMENT_LIMIT + 1)
CASES = [
    # MJPEG: an endless stream gives its first part quickly, then the fetch closes it.
    pytest.param(Case(mjpeg(), "ok", path="/video"), id="mjpeg-endless"),
    pytest.param(Case(mjpeg(length=False), "ok", path="/video"), id="mjpeg-no-length"),
    pytest.param(Case(mjpeg(), "ok", path="/video", host=PUBLIC_CAMERA), id="mjpeg-public"),
    pytest.param(
        Case(mjpeg_trickled, "timeout", BOUND_S, DEADLINE, path="/video"), id="mjpeg-trickled"
    ),
    pytest.param(
        Case(mjpeg_sending(b"", b"\xff" * 65536), "too_large", path="/video"),
        id="mjpeg-garbage-before-boundary",
    ),
    pytest.param(
        Case(
            mjpeg_sending(b"--camwatchframe\r\n\r\n\xff\xd8", b"\xff" * 65536),
            "too_large",
            path="/video",
        ),
        id="mjpeg-endless-part",
    ),
    pytest.param(
        Case(
            mjpeg_sending(b"", mjpeg_part(JPEG), "multipart/x-mixed-replace"),
            "not_image",
            match="without a boundary",
            path="/video",
        ),
        id="mjpeg-no-boundary",
    ),
    # HLS: the playlist, then its newest segment, under the same deadline and checks.
    pytest.param(Case(hls(), "ok"), id="hls"),
    pytest.param(Case(hls(), "ok", host=PUBLIC_CAMERA), id="hls-public"),
    pytest.param(
        Case(
            hls(
                more={
                    "/master.m3u8": body(
                        master_playlist([("hi.m3u8", 9_000_000), ("lo/index.m3u8", 1)]), PLAYLIST
                    ),
                    "/lo/index.m3u8": playlist_of("seg.ts"),
                    "/lo/seg.ts": body(SEGMENT, "video/mp2t"),
                },
            ),
            "ok",
            path="/master.m3u8",
        ),
        id="hls-master",
    ),
    pytest.param(Case(hls("http://127.0.0.1:{port}/seg.ts"), "ok"), id="hls-absolute-segment-uri"),
    pytest.param(
        Case(hls("file:///etc/passwd"), "forbidden_source", match="not an http"),
        id="hls-segment-file-scheme",
    ),
    pytest.param(
        Case(hls("http://metadata.test/seg.ts"), "forbidden_source", match="169.254.169.254"),
        id="hls-segment-metadata-server",
    ),
    pytest.param(
        Case(
            hls("http://127.0.0.1:{port}/seg.ts"),
            "forbidden_source",
            match="private address",
            host=PUBLIC_CAMERA,
        ),
        id="hls-segment-loopback",
    ),
    pytest.param(Case(hls(segment=OVER), "too_large", match="announced"), id="hls-big-segment"),
    pytest.param(
        Case(hls(segment=b"<html>gone</html>" * 50), "decode_error"), id="hls-segment-not-video"
    ),
    pytest.param(
        Case(routes({"/live.m3u8": body(b"#EXTM3U\n" + bytes(2**20), PLAYLIST)}), "too_large"),
        id="hls-playlist-too-large",
    ),
    pytest.param(
        Case(routes({"/live.m3u8": body(b"<html>down</html>", "text/html")}), "not_image"),
        id="hls-not-a-playlist",
    ),
    pytest.param(
        Case(routes({"/live.m3u8": body(b"#EXTM3U\n", PLAYLIST)}), "unreachable"),
        id="hls-no-segment",
    ),
    pytest.param(
        Case(
            routes({"/live.m3u8": playlist_of("seg.ts"), "/seg.ts": slow_segment}, READ_S * 0.8),
            "timeout",
            BOUND_S,
            DEADLINE,
        ),
        id="hls-slow-playlist-and-segment",
    ),
]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("case", CASES)
def test_hostile_stream(case: Case, scripted_cameras: Callable[..., ScriptedCamera]) -> None:
    camera = scripted_cameras(case.script)
    source = HttpSnapshotSource(
        CONNECT_S,
        READ_S,
        LIMIT,
        allow_private=case.host != PUBLIC_CAMERA,
        max_segment_bytes=SEGMENT_LIMIT,
        max_pixels=100_000,
    )
    raw = check_fetch(case, camera.port, lambda: source.fetch(camera.url(case.path, case.host)))
    if raw is None:
        return
    if raw.source_kind == "mjpeg":
        assert (raw.data, raw.content_type) == (JPEG, "image/jpeg")
    else:
        assert raw.source_kind == "hls"
        assert raw.image is not None
        assert raw.image.shape == (48, 64, 3)


def test_an_endless_stream_is_closed_after_its_frame(
    scripted_cameras: Callable[..., ScriptedCamera],
) -> None:
    ended: list[float] = []

    def script(peer: Peer) -> None:
        try:
            mjpeg()(peer)
        finally:
            ended.append(time.monotonic())

    camera = scripted_cameras(script)
    source = HttpSnapshotSource(CONNECT_S, READ_S, LIMIT, allow_private=True)
    assert source.fetch(camera.url("/video")).data == JPEG
    fetched = time.monotonic()
    deadline = fetched + 2
    while not ended and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ended, "the camera was still streaming after the fetch"
    assert ended[0] - fetched < 1.0
    assert len(camera.requests) == 1
