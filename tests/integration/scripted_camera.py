"""A camera server on 127.0.0.1 that runs a script per connection.

``http.server`` answers whole messages; the hostile-camera tests need every byte under control
(a status line trickled a byte at a time, a reset in the middle of the headers, silence), so
each connection gets a :class:`Peer` and a plain function decides what it sends.
"""

from __future__ import annotations

import datetime
import functools
import ipaddress
import itertools
import re
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shared.domain.frames import RawFrame
from shared.errors import FrameError

Script = Callable[["Peer"], None]
HEAD_LIMIT = 64 * 1024


class Expected(Protocol):
    """What a hostile-camera case expects of a fetch."""

    @property
    def outcome(self) -> str:
        """``ok``, or the kind of the FrameError the caller gets."""
        ...

    @property
    def within_s(self) -> float:
        """How long the fetch may take at most."""
        ...

    @property
    def match(self) -> str:
        """A regex the error message must match (``{netloc}``: the camera's)."""
        ...

    @property
    def host(self) -> str:
        """The host the camera is reached at."""
        ...


def check_fetch(case: Expected, port: int, fetch: Callable[[], RawFrame]) -> RawFrame | None:
    """Fetch, and check the outcome, the time bound and the message; the frame when ``ok``."""
    start = time.monotonic()
    raw: RawFrame | None = None
    try:
        raw = fetch()
        outcome, message = "ok", ""
    except FrameError as exc:
        outcome, message = exc.kind, exc.message
    elapsed = time.monotonic() - start
    assert outcome == case.outcome, message
    assert elapsed <= case.within_s, f"took {elapsed:.2f} s, bound {case.within_s} s: {message}"
    assert re.search(case.match.format(netloc=f"{case.host}:{port}"), message), message
    return raw


class Peer:
    """One accepted connection, as a script sees it."""

    def __init__(self, sock: socket.socket, server: ScriptedCamera) -> None:
        self.sock = sock
        self.server = server

    @property
    def port(self) -> int:
        """The server's port (for redirects back to it)."""
        return self.server.port

    def request(self) -> str:
        """Read the request head; record and return its target (``/path?query``)."""
        head = b""
        while b"\r\n\r\n" not in head and len(head) < HEAD_LIMIT:
            data = self.sock.recv(4096)
            if not data:
                break
            head += data
        line, *fields = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        target = line.split(" ")[1] if line.count(" ") >= 2 else ""
        self.server.requests.append(target)
        hosts = [f.split(":", 1)[1].strip() for f in fields if f.lower().startswith("host:")]
        self.server.hosts.extend(hosts)
        return target

    def send(self, data: bytes) -> None:
        """Send all of ``data`` at once."""
        self.sock.sendall(data)

    def trickle(self, data: Iterable[int], every_s: float) -> None:
        """Send one byte every ``every_s`` seconds until ``data`` ends or the test is over."""
        for byte in data:
            if self.server.stopping.wait(every_s):
                return
            self.sock.sendall(bytes([byte]))

    def flood(self, chunk: bytes) -> None:
        """Send ``chunk`` again and again, as fast as the client reads, until it goes away."""
        while not self.server.stopping.is_set():
            self.sock.sendall(chunk)

    def idle(self) -> None:
        """Say nothing until the test is over."""
        self.server.stopping.wait()

    def reset(self) -> None:
        """Abort the connection: the client gets an RST (``Connection reset by peer``)."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


def endless(data: bytes) -> Iterable[int]:
    """``data``'s bytes, repeated for ever."""
    return itertools.cycle(data)


class ScriptedCamera:
    """Listens on 127.0.0.1; runs ``script`` in a thread for each connection.

    With ``tls`` the script talks over TLS (after the handshake, under a 2 s timeout).
    With ``accepting=False`` it never accepts, and a first connection (made here) fills its
    backlog: the next client's SYN is dropped and its connect never completes.
    """

    def __init__(
        self, script: Script, accepting: bool = True, tls: ssl.SSLContext | None = None
    ) -> None:
        self.script = script
        self.tls = tls
        self.requests: list[str] = []  # the target of each request
        self.hosts: list[str] = []  # the Host header of each request
        self.accepted = 0
        self.stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=0 if not accepting else 16)
        self.port = int(self._listener.getsockname()[1])
        self._filler: socket.socket | None = None
        if accepting:
            self._listener.settimeout(0.05)
            self._spawn(self._accept_loop)
        else:
            self._filler = socket.create_connection(("127.0.0.1", self.port), timeout=1)

    def url(self, path: str = "/cam.jpg", host: str = "127.0.0.1", scheme: str = "http") -> str:
        """The URL of ``path`` on this server."""
        return f"{scheme}://{host}:{self.port}{path}"

    def _spawn(self, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            self._spawn(functools.partial(self._serve, sock))

    def _serve(self, sock: socket.socket) -> None:
        try:
            if self.tls is not None:
                sock.settimeout(2)
                sock = self.tls.wrap_socket(sock, server_side=True)
            sock.settimeout(None)
            self.script(Peer(sock, self))
        except OSError:
            pass  # the client went away (reset, broken pipe): what hostile tests expect
        finally:
            sock.close()

    def close(self) -> None:
        """Stop every script and the listener."""
        self.stopping.set()
        for thread in self._threads:
            thread.join(timeout=2)
        self._listener.close()
        if self._filler is not None:
            self._filler.close()


def self_signed(directory: Path, host: str = "127.0.0.1") -> tuple[ssl.SSLContext, Path]:
    """A server context with a self-signed certificate for ``host`` (an IP address or a name),
    and the certificate file (the CA bundle a client needs to trust it)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    try:
        alt: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        alt = x509.DNSName(host)
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([alt]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pkcs8 = serialization.PrivateFormat.PKCS8
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, pkcs8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context, cert_path
