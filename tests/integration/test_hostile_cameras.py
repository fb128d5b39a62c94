"""Hostile cameras: each way a camera can misbehave, and the outcome camwatch defines for it.

Every case names its outcome (``ok`` or an error ``kind``) and a bound on the time it may take.
The bound is a correctness bound, not a benchmark: with a 0.5 s connect timeout and a 1 s read
timeout a fetch has one 1.5 s deadline, connect, headers, body and redirect hops together, and
no camera may hold it longer (the trickles send a byte every 0.25 s, well inside the read
timeout, so only the deadline can end them).

Servers are scripted sockets on 127.0.0.1 (``scripted_camera``). Names that resolve elsewhere
(the metadata server, a private range, ``::1``) exist only in a stub resolver, and a guard fails
any test that tries to connect to anything but 127.0.0.1.
"""

from __future__ import annotations

import itertools
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import urllib3.util.connection

from shared.adapters import http_snapshot
from shared.adapters.http_snapshot import HttpSnapshotSource
from shared.errors import FrameError
from tests.conftest import jpeg
from tests.integration.scripted_camera import (
    Peer,
    Script,
    ScriptedCamera,
    check_fetch,
    endless,
    self_signed,
)

pytestmark = pytest.mark.integration

CONNECT_S, READ_S = 0.5, 1.0
DEADLINE_S = CONNECT_S + READ_S
BOUND_S = DEADLINE_S + 1.0  # the deadline and a margin for a loaded machine
QUICK_S = 1.0  # answers that need no waiting at all
GAP_S = 0.25  # a trickle's pace: a byte every 0.25 s
LIMIT = 400_000  # max_bytes of the source under test (the snapshot has 276,690)
JPEG = jpeg("car1.jpg")
REAL_GETADDRINFO = socket.getaddrinfo
# The stub resolver: each name and what it resolves to. Nothing here is ever connected to.
STUB_DNS = {
    "metadata.test": ["169.254.169.254"],  # the metadata server
    "intranet.test": ["10.0.0.1"],  # a private range
    "loopback6.test": ["::1"],  # IPv6 loopback
    "zero.test": ["0.0.0.0"],  # unspecified: "this host" on most stacks
    "several.test": ["127.0.0.1", "169.254.169.254"],  # one good answer, one forbidden
}
PUBLIC_CAMERA = "camera.test"  # passes the address check as if public; it is 127.0.0.1


@pytest.fixture(autouse=True)
def network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The stub resolver, the public camera, and the guard: connections to 127.0.0.1 only."""

    def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host not in STUB_DNS:
            return REAL_GETADDRINFO(host, port, *args, **kwargs)
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (a, int(port), 0, 0))
            if ":" in a
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, int(port)))
            for a in STUB_DNS[host]
        ]

    real_check = http_snapshot.check_host

    def check_host(host: str, port: int, allow_private: bool) -> str:
        return "127.0.0.1" if host == PUBLIC_CAMERA else real_check(host, port, allow_private)

    refused: list[str] = []

    def guard(real: Callable[..., socket.socket]) -> Callable[..., socket.socket]:
        def create_connection(address: tuple[str, int], *args: Any, **kw: Any) -> socket.socket:
            if address[0] != "127.0.0.1":
                refused.append(address[0])
                raise AssertionError(f"a test tried to connect to {address[0]}")
            return real(address, *args, **kw)

        return create_connection

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(http_snapshot, "check_host", check_host)
    for module in (urllib3.util.connection, socket):
        monkeypatch.setattr(module, "create_connection", guard(module.create_connection))
    yield refused
    assert refused == [], "connections attempted outside 127.0.0.1"


def answer(status: str = "200 OK", body: bytes = b"", **headers: object) -> bytes:
    """A response head (header names from keywords, ``_`` as ``-``) and an optional body.

    Every script closes after its answer, so every answer says ``Connection: close``.
    """
    headers = {"Connection": "close", **headers}
    lines = [f"HTTP/1.1 {status}", *(f"{k.replace('_', '-')}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def snapshot(peer: Peer) -> None:
    peer.request()
    peer.send(answer(body=JPEG, Content_Type="image/jpeg", Content_Length=len(JPEG)))


def slow_body(peer: Peer) -> None:
    peer.request()
    peer.send(answer(Content_Type="image/jpeg", Content_Length=100_000))
    peer.trickle(endless(b"\xff"), GAP_S)


def trickled_status_line(peer: Peer) -> None:
    peer.request()
    peer.trickle(itertools.chain(b"HTTP/1.1 200 OK\r\n", endless(b"X-Pad: 1\r\n")), GAP_S)


def trickled_headers(peer: Peer) -> None:
    peer.request()
    peer.send(b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\n")
    peer.trickle(endless(b"X-Pad: 1\r\n"), GAP_S)


def endless_body(peer: Peer) -> None:
    peer.request()
    peer.send(answer(Content_Type="image/jpeg"))
    peer.flood(b"\xff" * 65536)


def endless_slow_body(peer: Peer) -> None:
    peer.request()
    peer.send(answer(Content_Type="image/jpeg"))
    peer.trickle(endless(b"\xff"), GAP_S)


def trickled_chunks(peer: Peer) -> None:
    peer.request()
    peer.send(answer(Content_Type="image/jpeg", Transfer_Encoding="chunked"))
    peer.trickle(endless(b"1\r\n\xff\r\n"), GAP_S / 4)


def silent(peer: Peer) -> None:
    peer.request()
    peer.idle()


def reset_mid_headers(peer: Peer) -> None:
    peer.request()
    peer.send(b"HTTP/1.1 200 OK\r\nContent-Ty")
    time.sleep(0.05)
    peer.reset()


def reset_mid_body(peer: Peer) -> None:
    peer.request()
    peer.send(answer(body=b"\xff" * 1000, Content_Length=100_000))
    time.sleep(0.05)
    peer.reset()


def close_mid_body(peer: Peer) -> None:
    peer.request()
    peer.send(answer(body=b"\xff" * 1000, Content_Length=100_000))


def close_before_any_byte(peer: Peer) -> None:
    peer.request()


def garbage_status_line(peer: Peer) -> None:
    peer.request()
    peer.send(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")


def endless_header_line(peer: Peer) -> None:
    peer.request()
    peer.send(b"HTTP/1.1 200 OK\r\nX-Long: ")
    peer.flood(b"a" * 65536)


def endless_headers(peer: Peer) -> None:
    peer.request()
    peer.send(b"HTTP/1.1 200 OK\r\n")
    peer.flood(b"X-Pad: 1\r\n" * 1000)


def announced_too_large(peer: Peer) -> None:
    peer.request()
    peer.send(answer(Content_Type="image/jpeg", Content_Length=LIMIT + 1))
    peer.idle()  # the body never comes: the announcement alone must be refused


def too_large_without_length(peer: Peer) -> None:
    peer.request()
    peer.send(answer(body=b"\xff" * (LIMIT + 1), Content_Type="image/jpeg"))


def chunked_over_limit(peer: Peer) -> None:
    peer.request()
    peer.send(answer(Content_Type="image/jpeg", Transfer_Encoding="chunked"))
    peer.flood(b"10000\r\n" + b"\xff" * 0x10000 + b"\r\n")


def status(code: int) -> Script:
    def script(peer: Peer) -> None:
        peer.request()
        peer.send(answer(f"{code} Whatever", Content_Length=0))

    return script


def redirect(location: Callable[[Peer, str], str], wait_s: float = 0.0) -> Script:
    """After ``wait_s``, answer 302 to ``location(peer, path)``, or the snapshot if it is ``""``."""

    def script(peer: Peer) -> None:
        target = peer.request()
        peer.server.stopping.wait(wait_s)
        if to := location(peer, target):
            peer.send(answer("302 Found", Location=to, Content_Length=0))
        else:
            peer.send(answer(body=JPEG, Content_Type="image/jpeg", Content_Length=len(JPEG)))

    return script


def hop(last: int) -> Callable[[Peer, str], str]:
    """``/hop/N`` redirects to ``/hop/N+1`` up to ``/hop/last``, which serves the snapshot."""
    return lambda peer, path: "" if path == f"/hop/{last}" else f"/hop/{int(path[5:]) + 1}"


def always(location: str) -> Callable[[Peer, str], str]:
    """Redirect every request to ``location``."""
    return lambda peer, path: location


def tls_trickled_handshake(peer: Peer) -> None:
    peer.sock.recv(65536)  # the ClientHello
    # A handshake record of 16 KiB announced, its bytes trickled: each recv gets one in time.
    peer.trickle(itertools.chain(b"\x16\x03\x03\x40\x00", endless(b"\0")), GAP_S)


def tls_silent(peer: Peer) -> None:
    peer.sock.recv(65536)
    peer.idle()


@dataclass(frozen=True)
class Case:
    """A camera behaviour and its defined outcome."""

    script: Script
    outcome: str  # "ok", or the kind of the FrameError the caller gets
    within_s: float = BOUND_S  # how long it may take at most
    match: str = ""  # a regex the error message must match ({netloc}: the camera's)
    requests: int | None = None  # how many requests the camera must have seen
    path: str = "/cam.jpg"
    host: str = "127.0.0.1"  # PUBLIC_CAMERA: private addresses refused (the deployed setting)
    scheme: str = "http"
    tls: bool = False  # the camera speaks TLS (certificate trusted by the source)
    accepting: bool = True  # False: the listen backlog is full, connect never completes


DEADLINE = r"camera {netloc} took longer than the 1\.5 s deadline"
WITHIN = "camera {{netloc}} did not answer within {} s"
TLS: dict[str, Any] = {"scheme": "https", "tls": True}
CASES = [
    # Well-behaved cameras, for contrast.
    pytest.param(Case(snapshot, "ok", QUICK_S, requests=1), id="snapshot"),
    pytest.param(Case(snapshot, "ok", QUICK_S, requests=1, **TLS), id="tls-snapshot"),
    pytest.param(Case(redirect(hop(3)), "ok", QUICK_S, path="/hop/0", requests=4), id="3-hops"),
    # Slow cameras: whatever they trickle, the one deadline ends the fetch.
    pytest.param(Case(slow_body, "timeout", match=DEADLINE), id="slow-body"),
    pytest.param(Case(trickled_status_line, "timeout", match=DEADLINE), id="trickled-status"),
    pytest.param(Case(trickled_headers, "timeout", match=DEADLINE), id="trickled-headers"),
    pytest.param(Case(endless_slow_body, "timeout", match=DEADLINE), id="endless-slow-body"),
    pytest.param(Case(trickled_chunks, "timeout", match=DEADLINE), id="trickled-chunks"),
    # Four hops that each wait 0.6 s (inside the read timeout) share the one deadline.
    pytest.param(
        Case(redirect(hop(3), wait_s=0.6), "timeout", match=DEADLINE, path="/hop/0"),
        id="slow-hops",
    ),
    pytest.param(Case(slow_body, "timeout", match=DEADLINE, **TLS), id="tls-slow-body"),
    pytest.param(
        Case(trickled_headers, "timeout", match=DEADLINE, **TLS), id="tls-trickled-headers"
    ),
    # CPython bounds a whole TLS handshake by the socket timeout (here the connect timeout).
    pytest.param(
        Case(tls_trickled_handshake, "timeout", match=WITHIN.format(0.5), scheme="https"),
        id="tls-trickled-handshake",
    ),
    pytest.param(
        Case(tls_silent, "timeout", match=WITHIN.format(0.5), scheme="https"), id="tls-silent"
    ),
    pytest.param(Case(silent, "timeout", match=WITHIN.format(1)), id="silent"),
    pytest.param(
        Case(silent, "timeout", match="did not accept a connection within 0.5 s", accepting=False),
        id="connect-never-completes",
    ),
    # Broken connections and broken HTTP.
    pytest.param(Case(reset_mid_headers, "unreachable", QUICK_S), id="reset-mid-headers"),
    pytest.param(Case(reset_mid_body, "unreachable", QUICK_S), id="reset-mid-body"),
    pytest.param(Case(close_mid_body, "unreachable", QUICK_S), id="close-mid-body"),
    pytest.param(Case(close_before_any_byte, "unreachable", QUICK_S), id="close-before-any-byte"),
    pytest.param(Case(garbage_status_line, "unreachable", QUICK_S), id="not-http"),
    pytest.param(Case(endless_header_line, "unreachable", QUICK_S), id="endless-header-line"),
    pytest.param(Case(endless_headers, "unreachable", QUICK_S), id="endless-headers"),
    pytest.param(Case(status(500), "unreachable", QUICK_S, match="HTTP 500"), id="http-500"),
    pytest.param(Case(status(404), "unreachable", QUICK_S, match="HTTP 404"), id="http-404"),
    # Too many bytes: refused as soon as the limit is passed, or announced.
    pytest.param(Case(endless_body, "too_large", QUICK_S), id="endless-body"),
    pytest.param(
        Case(announced_too_large, "too_large", QUICK_S, match=f"announced {LIMIT + 1} bytes"),
        id="content-length-over-limit",
    ),
    pytest.param(Case(too_large_without_length, "too_large", QUICK_S), id="over-limit-no-length"),
    pytest.param(Case(chunked_over_limit, "too_large", QUICK_S), id="chunked-over-limit"),
    # Redirects: at most three, each hop checked before any connection is made.
    pytest.param(
        Case(redirect(lambda p, path: path), "unreachable", QUICK_S, "more than 3", 4),
        id="redirect-loop",
    ),
    pytest.param(
        Case(redirect(hop(4)), "unreachable", QUICK_S, "more than 3", 4, "/hop/0"),
        id="too-many-redirects",
    ),
    *(
        pytest.param(
            Case(redirect(always(to)), "forbidden_source", QUICK_S, "not an http"),
            id=f"redirect-to-{to.split(':')[0]}",
        )
        for to in ("file:///etc/passwd", "gopher://127.0.0.1:70/1")
    ),
    pytest.param(
        Case(
            redirect(lambda p, path: "" if path == "/second" else f"http://127.0.0.1:{p.port}/"),
            "forbidden_source",
            QUICK_S,
            "private address 127.0.0.1",
            requests=1,
            host=PUBLIC_CAMERA,
        ),
        id="redirect-to-loopback",
    ),
    *(
        pytest.param(
            Case(
                redirect(always(f"http://{name}/computeMetadata/v1/")),
                "forbidden_source",
                QUICK_S,
                f"{kind} address {re.escape(address)}",
                requests=1,
                host=PUBLIC_CAMERA,
            ),
            id=f"redirect-to-{address}",
        )
        for name, kind, address in [
            ("metadata.test", "forbidden", "169.254.169.254"),
            ("intranet.test", "private", "10.0.0.1"),
            (
                "loopback6.test",
                "forbidden",
                "::1",
            ),  # ::/8 is reserved: refused even with the opt-in
            ("zero.test", "forbidden", "0.0.0.0"),
        ]
    ),
    pytest.param(
        Case(snapshot, "forbidden_source", QUICK_S, "169.254.169.254", 0, host="several.test"),
        id="name-with-one-forbidden-address",
    ),
]


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, Path]:
    """A TLS server context for 127.0.0.1 and the certificate a client must trust."""
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def cameras(
    scripted_cameras: Callable[..., ScriptedCamera], tls: tuple[ssl.SSLContext, Path]
) -> Callable[[Case], ScriptedCamera]:
    """Start a scripted camera per case (stopped after the test)."""
    return lambda case: scripted_cameras(case.script, case.accepting, tls[0] if case.tls else None)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("case", CASES)
def test_hostile_camera(
    case: Case, cameras: Callable[[Case], ScriptedCamera], tls: tuple[ssl.SSLContext, Path]
) -> None:
    camera = cameras(case)
    private = case.host != PUBLIC_CAMERA
    ca = str(tls[1]) if case.tls else None
    source = HttpSnapshotSource(CONNECT_S, READ_S, LIMIT, allow_private=private, ca_bundle=ca)
    url = camera.url(case.path, case.host, case.scheme)
    raw = check_fetch(case, camera.port, lambda: source.fetch(url))
    if raw is not None:
        assert raw.data == JPEG
    if case.requests is not None:  # each answer closes its connection: one request each
        assert (len(camera.requests), camera.accepted) == (case.requests, case.requests)


def test_the_camera_is_asked_by_its_name(cameras: Callable[[Case], ScriptedCamera]) -> None:
    # The connection goes to the checked address; the Host header keeps the camera's name.
    camera = cameras(Case(redirect(hop(1)), "ok"))
    source = HttpSnapshotSource(CONNECT_S, READ_S, LIMIT, allow_private=False)
    assert source.fetch(camera.url("/hop/0", PUBLIC_CAMERA)).data == JPEG
    assert camera.hosts == [f"{PUBLIC_CAMERA}:{camera.port}"] * 2


@pytest.mark.parametrize(
    ("name", "allow_private", "address"),
    [
        ("metadata.test", True, "169.254.169.254"),  # never, even with the opt-in
        ("zero.test", True, "0.0.0.0"),  # never
        ("several.test", True, "169.254.169.254"),  # one forbidden answer is enough
        ("intranet.test", False, "10.0.0.1"),  # private: only with the opt-in
        ("loopback6.test", False, "::1"),
    ],
)
def test_stub_names_are_checked_like_their_addresses(
    name: str, allow_private: bool, address: str
) -> None:
    with pytest.raises(FrameError, match=rf" address {re.escape(address)}") as caught:
        http_snapshot.check_host(name, 80, allow_private)
    assert caught.value.kind == "forbidden_source"
