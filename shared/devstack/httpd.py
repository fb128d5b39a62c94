"""The base of the local stack's own HTTP servers (camera server, webhook receiver)."""

from __future__ import annotations

import socket
from http.server import BaseHTTPRequestHandler


class QuietHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive, no Nagle stall, no access log; ``send_body`` answers."""

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without this, Nagle + delayed ACK
        # stall every keep-alive response by 40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return  # quiet: the functions log what matters

    def send_body(self, status: int, body: bytes, ctype: str) -> None:
        """One complete answer."""
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
