"""Bursts: the polling schedule and budget, consecutive video frames, failures within a burst,
and a bursting camera through the processor (one batch, tracks frame by frame, one row)."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from shared.adapters.bursts import BURST_BUDGET_S, poll
from shared.adapters.frame_sources import FileSource, FrameFetcher, GcsSource, VideoSource
from shared.adapters.http_snapshot import HttpSnapshotSource
from shared.detection.remote import _Remote
from shared.devstack.camera_server import CameraServer
from shared.domain.frames import RawFrame
from shared.errors import FrameError, FrameTimeoutError, FrameUnreachableError, ModelError
from shared.service_layer.idempotency import tracks_key
from tests.unit import fakes
from tests.unit.fakes import FakeClock, Rig, registry_of
from tests.unit.test_remote_detectors import IMAGE, PREDICTION, Scripted
from tests.unit.test_sources import CLIP, FakeBlobs, fetcher

ROOT = Path(__file__).resolve().parents[2]
SOURCE = "http://a/1.jpg"


def shade(value: int) -> bytes:
    """A small JPEG of one grey level: a different frame per value."""
    return cv2.imencode(".jpg", np.full((60, 80, 3), value, np.uint8))[1].tobytes()


def script(*items: bytes | FrameError):
    """A fetch that gives ``items`` in order (an error is raised)."""
    queue = list(items)

    def fetch() -> RawFrame:
        item = queue.pop(0)
        if isinstance(item, FrameError):
            raise item
        return RawFrame("http", data=item)

    return fetch


def test_polls_are_spaced_from_the_first() -> None:
    clock = FakeClock()
    taken = poll(script(b"1", b"2", b"3"), 3, 4.0, 5.0, 60.0, clock.now, clock.sleep)
    assert [t.raw.data for t in taken] == [b"1", b"2", b"3"]
    assert [t.offset_s for t in taken] == [0.0, 4.0, 8.0]
    assert clock.sleeps == [4.0, 4.0]


def test_polling_spacing_in_real_time() -> None:
    start = time.monotonic()
    taken = fetcher().fetch_burst(str(ROOT / "shared/assets/images/car1.jpg"), 3, 0.05)
    elapsed = time.monotonic() - start
    assert len(taken) == 3
    assert all(t.raw.source_kind == "file" for t in taken)
    assert 0.1 <= elapsed < 1.0
    assert taken[2].offset_s >= 0.1


def test_a_failed_frame_is_dropped_and_the_burst_goes_on() -> None:
    clock = FakeClock()
    lost = FrameTimeoutError("camera silent")
    taken = poll(script(b"1", lost, b"3"), 3, 1.0, 5.0, 60.0, clock.now, clock.sleep)
    assert [(t.raw.data, t.offset_s) for t in taken] == [(b"1", 0.0), (b"3", 2.0)]


def test_a_burst_with_no_frame_fails_with_the_first_error() -> None:
    first, second = FrameTimeoutError("first"), FrameUnreachableError("second")
    clock = FakeClock()
    with pytest.raises(FrameTimeoutError, match="first"):
        poll(script(first, second), 2, 1.0, 5.0, 60.0, clock.now, clock.sleep)


def test_the_budget_cuts_a_burst_short() -> None:
    # 10 frames 30 s apart with a 10 s deadline: frames at 0 and 30 s fit a 60 s budget (30 + 10
    # <= 60), the third (60 + 10) would not.
    clock = FakeClock()
    taken = poll(script(*[b"x"] * 10), 10, 30.0, 10.0, 60.0, clock.now, clock.sleep)
    assert [t.offset_s for t in taken] == [0.0, 30.0]


def test_the_budget_leaves_half_the_camera_job_ack_deadline() -> None:
    topology = json.loads((ROOT / "schemas/pubsub/topology.json").read_text())
    text = json.dumps(topology)
    assert '"camera-jobs"' in text
    jobs = next(
        s for s in _walk(topology) if isinstance(s, dict) and s.get("topic") == "camera-jobs"
    )
    assert jobs["ack_deadline_s"] / 2 >= BURST_BUDGET_S


def _walk(node):
    yield node
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
    for child in children:
        yield from _walk(child)


def test_a_video_burst_reads_consecutive_frames() -> None:
    taken = fetcher().fetch_burst(CLIP, 3, 4.0)  # the spacing is for polled sources only
    assert [t.raw.source_kind for t in taken] == ["video"] * 3
    images = [t.raw.image for t in taken if t.raw.image is not None]
    assert len(images) == 3
    assert not np.array_equal(images[0], images[1])
    assert not np.array_equal(images[1], images[2])
    assert 0 < taken[1].offset_s < 1.0  # one frame period apart, not the spacing
    assert taken[0].offset_s == 0.0


def test_one_frame_burst_is_a_fetch() -> None:
    [only] = fetcher().fetch_burst(CLIP, 1, 0.0)
    assert only.raw.image is not None
    assert only.offset_s == 0.0


def bursting(frames: list[bytes | FrameError], count: int = 3) -> Rig:
    camera = {"id": "cam-a", "source": SOURCE, "burst": {"frames": count, "spacing_s": 1}}
    return fakes.rig(registry_of(camera), {SOURCE: frames})


def test_a_bursting_camera_is_detected_in_one_batch_with_one_row() -> None:
    rig = bursting([shade(40), shade(120), shade(200)])
    answer = rig.processor.process("cam-a").as_answer()
    assert rig.frames.bursts == [(SOURCE, 3, 1.0)]
    assert rig.detector.batches == [3]
    assert rig.detector.calls == 1
    assert answer["burst_frames"] == 3
    assert len(rig.warehouse.rows["observations"]) == 1
    row = rig.warehouse.rows["observations"][0]
    assert row["frame_hash"] == answer["frame"]["hash"]  # the last frame's


def test_a_stationary_vehicle_over_a_burst_is_stationary_after_it() -> None:
    rig = bursting([shade(40), shade(120), shade(200)])
    answer = rig.processor.process("cam-a").as_answer()
    doc = json.loads(rig.cache.strings[tracks_key("cam-a")][0])
    assert doc["frame"] == answer["frame"]["hash"]
    assert [d["track_id"] for d in answer["detections"]] == ["t1", "t2"]  # one track each
    for track in doc["tracks"]:
        # stationary since the first frame (in place then), seen last at the third (2 s)
        assert track["last_seen_ms"] - track["stationary_since_ms"] == 2000


def test_failures_within_a_burst() -> None:
    rig = bursting([shade(40), FrameTimeoutError("late"), b"not an image", shade(200)], 4)
    answer = rig.processor.process("cam-a").as_answer()
    assert answer["burst_frames"] == 2  # the late frame was not fetched, the junk not decoded
    assert rig.detector.batches == [2]


def test_a_burst_with_every_frame_failing_is_the_first_error() -> None:
    rig = bursting([FrameTimeoutError("late"), FrameUnreachableError("gone")], 2)
    with pytest.raises(FrameTimeoutError):
        rig.processor.process("cam-a")
    [health] = rig.warehouse.rows["observations"]
    assert (health["frame_status"], health["error"]) == ("timeout", "late")


def test_a_cache_hit_of_the_last_frame_detects_nothing() -> None:
    rig = bursting([shade(40), shade(120), shade(200)])
    rig.processor.process("cam-a")
    again = rig.processor.process("cam-a").as_answer()
    assert again["cache"] == "hit"
    assert again["burst_frames"] == 1
    assert rig.detector.batches == [3]


def test_a_camera_without_a_burst_is_one_detect_call() -> None:
    rig = fakes.rig(registry_of({"id": "cam-a", "source": SOURCE}), {SOURCE: shade(40)})
    answer = rig.processor.process("cam-a").as_answer()
    assert answer["burst_frames"] == 1
    assert (rig.frames.bursts, rig.detector.batches, rig.detector.calls) == ([], [], 1)


def test_a_remote_detector_sends_a_burst_in_one_request() -> None:
    sent: list[int] = []

    class Counting(Scripted):
        def _send(self, instances):
            sent.append(len(instances))
            return super()._send(instances)

    remote = Counting([(200, [PREDICTION] * 3)])
    found = remote.detect_many([IMAGE] * 3, [b"\xff\xd8 a", None, b"\xff\xd8 c"])
    assert sent == [3]
    assert [f.class_name.tolist() for f in found] == [["car"]] * 3


def test_a_remote_answer_short_of_the_burst_is_a_model_error() -> None:
    remote: _Remote = Scripted([(200, [PREDICTION])])
    with pytest.raises(ModelError, match="1 of 2"):
        remote.detect_many([IMAGE, IMAGE])


def streams() -> FrameFetcher:
    """A fetcher for the demo camera server: private addresses, frame-sized limits."""
    return FrameFetcher(
        HttpSnapshotSource(2.0, 2.0, 10**6, True),
        GcsSource(FakeBlobs(), 1024),
        VideoSource(1.0),
        FileSource(10**6),
        True,
        deadline_s=4.0,
    )


@pytest.fixture(scope="module")
def cameras() -> Iterator[CameraServer]:
    """The demo camera server on 127.0.0.1 (clip, MJPEG and HLS)."""
    server = CameraServer().start()
    yield server
    server.stop()


def test_a_snapshot_burst_polls_successive_clip_frames(cameras: CameraServer) -> None:
    taken = streams().fetch_burst(f"{cameras.url}/clip/burst.jpg", 3, 0.1)
    assert [t.raw.source_kind for t in taken] == ["http"] * 3
    assert len({t.raw.data for t in taken}) == 3  # the clip moved on between polls
    assert taken[2].offset_s >= 0.2


def test_an_mjpeg_burst_reads_consecutive_parts_of_one_connection(cameras: CameraServer) -> None:
    taken = streams().fetch_burst(f"{cameras.url}/mjpeg/burst", 3, 4.0)
    assert [t.raw.source_kind for t in taken] == ["mjpeg"] * 3
    assert len({t.raw.data for t in taken}) == 3
    assert taken[2].offset_s < 2.0  # the stream's pace (10 a second), not the 4 s spacing


def test_an_hls_burst_reads_consecutive_frames_of_the_newest_segment(
    cameras: CameraServer,
) -> None:
    taken = streams().fetch_burst(f"{cameras.url}/hls/burst.m3u8", 3, 4.0)
    assert [t.raw.source_kind for t in taken] == ["hls"] * 3
    images = [t.raw.image for t in taken if t.raw.image is not None]
    assert all(not np.array_equal(a, b) for a, b in itertools.pairwise(images))
    # consecutive frames at the segment's 10 a second, not polls 4 s apart
    assert [t.offset_s for t in taken] == [0.0, 0.1, 0.2]


def test_an_hls_burst_longer_than_a_segment_goes_on_into_the_one_before(
    cameras: CameraServer,
) -> None:
    taken = streams().fetch_burst(f"{cameras.url}/hls/long.m3u8", 10, 0.0)
    # 8 frames a segment: the last 2 of the one before, then the newest 8, one stream
    assert [t.offset_s for t in taken] == [round(i / 10, 3) for i in range(10)]
    images = [t.raw.image for t in taken if t.raw.image is not None]
    assert len(images) == 10
    assert not np.array_equal(images[1], images[2])  # across the segment boundary


def test_an_hls_burst_spaces_its_frames_in_stream_time(cameras: CameraServer) -> None:
    cameras.hls_segments()  # encoded before the clock starts
    start = time.monotonic()
    taken = streams().fetch_burst(f"{cameras.url}/hls/spaced.m3u8", 2, 0.7)
    assert time.monotonic() - start < 0.5  # read from one segment, not polled 0.7 s apart
    assert [t.offset_s for t in taken] == [0.0, 0.7]  # its first and last frames


def test_a_snapshot_burst_survives_a_failed_first_poll() -> None:
    # nothing listens on port 9: every poll fails, and the first error is the burst's
    with pytest.raises(FrameUnreachableError):
        streams().fetch_burst("http://127.0.0.1:9/x.jpg", 2, 0.01)


def test_a_video_burst_near_the_end_of_the_file_still_has_every_frame(monkeypatch) -> None:
    capture = cv2.VideoCapture(CLIP)
    count, fps = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    last = (count - 1) / fps  # "now" plays the clip's last frame
    monkeypatch.setattr("shared.adapters.frame_sources.time.time", lambda: last)
    taken = fetcher().fetch_burst(CLIP, 3, 0.0)
    assert len(taken) == 3
