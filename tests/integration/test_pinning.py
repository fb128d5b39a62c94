"""DNS rebinding: the camera host is resolved once, checked, and connected to as checked.

A name that resolves to an allowed address for the check and to the metadata server
afterwards (a rebinding attack) must still be fetched from the checked address, over HTTP and
over HTTPS, where SNI and the certificate check keep the camera's own name.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from shared.adapters.http_snapshot import HttpSnapshotSource
from shared.devstack.stack import LocalStack
from shared.errors import FrameUnreachableError
from tests.conftest import jpeg
from tests.integration.scripted_camera import self_signed

pytestmark = pytest.mark.integration
REAL_GETADDRINFO = socket.getaddrinfo


@pytest.fixture
def rebinding(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``camera.test``: 127.0.0.1 on the first lookup, the metadata server on every later one."""
    lookups: list[str] = []

    def fake(host: str, port: object, *args: object, **kwargs: object) -> list[tuple[Any, ...]]:
        if host != "camera.test":
            return REAL_GETADDRINFO(host, port, *args, **kwargs)  # type: ignore[arg-type]
        lookups.append(host)
        address = "127.0.0.1" if len(lookups) == 1 else "169.254.169.254"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(str(port))))]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return lookups


def test_http_fetch_connects_to_the_checked_address(local_stack: LocalStack, rebinding) -> None:
    assert local_stack.camera_server is not None
    port = local_stack.camera_server.port
    source = HttpSnapshotSource(1, 2, 10**7, allow_private=True)
    raw = source.fetch(f"http://camera.test:{port}/snapshot/car1.jpg")
    assert raw.data == jpeg("car1.jpg")
    assert rebinding == ["camera.test"]  # one lookup: the one that was checked


@dataclass(frozen=True)
class TlsCamera:
    """An HTTPS camera on 127.0.0.1: its port, and the CA file that signed its certificate."""

    port: int
    ca: Path


@pytest.fixture
def tls_camera(tmp_path: Path) -> Iterator[TlsCamera]:
    """An HTTPS camera with a certificate for camera.test, signed by a throw-away CA."""
    context, cert_path = self_signed(tmp_path, "camera.test")
    body = jpeg("motion_original.jpg")

    class Snapshot(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return

        def do_GET(self) -> None:
            assert self.headers["Host"].startswith("camera.test")  # the camera's own name
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Snapshot)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield TlsCamera(int(server.server_address[1]), cert_path)
    server.shutdown()
    server.server_close()


def test_https_fetch_keeps_sni_and_the_certificate_check(
    tls_camera: TlsCamera, rebinding: list[str]
) -> None:
    port = tls_camera.port
    source = HttpSnapshotSource(1, 2, 10**7, allow_private=True, ca_bundle=str(tls_camera.ca))
    raw = source.fetch(f"https://camera.test:{port}/snapshot.jpg")
    assert raw.data == jpeg("motion_original.jpg")
    assert rebinding == ["camera.test"]
    # Without the CA the certificate does not verify: the check is on, not bypassed.
    rebinding.clear()  # a fresh lookup resolves to the camera again
    with pytest.raises(
        FrameUnreachableError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify"
    ):
        HttpSnapshotSource(1, 2, 10**7, allow_private=True).fetch(
            f"https://camera.test:{port}/snapshot.jpg"
        )
