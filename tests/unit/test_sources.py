"""Source dispatch and the address checks that keep camera URLs from reaching inside."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from shared.adapters.frame_sources import FileSource, FrameFetcher, GcsSource, VideoSource
from shared.adapters.http_snapshot import HttpSnapshotSource, check_host
from shared.domain.frames import RawFrame
from shared.errors import ForbiddenSourceError, FrameError, FrameUnreachableError
from shared.settings import ASSETS


class FakeBlobs:
    def __init__(self) -> None:
        self.objects = {("bkt", "a/b.jpg"): b"\xff\xd8\xffjpeg"}

    def read(self, bucket: str, name: str, max_bytes: int) -> bytes:
        try:
            return self.objects[(bucket, name)]
        except KeyError:
            raise FrameUnreachableError(f"no object gs://{bucket}/{name}") from None


def fetcher(
    allow_private: bool = False, allow_files: bool = True, file_bytes: int = 10**6
) -> FrameFetcher:
    return FrameFetcher(
        HttpSnapshotSource(0.5, 0.5, 1024, allow_private),
        GcsSource(FakeBlobs(), 1024),
        VideoSource(1.0),
        FileSource(file_bytes),
        allow_files,
    )


@pytest.mark.parametrize(
    ("host", "allow_private", "error"),
    [
        ("169.254.169.254", True, ForbiddenSourceError),  # metadata server, never
        ("0.0.0.0", True, ForbiddenSourceError),  # unspecified
        ("224.0.0.1", True, ForbiddenSourceError),  # multicast
        ("127.0.0.1", False, ForbiddenSourceError),  # loopback without the opt-in
        ("10.1.2.3", False, ForbiddenSourceError),  # private without the opt-in
        ("no-such-host.invalid", True, FrameUnreachableError),  # DNS failure
    ],
)
def test_forbidden_hosts(host: str, allow_private: bool, error: type[Exception]) -> None:
    with pytest.raises(error):
        check_host(host, 80, allow_private)


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",  # loopback: a camera server on this machine (the local stack)
        "10.1.2.3",  # a private range: a camera on the site's own network
    ],
)
def test_private_hosts_with_opt_in(host: str) -> None:
    # With the opt-in the checked address is the one to connect to (pinned against rebinding).
    assert check_host(host, 80, allow_private=True) == host
    with pytest.raises(ForbiddenSourceError, match=rf"private address {re.escape(host)} "):
        check_host(host, 80, allow_private=False)


@pytest.mark.parametrize(
    ("source", "match"),
    [
        ("ftp://example.org/cam.jpg", "unsupported camera source scheme 'ftp'"),
        ("http://user:pw@127.0.0.1/cam.jpg", "credentials"),
        ("http://169.254.169.254/computeMetadata/v1/", "forbidden address"),
        ("gs:///no-bucket", "not a gs://bucket/object"),
    ],
)
def test_hostile_sources_are_refused(source: str, match: str) -> None:
    with pytest.raises(ForbiddenSourceError, match=match):
        fetcher(allow_private=True).fetch(source)


def test_file_sources_can_be_disabled() -> None:
    path = str(ASSETS / "images" / "car1.jpg")
    assert fetcher().fetch(path).data == (ASSETS / "images" / "car1.jpg").read_bytes()
    with pytest.raises(ForbiddenSourceError, match="disabled"):
        fetcher(allow_files=False).fetch(path)


def test_missing_file_and_object_are_unreachable() -> None:
    with pytest.raises(FrameUnreachableError, match="cannot read"):
        fetcher().fetch("/nonexistent/cam.jpg")
    with pytest.raises(FrameUnreachableError, match="no object"):
        fetcher().fetch("gs://bkt/missing.jpg")
    assert fetcher().fetch("gs://bkt/a/b.jpg") == RawFrame("gs", data=b"\xff\xd8\xffjpeg")


def test_video_file_gives_a_decoded_frame() -> None:
    raw = fetcher().fetch(str(ASSETS / "video" / "vtest_clip.avi"))
    assert raw.source_kind == "video"
    assert raw.image is not None
    assert raw.image.shape == (576, 768, 3)
    with pytest.raises(FrameUnreachableError, match="No such file"):
        fetcher().fetch("/nonexistent/clip.mp4")


LIMIT = 1024  # the file sources' byte limit in the table below


def sized(size: int) -> Callable[[Path], str]:
    """A regular file of ``size`` bytes (sparse: a 1 GiB one costs nothing)."""

    def make(tmp: Path) -> str:
        path = tmp / "cam.jpg"
        with path.open("wb") as file:
            file.truncate(size)
        return str(path)

    return make


def fifo(name: str) -> Callable[[Path], str]:
    """A FIFO nobody writes to: opening it for reading blocks for ever."""

    def make(tmp: Path) -> str:
        os.mkfifo(tmp / name)
        return str(tmp / name)

    return make


def link(name: str, target: str) -> Callable[[Path], str]:
    def make(tmp: Path) -> str:
        (tmp / name).symlink_to(target)
        return str(tmp / name)

    return make


def folder(name: str) -> Callable[[Path], str]:
    def make(tmp: Path) -> str:
        (tmp / name).mkdir()
        return str(tmp / name)

    return make


CAR = str(ASSETS / "images" / "car1.jpg")
CLIP = str(ASSETS / "video" / "vtest_clip.avi")


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("make", "outcome"),
    [
        pytest.param(sized(LIMIT), "ok", id="at-the-limit"),
        pytest.param(sized(LIMIT + 1), "too_large", id="over-the-limit"),
        pytest.param(sized(1 << 30), "too_large", id="1-GiB"),  # refused without reading it
        pytest.param(lambda tmp: "file://" + sized(LIMIT + 1)(tmp), "too_large", id="file-url"),
        pytest.param(lambda tmp: "/dev/zero", "forbidden_source", id="dev-zero"),
        pytest.param(lambda tmp: "file:///dev/zero", "forbidden_source", id="dev-zero-url"),
        pytest.param(fifo("cam.jpg"), "forbidden_source", id="fifo"),
        pytest.param(folder("cam.jpg"), "forbidden_source", id="directory"),
        pytest.param(link("cam.jpg", "/dev/zero"), "forbidden_source", id="symlink-to-dev-zero"),
        pytest.param(link("cam.jpg", "/nonexistent"), "unreachable", id="dangling-symlink"),
        pytest.param(lambda tmp: str(tmp / "missing.jpg"), "unreachable", id="missing"),
        # Video files: the same check, before OpenCV opens anything.
        pytest.param(fifo("clip.mp4"), "forbidden_source", id="video-fifo"),
        pytest.param(link("clip.avi", "/dev/zero"), "forbidden_source", id="video-dev-zero"),
        pytest.param(folder("clip.mkv"), "forbidden_source", id="video-directory"),
        pytest.param(lambda tmp: str(tmp / "missing.mp4"), "unreachable", id="video-missing"),
        pytest.param(link("clip.avi", CLIP), "ok", id="video-symlink-to-a-clip"),
    ],
)
def test_file_sources_read_only_regular_files_within_the_limit(
    tmp_path: Path, make: Callable[[Path], str], outcome: str
) -> None:
    source = make(tmp_path)
    try:
        raw = fetcher(file_bytes=LIMIT).fetch(source)
        assert raw.data is not None or raw.image is not None
        result = "ok"
    except FrameError as exc:
        result = exc.kind
    assert result == outcome


@pytest.mark.timeout(10)
@pytest.mark.parametrize("source", ["/dev/zero", CAR, CLIP, "file:///dev/zero"])
def test_disabled_file_sources_are_refused_before_any_check(source: str) -> None:
    with pytest.raises(ForbiddenSourceError, match="local file sources are disabled"):
        fetcher(allow_files=False).fetch(source)
