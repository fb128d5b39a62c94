"""The frame source port, its adapters (one per kind of camera source) and the dispatcher by
URL scheme.

* ``http(s)://`` JPEG snapshots (:mod:`shared.adapters.http_snapshot`): timeouts, a byte
  limit, redirects re-checked hop by hop, address checks.
* ``gs://bucket/object`` through google-cloud-storage (the emulator via STORAGE_EMULATOR_HOST).
* ``rtsp://`` streams and local video files through OpenCV (grab one frame).
* local image files.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import cv2
import numpy as np

from shared.adapters.blobstore import BlobReader
from shared.adapters.http_snapshot import HttpSnapshotSource
from shared.domain.frames import RawFrame
from shared.errors import (
    ForbiddenSourceError,
    FrameUnreachableError,
)

VIDEO_SUFFIXES = {".avi", ".mp4", ".mkv", ".mov", ".webm", ".mjpeg", ".mjpg"}


class FrameSource(Protocol):
    """Gets the current frame of a camera source (a URL, object or path)."""

    def fetch(self, source: str) -> RawFrame:
        """The current frame, or a :class:`shared.errors.FrameError` subclass."""
        ...


class FileSource:
    """A local image file."""

    def fetch(self, source: str) -> RawFrame:
        """Read the file's bytes."""
        path = Path(source.removeprefix("file://"))
        try:
            return RawFrame("file", data=path.read_bytes())
        except OSError as exc:
            raise FrameUnreachableError(f"cannot read {path}: {exc.strerror or exc}") from exc


class VideoSource:
    """One frame of an ``rtsp://`` stream, or of a video file as if it were live."""

    def __init__(self, timeout_s: float) -> None:
        self._timeout_ms = int(timeout_s * 1000)

    def fetch(self, source: str) -> RawFrame:
        """Open, grab one frame, release. A file plays at its own fps from the epoch."""
        is_file = not source.startswith("rtsp://")
        if is_file and not Path(source).is_file():
            raise FrameUnreachableError(f"video file not found: {source}")
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, self._timeout_ms]
        params += [cv2.CAP_PROP_READ_TIMEOUT_MSEC, self._timeout_ms]
        capture = cv2.VideoCapture(source, cv2.CAP_FFMPEG, params)
        try:
            if not capture.isOpened():
                raise FrameUnreachableError(f"cannot open video source {source}")
            if is_file:
                count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
                fps = capture.get(cv2.CAP_PROP_FPS) or 1.0
                if count > 0:
                    capture.set(cv2.CAP_PROP_POS_FRAMES, int(time.time() * fps) % count)
            ok, image = capture.read()
        finally:
            capture.release()
        if not ok or image is None:
            raise FrameUnreachableError(f"video source {source} gave no frame")
        return RawFrame("rtsp" if not is_file else "video", image=np.ascontiguousarray(image))


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
    ) -> None:
        self._http, self._gcs, self._video, self._files = http, gcs, video, files
        self._allow_files = allow_files

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
            if Path(path).suffix.lower() in VIDEO_SUFFIXES:
                return self._video.fetch(path)
            return self._files.fetch(path)
        raise ForbiddenSourceError(f"unsupported camera source scheme {scheme!r}")
