"""A local camera server: JPEG snapshots over HTTP, like public city cameras, plus faults.

Routes:
  ``/snapshot/<image>.jpg``   one of the vendored street images, the same bytes every time
  ``/clip/<camera>.jpg``      successive frames of the vendored clip (a counter per path)
  ``/not-image``              an HTML maintenance page (200, text/html)
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

from shared.devstack.httpd import BackgroundServer, QuietHandler
from shared.settings import ASSETS

IMAGES = ASSETS / "images"
CLIP = ASSETS / "video" / "vtest_clip.avi"


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


class CameraServer(BackgroundServer):
    """The camera server; ``start()`` runs it in a daemon thread."""

    def __init__(self, port: int = 0) -> None:
        self.clip = load_clip()
        self.snapshots = {p.name: p.read_bytes() for p in IMAGES.glob("*.jpg")}
        self._counters: defaultdict[str, int] = defaultdict(int)
        self._lock = threading.Lock()
        self.requests = 0
        super().__init__(_handler_for(self), port)
        self.url = f"http://127.0.0.1:{self.port}"

    def next_clip_frame(self, key: str) -> bytes:
        """The next frame for this path (each camera has its own position)."""
        with self._lock:
            index = self._counters[key]
            self._counters[key] += 1
            self.requests += 1
        return self.clip[index % len(self.clip)]


def _handler_for(server: CameraServer) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            url = urlsplit(self.path)
            path = url.path
            if path.startswith("/snapshot/") and (img := server.snapshots.get(path[10:])):
                self.send_body(200, img, "image/jpeg")
            elif path.startswith("/clip/") and path.endswith(".jpg"):
                self.send_body(200, server.next_clip_frame(path), "image/jpeg")
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
