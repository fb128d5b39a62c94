"""A local camera server: JPEG snapshots over HTTP, like public city cameras, plus faults.

Routes:
  ``/snapshot/<image>.jpg``   one of the vendored street images, the same bytes every time
  ``/clip/<camera>.jpg``      successive frames of the vendored clip (a counter per path)
  ``/mjpeg/<camera>``         the clip as an endless MJPEG stream (``multipart/x-mixed-replace``)
  ``/hls/<camera>.m3u8``      a live HLS media playlist over the clip (the window moves per poll)
  ``/hls/seg<N>.ts``          its segments: MPEG-TS, encoded from the clip at the first request
  ``/not-image``              an HTML maintenance page (200, text/html); a JPEG once
                              ``maintenance_over`` is set (a camera that comes back)
  ``/corrupt.jpg``            JPEG magic followed by garbage
  ``/huge.jpg``               a chunked JPEG body larger than any sane limit (stops at 64 MiB)
  ``/slow.jpg``               sends the headers, then nothing for 30 s
  ``/redirect?to=URL``        302 to URL
  ``/status/<code>``          answers that HTTP status
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import cv2
import numpy as np
import numpy.typing as npt

from shared.devstack.httpd import BackgroundServer, QuietHandler
from shared.devstack.streams import BOUNDARY, encode_segment, media_playlist, mjpeg_part
from shared.settings import ASSETS

IMAGES = ASSETS / "images"
CLIP = ASSETS / "video" / "vtest_clip.avi"
SEGMENT_FRAMES = 8  # clip frames per HLS segment
PLAYLIST_WINDOW = 3  # segments a playlist lists
MJPEG_FPS = 10
MJPEG_SECONDS = 30  # an MJPEG client that never leaves is dropped after this


def load_clip(path: Path = CLIP) -> list[bytes]:
    """Every frame of the clip, JPEG-encoded once at start-up."""
    capture = cv2.VideoCapture(str(path))
    frames: list[bytes] = []
    try:
        while True:
            ok, image = capture.read()
            if not ok:
                break
            encoded_ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
            if encoded_ok:
                frames.append(buf.tobytes())
    finally:
        capture.release()
    if not frames:
        raise RuntimeError(f"no frames in {path}")
    return frames


def _image(jpeg: bytes) -> npt.NDArray[np.uint8]:
    """A JPEG of the clip, decoded again (to encode it as video)."""
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    return np.asarray(image, dtype=np.uint8)


class CameraServer(BackgroundServer):
    """The camera server; ``start()`` runs it in a daemon thread."""

    def __init__(self, port: int = 0) -> None:
        self.clip = load_clip()
        self.snapshots = {p.name: p.read_bytes() for p in IMAGES.glob("*.jpg")}
        self._counters: defaultdict[str, int] = defaultdict(int)
        self._lock = threading.Lock()
        self._segments: list[bytes] = []
        self.requests = 0
        # ``/not-image`` serves a frame once the maintenance is over (the demo's recovery).
        self.maintenance_over = False
        self.outages: set[str] = set()  # paths that answer 503 for now (a camera gone dark)
        super().__init__(_handler_for(self), port)
        self.url = f"http://127.0.0.1:{self.port}"

    def next_clip_frame(self, key: str) -> bytes:
        """The next frame for this path (each camera has its own position)."""
        with self._lock:
            index = self._counters[key]
            self._counters[key] += 1
            self.requests += 1
        return self.clip[index % len(self.clip)]

    def hls_segments(self) -> list[bytes]:
        """The clip as MPEG-TS segments (encoded once, at the first request: ~0.3 s)."""
        with self._lock:
            if not self._segments:
                images = [_image(jpeg) for jpeg in self.clip]
                self._segments = [
                    encode_segment(images[i : i + SEGMENT_FRAMES])
                    for i in range(0, len(images), SEGMENT_FRAMES)
                ]
            return self._segments

    def hls_playlist(self, key: str) -> bytes:
        """A live playlist whose window moves one segment per request (per path)."""
        count = len(self.hls_segments())
        with self._lock:
            first = self._counters[key]
            self._counters[key] += 1
            self.requests += 1
        names = [f"seg{(first + i) % count}.ts" for i in range(PLAYLIST_WINDOW)]
        return media_playlist(names, sequence=first)


def _handler_for(server: CameraServer) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            url = urlsplit(self.path)
            path = url.path
            if path in server.outages:
                self.send_body(503, b"camera offline", "text/plain")
            elif path.startswith("/snapshot/") and (img := server.snapshots.get(path[10:])):
                self.send_body(200, img, "image/jpeg")
            elif path.startswith("/clip/") and path.endswith(".jpg"):
                self.send_body(200, server.next_clip_frame(path), "image/jpeg")
            elif path.startswith("/mjpeg/"):
                self._stream_mjpeg(path)
            elif path.startswith("/hls/") and path.endswith(".m3u8"):
                self.send_body(200, server.hls_playlist(path), "application/vnd.apple.mpegurl")
            elif path.startswith("/hls/seg") and path.endswith(".ts") and path[8:-3].isdigit():
                segments = server.hls_segments()
                self.send_body(200, segments[int(path[8:-3]) % len(segments)], "video/mp2t")
            elif path == "/not-image" and server.maintenance_over:
                self.send_body(200, server.snapshots["car1.jpg"], "image/jpeg")
            elif path == "/not-image":
                self.send_body(
                    200, b"<html><body>Camera under maintenance</body></html>", "text/html"
                )
            elif path == "/corrupt.jpg":
                self.send_body(200, b"\xff\xd8\xff\xe0" + b"\x13\x37" * 2048, "image/jpeg")
            elif path == "/huge.jpg":
                self._stream_huge()
            elif path == "/slow.jpg":
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", "100000")
                self.end_headers()
                time.sleep(30)
            elif path == "/redirect":
                self.send_response(302)
                self.send_header("Location", parse_qs(url.query).get("to", ["/"])[0])
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif path.startswith("/status/") and path[8:].isdigit():
                self.send_body(int(path[8:]), b"{}", "application/json")
            else:
                self.send_body(404, b"not found", "text/plain")

        def _stream_mjpeg(self, path: str) -> None:
            self.close_connection = True  # the body ends when the connection does
            self.send_response(200)
            self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
            self.send_header("Connection", "close")
            self.end_headers()
            try:
                for _ in range(MJPEG_FPS * MJPEG_SECONDS):
                    self.wfile.write(mjpeg_part(server.next_clip_frame(path)))
                    time.sleep(1 / MJPEG_FPS)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client has its frame and left, as it should

        def _stream_huge(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"\xff\xd8\xff" + bytes(64 * 1024 - 3)
            try:
                for _ in range(1024):  # 64 MiB at most
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up, as it should

    return Handler
