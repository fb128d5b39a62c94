"""HLS bursts against scripted cameras: frames of the newest segments under the one deadline,
byte limits and address checks of a single HLS frame, and what a failing segment leaves."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pytest

from shared.adapters.bursts import BurstFrame
from shared.adapters.http_snapshot import HttpSnapshotSource
from shared.devstack.streams import encode_segment, media_playlist
from shared.errors import FrameError
from tests.integration.scripted_camera import Peer, ScriptedCamera
from tests.integration.test_hostile_cameras import (
    BOUND_S,
    CONNECT_S,
    LIMIT,
    QUICK_S,
    READ_S,
    network,  # noqa: F401 - the stub resolver and the 127.0.0.1 guard, for every test here
)
from tests.integration.test_hostile_streams import (
    PLAYLIST,
    SEGMENT_LIMIT,
    Route,
    body,
    routes,
)

pytestmark = pytest.mark.integration

FPS = 4  # 0.25 s a frame


def segment(first: int, count: int = 4) -> bytes:
    """``count`` frames of grey levels ``first``, ``first + 1``, ... (times 20), from pts 0."""
    levels = [np.full((48, 64, 3), 20 * (first + i), np.uint8) for i in range(count)]
    return encode_segment(levels, fps=FPS)


OLD, MIDDLE, NEW = segment(0), segment(4), segment(8)


def camera_of(
    cameras: Callable[..., ScriptedCamera], uris: list[str], **segments: Route
) -> ScriptedCamera:
    """A camera whose playlist lists ``uris`` (``{port}``: its port); the three segments unless
    replaced by ``segments`` (by name, without ``.ts``)."""
    table: dict[str, Route] = {
        f"/{name}.ts": body(data, "video/mp2t")
        for name, data in (("old", OLD), ("middle", MIDDLE), ("new", NEW))
    }
    table.update({f"/{name}.ts": route for name, route in segments.items()})

    def playlist(peer: Peer) -> bytes:
        listed = [uri.format(port=peer.port) for uri in uris]
        return body(media_playlist(listed), PLAYLIST)(peer)

    return cameras(routes({"/live.m3u8": playlist, **table}))


def burst(camera: ScriptedCamera, frames: int, spacing_s: float = 0.0) -> list[BurstFrame]:
    source = HttpSnapshotSource(
        CONNECT_S, READ_S, LIMIT, True, max_segment_bytes=SEGMENT_LIMIT, max_pixels=100_000
    )
    return source.fetch_parts(camera.url("/live.m3u8"), frames, spacing_s)


def levels(taken: list[BurstFrame]) -> list[int]:
    """Each frame's grey level, divided by 20: which clip frame it is."""
    return [round(float(t.raw.image.mean()) / 20) for t in taken if t.raw.image is not None]


THREE = ["old.ts", "middle.ts", "new.ts"]


def test_a_burst_reads_the_newest_segment_frames_at_the_stream_pace(scripted_cameras) -> None:
    camera = camera_of(scripted_cameras, THREE)
    taken = burst(camera, 3)
    assert [t.raw.source_kind for t in taken] == ["hls"] * 3
    assert levels(taken) == [9, 10, 11]  # the newest segment's last three, in order
    assert [t.offset_s for t in taken] == [0.0, 0.25, 0.5]  # its timestamps, 4 a second
    assert camera.requests == ["/live.m3u8", "/new.ts"]  # one segment was enough


def test_a_burst_longer_than_the_newest_segment_goes_on_into_the_earlier_ones(
    scripted_cameras,
) -> None:
    camera = camera_of(scripted_cameras, THREE)
    taken = burst(camera, 6)
    assert levels(taken) == [6, 7, 8, 9, 10, 11]  # the middle segment's tail, then the newest
    # each segment's timestamps start at 0: chained one frame period apart
    assert [t.offset_s for t in taken] == [0.0, 0.25, 0.5, 0.75, 1.0, 1.25]
    assert camera.requests == ["/live.m3u8", "/new.ts", "/middle.ts"]  # old.ts not needed


def test_a_burst_spaces_its_frames_in_stream_time(scripted_cameras) -> None:
    taken = burst(camera_of(scripted_cameras, THREE), 2, spacing_s=0.5)
    assert levels(taken) == [9, 11]  # the newest frame and the one 0.5 s before it
    assert [t.offset_s for t in taken] == [0.0, 0.5]


def slow(peer: Peer) -> bytes:
    """The newest segment within the read timeout, yet most of the way to the deadline."""
    peer.server.stopping.wait(READ_S * 0.8)
    return body(NEW, "video/mp2t")(peer)


def stalled(peer: Peer) -> bytes:
    """A segment that answers long after any deadline (or when the camera stops)."""
    peer.server.stopping.wait(BOUND_S * 4)
    return body(NEW, "video/mp2t")(peer)


@pytest.mark.parametrize(
    ("segments", "outcome", "within_s"),
    [
        # the newest segment over CAMWATCH_MAX_SEGMENT_BYTES: refused as a single frame is
        ({"new": body(bytes(SEGMENT_LIMIT + 1), "video/mp2t")}, "too_large", QUICK_S),
        # the newest segment stalls past the one deadline
        ({"new": stalled}, "timeout", BOUND_S),
    ],
    ids=["newest-too-large", "newest-stalled"],
)
def test_a_burst_whose_newest_segment_fails_is_that_error(
    scripted_cameras, segments: dict[str, Route], outcome: str, within_s: float
) -> None:
    camera = camera_of(scripted_cameras, THREE, **segments)
    start = time.monotonic()
    with pytest.raises(FrameError) as caught:
        burst(camera, 6)
    assert caught.value.kind == outcome, caught.value.message
    assert time.monotonic() - start <= within_s


def test_a_segment_url_at_a_refused_address_is_never_fetched(scripted_cameras) -> None:
    camera = camera_of(scripted_cameras, ["old.ts", "http://metadata.test/seg.ts"])
    with pytest.raises(FrameError) as caught:
        burst(camera, 3)
    assert caught.value.kind == "forbidden_source"
    assert "169.254.169.254" in caught.value.message


@pytest.mark.parametrize(
    ("uris", "segments"),
    [
        # an earlier segment listed at the metadata server: refused, not fetched
        (["http://metadata.test/seg.ts", "new.ts"], {}),
        # an earlier segment over the byte limit
        (THREE, {"middle": body(bytes(SEGMENT_LIMIT + 1), "video/mp2t")}),
        # an earlier segment that is not video
        (THREE, {"middle": body(b"<html>gone</html>" * 50, "video/mp2t")}),
        # each segment within the read timeout, the earlier one past the one deadline
        (THREE, {"new": slow, "middle": slow}),
        # an earlier segment that stalls
        (THREE, {"middle": stalled}),
    ],
    ids=[
        "earlier-forbidden",
        "earlier-too-large",
        "earlier-not-video",
        "earlier-past-deadline",
        "earlier-stalled",
    ],
)
def test_a_failing_earlier_segment_keeps_the_newest_frames(
    scripted_cameras, uris: list[str], segments: dict[str, Route]
) -> None:
    camera = camera_of(scripted_cameras, uris, **segments)
    start = time.monotonic()
    taken = burst(camera, 6)
    assert time.monotonic() - start <= BOUND_S
    assert levels(taken) == [8, 9, 10, 11]  # the newest segment's four frames, the rest lost
    assert [t.offset_s for t in taken] == [0.0, 0.25, 0.5, 0.75]
