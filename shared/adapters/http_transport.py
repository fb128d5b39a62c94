"""The transport under :class:`~shared.adapters.http_snapshot.HttpSnapshotSource`: requests go
only to addresses the SSRF check returned, over sockets a watchdog shuts down at the fetch's
deadline.

Hand-written because neither requests nor urllib3 has a total deadline: their timeouts bound
each connect and each wait for bytes, not their sum (urllib3's ``Timeout(total=...)`` too), so
a camera that sends a byte just inside the read timeout holds a request for ever. The
:class:`Watchdog` shuts the fetch's sockets down (``shutdown(SHUT_RDWR)``) when the deadline
passes, which wakes whatever waits on them: the TLS handshake, the status line, the headers or
the body. Everything else is urllib3's and requests' own code, reached through their extension
points: a connection's ``_new_conn``, a pool's ``ConnectionCls`` and
``HTTPAdapter.get_connection_with_tls_context``.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from shared.errors import ForbiddenSourceError


class Watchdog:
    """Shuts down every socket it watches once ``seconds`` have passed (a context manager)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._expires = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._watched: list[socket.socket] = []
        self._fired = self._stopped = False
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def __enter__(self) -> Watchdog:
        self._timer.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def fired(self) -> bool:
        """Whether the deadline has passed and the sockets were shut down."""
        return self._fired

    def remaining(self) -> float:
        """Seconds left before the deadline (0 once it has passed)."""
        return max(0.0, self._expires - time.monotonic())

    def watch(self, sock: socket.socket) -> None:
        """Shut ``sock`` down at the deadline, or at once if it has passed.

        A duplicate of its descriptor is kept, not the socket object: ``ssl`` detaches the
        object when it wraps it for the handshake, and the duplicate stays open until
        :meth:`stop`, so the watchdog never shuts down a descriptor number reused meanwhile.
        """
        duplicate = sock.dup()
        with self._lock:
            if self._stopped:
                duplicate.close()
                return
            self._watched.append(duplicate)
            if self._fired:
                _shutdown(duplicate)

    def _fire(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self._fired = True
            for sock in self._watched:
                _shutdown(sock)

    def stop(self) -> None:
        """Stop the timer and close the duplicates (the fetch is over)."""
        self._timer.cancel()
        with self._lock:
            self._stopped = True
            for sock in self._watched:
                sock.close()
            self._watched.clear()


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already disconnected: nothing left to wake
        sock.shutdown(socket.SHUT_RDWR)


class _WatchedHTTPConnection(HTTPConnection):
    """An HTTP connection whose socket is watched from the moment it connects."""

    def __init__(self, *args: Any, watchdog: Watchdog, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._watchdog = watchdog

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        self._watchdog.watch(sock)
        return sock


class _WatchedHTTPSConnection(_WatchedHTTPConnection, HTTPSConnection):
    """The same over TLS: watched before the handshake starts."""


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class PinnedAdapter(HTTPAdapter):
    """Sends each request to the address pinned for its host, over watched connections.

    The URL keeps the camera's name, so the Host header, TLS SNI and the certificate check use
    it; the connection goes to the address :meth:`pin` recorded (no second DNS lookup, so no
    rebinding). A host that was never pinned is refused.
    """

    def __init__(self, watchdog: Watchdog) -> None:
        super().__init__(max_retries=0)
        self._watchdog = watchdog
        self._pins: dict[tuple[str, int], str] = {}
        self._pools: dict[tuple[str, str, int, str], HTTPConnectionPool] = {}

    def pin(self, host: str, port: int, address: str) -> None:
        """Connect to ``address`` for ``host:port`` (the address the SSRF check returned)."""
        self._pins[(host.strip("[]").lower(), port)] = address

    def add_headers(self, request: requests.PreparedRequest, **kwargs: Any) -> None:
        """The Host header names the camera (the connection's host is its address)."""
        request.headers["Host"] = str(urlsplit(request.url).netloc)

    def get_connection_with_tls_context(
        self,
        request: requests.PreparedRequest,
        verify: bool | str | None,
        proxies: Mapping[str, str] | None = None,
        cert: str | tuple[str, str] | None = None,
    ) -> HTTPConnectionPool:
        """A pool for the pinned address of the request's host (never a proxy)."""
        verify = True if verify is None else verify
        params, tls = self.build_connection_pool_key_attributes(request, verify, cert)
        scheme, host = str(params["scheme"]), str(params["host"]).lower()
        port = int(params["port"] or (443 if scheme == "https" else 80))
        address = self._pins.get((host, port))
        if address is None:
            raise ForbiddenSourceError(f"{host}:{port} was not checked before connecting")
        key = (scheme, address, port, host)
        if (pool := self._pools.get(key)) is None:
            if scheme == "https":
                pool = _HTTPSPool(
                    address,
                    port,
                    server_hostname=host,
                    assert_hostname=host,
                    watchdog=self._watchdog,
                    **tls,
                )
            else:
                pool = _HTTPPool(address, port, watchdog=self._watchdog)
            self._pools[key] = pool
        return pool

    def close(self) -> None:
        """Close the pools (and their connections)."""
        super().close()
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()
