"""The frame source port, its adapters (one per kind of camera source) and the dispatcher by
URL scheme.

* ``http(s)://`` JPEG snapshots, MJPEG streams and HLS playlists
  (:mod:`shared.adapters.http_snapshot`, told apart by the answer): one deadline, byte limits,
  redirects and segment URIs re-checked hop by hop, address checks.
* ``gs://bucket/object`` through google-cloud-storage (the emulator via STORAGE_EMULATOR_HOST).
* ``rtsp://`` streams and local video files through OpenCV (grab one frame, or consecutive
  frames for a burst).
* local image files, up to the byte limit.

Local files and videos must be regular files: a FIFO, a device (``/dev/zero``) or a directory
is refused before anything reads it, whatever symlink leads there.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import cv2
import numpy as np

from shared.adapters.blobstore import BlobReader
from shared.adapters.bursts import BurstFrame, poll
from shared.adapters.http_snapshot import HttpSnapshotSource
from shared.domain.frames import RawFrame
from shared.errors import (
    ForbiddenSourceError,
    FrameError,
    FrameTooLargeError,
    FrameUnreachableError,
)

VIDEO_SUFFIXES = {".avi", ".mp4", ".mkv", ".mov", ".webm", ".mjpeg", ".mjpg"}
FILE_KINDS = {
    stat.S_IFIFO: "FIFO",
    stat.S_IFCHR: "character device",
    stat.S_IFBLK: "block device",
    stat.S_IFDIR: "directory",
    stat.S_IFSOCK: "socket",
}


class FrameSource(Protocol):
    """Gets the current frame of a camera source (a URL, object or path)."""

    def fetch(self, source: str) -> RawFrame:
        """The current frame, or a :class:`shared.errors.FrameError` subclass."""
        ...

    def fetch_burst(self, source: str, frames: int, spacing_s: float) -> list[BurstFrame]:
        """A burst of frames in order (see :mod:`shared.adapters.bursts`); one: ``fetch``."""
        ...


def open_regular_file(path: str) -> int:
    """Open ``path`` for reading if it is a regular file (symlinks followed); its descriptor.

    A FIFO, device, directory or socket is refused (``ForbiddenSourceError``: a source kind we
    never read) and a missing or unreadable file is ``FrameUnreachableError``. The type is
    checked twice: ``stat`` before opening, so a device or FIFO is never even opened (opening a
    FIFO blocks until a writer comes; opening some devices has effects), and ``fstat`` on what
    was opened, with ``O_NONBLOCK`` so that a FIFO swapped in between cannot block the open.
    """
    try:
        _refuse_irregular(path, os.stat(path).st_mode)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except OSError as exc:
        raise FrameUnreachableError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        _refuse_irregular(path, os.fstat(fd).st_mode)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _refuse_irregular(path: str, mode: int) -> None:
    if not stat.S_ISREG(mode):
        kind = FILE_KINDS.get(stat.S_IFMT(mode), "special file")
        raise ForbiddenSourceError(f"{path} is a {kind}, not a regular file")


class FileSource:
    """A local image file: a regular file of at most ``max_bytes``."""

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes

    def fetch(self, source: str) -> RawFrame:
        """Read the file's bytes (at most the limit and one more, to know it is over)."""
        path = source.removeprefix("file://")
        with os.fdopen(open_regular_file(path), "rb") as file:
            if os.fstat(file.fileno()).st_size > self._max_bytes:
                raise FrameTooLargeError(f"{path} has over {self._max_bytes} bytes")
            try:
                data = file.read(self._max_bytes + 1)
            except OSError as exc:
                raise FrameUnreachableError(f"cannot read {path}: {exc.strerror or exc}") from exc
        if len(data) > self._max_bytes:
            raise FrameTooLargeError(f"{path} has over {self._max_bytes} bytes")
        return RawFrame("file", data=data)


class VideoSource:
    """One frame of an ``rtsp://`` stream, or of a video file as if it were live.

    A video file must be a regular file (:func:`open_regular_file`); it has no byte limit (a
    clip holds many frames, and OpenCV reads only what one frame needs). OpenCV opens the
    descriptor that was checked (``/proc/self/fd/N`` on Linux), so the path cannot be swapped
    for a FIFO or a device between the check and the open.
    """

    def __init__(self, timeout_s: float) -> None:
        self._timeout_ms = int(timeout_s * 1000)

    def fetch(self, source: str) -> RawFrame:
        """Open, grab one frame, release. A file plays at its own fps from the epoch."""
        return self.fetch_many(source, 1)[0].raw

    def fetch_many(self, source: str, frames: int) -> list[BurstFrame]:
        """Open, read ``frames`` consecutive frames, release; offsets at the stream's fps.

        A stream that ends early gives the frames it had (none: ``FrameUnreachableError``).
        """
        if source.startswith("rtsp://"):
            images, fps = self._grab(source, source, False, frames)
            return _timed("rtsp", images, fps)
        fd = open_regular_file(source)
        try:
            checked = f"/proc/self/fd/{fd}" if os.path.isdir("/proc/self/fd") else source
            images, fps = self._grab(checked, source, True, frames)
            return _timed("video", images, fps)
        finally:
            os.close(fd)

    def _grab(
        self, location: str, source: str, is_file: bool, frames: int
    ) -> tuple[list[np.ndarray], float]:
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, self._timeout_ms]
        params += [cv2.CAP_PROP_READ_TIMEOUT_MSEC, self._timeout_ms]
        capture = cv2.VideoCapture(location, cv2.CAP_FFMPEG, params)
        images: list[np.ndarray] = []
        try:
            if not capture.isOpened():
                raise FrameUnreachableError(f"cannot open video source {source}")
            fps = capture.get(cv2.CAP_PROP_FPS) or 1.0
            if is_file:
                count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
                if count > 0:  # a burst near the end starts early enough to fit
                    at = min(int(time.time() * fps) % count, max(0, count - frames))
                    capture.set(cv2.CAP_PROP_POS_FRAMES, at)
            for _ in range(frames):
                ok, image = capture.read()
                if not ok or image is None:
                    break
                images.append(np.ascontiguousarray(image))
        finally:
            capture.release()
        if not images:
            raise FrameUnreachableError(f"video source {source} gave no frame")
        return images, fps


def _timed(kind: str, images: list[np.ndarray], fps: float) -> list[BurstFrame]:
    return [BurstFrame(RawFrame(kind, image=im), round(i / fps, 3)) for i, im in enumerate(images)]


class GcsSource:
    """``gs://bucket/object`` snapshots (a camera gateway that uploads frames)."""

    def __init__(self, blobs: BlobReader, max_bytes: int) -> None:
        self._blobs = blobs
        self._max_bytes = max_bytes

    def fetch(self, source: str) -> RawFrame:
        """Download the object."""
        parts = urlsplit(source)
        if not parts.netloc or not parts.path.strip("/"):
            raise ForbiddenSourceError(f"not a gs://bucket/object URI: {source!r}")
        data = self._blobs.read(parts.netloc, parts.path.lstrip("/"), self._max_bytes)
        return RawFrame("gs", data=data)


class FrameFetcher:
    """Picks the adapter for a source by its scheme or file suffix."""

    def __init__(
        self,
        http: HttpSnapshotSource,
        gcs: GcsSource,
        video: VideoSource,
        files: FileSource,
        allow_files: bool,
        deadline_s: float = 10.0,
    ) -> None:
        self._http, self._gcs, self._video, self._files = http, gcs, video, files
        self._allow_files, self._deadline_s = allow_files, deadline_s

    def fetch_burst(self, source: str, frames: int, spacing_s: float) -> list[BurstFrame]:
        """``frames`` frames of ``source`` in order: consecutive ones of a video, RTSP, MJPEG or
        HLS stream, else polled ``spacing_s`` apart within the burst budget (``bursts.poll``)."""
        if self._is_video(source):
            path = source if source.startswith("rtsp://") else source.removeprefix("file://")
            return self._video.fetch_many(path, frames)
        first: list[RawFrame | FrameError] = []
        if urlsplit(source).scheme.lower() in ("http", "https"):
            try:
                head = self._http.fetch_parts(source, frames, spacing_s)
            except FrameError as exc:
                first.append(exc)
            else:
                if head[0].raw.source_kind in ("mjpeg", "hls"):  # consecutive stream frames
                    return head
                first.append(head[0].raw)  # the answer told a snapshot: poll the rest

        def fetch() -> RawFrame:
            if not first:
                return self.fetch(source)
            got = first.pop()
            if isinstance(got, FrameError):
                raise got
            return got

        return poll(fetch, frames, spacing_s, self._deadline_s)

    def _is_video(self, source: str) -> bool:
        scheme = urlsplit(source).scheme.lower()
        if scheme == "rtsp":
            return True
        path = source.removeprefix("file://")
        return scheme in ("", "file") and self._allow_files and _is_video_path(path)

    def fetch(self, source: str) -> RawFrame:
        """The current frame of ``source``."""
        scheme = urlsplit(source).scheme.lower()
        if scheme in ("http", "https"):
            return self._http.fetch(source)
        if scheme == "gs":
            return self._gcs.fetch(source)
        if scheme == "rtsp":
            return self._video.fetch(source)
        if scheme in ("", "file"):
            if not self._allow_files:
                raise ForbiddenSourceError("local file sources are disabled")
            path = source.removeprefix("file://")
            if _is_video_path(path):
                return self._video.fetch(path)
            return self._files.fetch(path)
        raise ForbiddenSourceError(f"unsupported camera source scheme {scheme!r}")


def _is_video_path(path: str) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES
