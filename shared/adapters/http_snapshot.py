"""HTTP(S) JPEG snapshots (what public city cameras serve): connect/read timeouts, a byte
limit, redirects followed by hand (each hop re-checked) and address checks (SSRF guard, DNS
pinned)."""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
import time
from urllib.parse import urljoin, urlsplit

import requests

from shared.domain.frames import RawFrame
from shared.errors import (
    ForbiddenSourceError,
    FrameTimeoutError,
    FrameTooLargeError,
    FrameUnreachableError,
)

MAX_REDIRECTS = 3


def check_host(host: str, port: int, allow_private: bool) -> str:
    """Refuse addresses a camera URL must never reach (SSRF guard); return the one to use.

    Link-local (the metadata server 169.254.169.254), multicast, reserved and unspecified
    addresses are always refused; loopback and private ranges only when ``allow_private``.
    Every address the name resolves to must pass. The caller connects to the returned
    address itself, so a second lookup cannot swap it (DNS rebinding).
    """
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise FrameUnreachableError(f"cannot resolve camera host {host!r}: {exc}") from exc
    for info in infos:
        addr = ipaddress.ip_address(info[4][0])
        if addr.is_link_local or addr.is_multicast or addr.is_reserved or addr.is_unspecified:
            raise ForbiddenSourceError(f"camera host {host!r} resolves to forbidden address {addr}")
        if (addr.is_loopback or addr.is_private) and not allow_private:
            raise ForbiddenSourceError(
                f"camera host {host!r} resolves to private address {addr} "
                "(set CAMWATCH_ALLOW_PRIVATE_SOURCES=true to allow)"
            )
    return str(infos[0][4][0])


def _root_cause(exc: BaseException) -> str:
    """The innermost reason of a requests/urllib3 error, e.g. ``Connection refused``."""
    text = str(exc)
    if found := re.search(r"\[Errno -?\d+\] ([^'\")]+)", text):
        return found.group(1).strip()
    return text


class HttpSnapshotSource:
    """One GET per frame against a JPEG snapshot URL."""

    def __init__(
        self,
        connect_timeout_s: float,
        read_timeout_s: float,
        max_bytes: int,
        allow_private: bool,
        ca_bundle: str | None = None,
    ) -> None:
        self._timeouts = (connect_timeout_s, read_timeout_s)
        self._ca_bundle = ca_bundle
        self._max_bytes = max_bytes
        self._allow_private = allow_private
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.trust_env = False  # no proxies or netrc from the environment
            if self._ca_bundle:
                session.verify = self._ca_bundle
            self._local.session = session
        return session

    def fetch(self, source: str) -> RawFrame:
        """GET the snapshot, following at most three redirects, each re-checked."""
        url = source
        deadline = time.monotonic() + self._timeouts[0] + self._timeouts[1]
        for _ in range(MAX_REDIRECTS + 1):
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ForbiddenSourceError(f"not an http(s) camera URL: {url!r}")
            if parts.username or parts.password:
                raise ForbiddenSourceError("credentials in camera URLs are refused; use a header")
            default_port = 443 if parts.scheme == "https" else 80
            address = check_host(parts.hostname, parts.port or default_port, self._allow_private)
            try:
                response = self._get_pinned(url, address)
            except requests.Timeout as exc:
                raise FrameTimeoutError(f"camera {parts.netloc} timed out: {exc}") from exc
            except requests.RequestException as exc:
                raise FrameUnreachableError(
                    f"camera {parts.netloc} unreachable: {_root_cause(exc)}"
                ) from exc
            with response:
                if response.is_redirect and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                if response.status_code != 200:
                    raise FrameUnreachableError(
                        f"camera {parts.netloc} answered HTTP {response.status_code}"
                    )
                data = self._read(response, parts.netloc, deadline)
                return RawFrame(
                    "http", data=data, content_type=response.headers.get("content-type")
                )
        raise FrameUnreachableError(f"camera {source!r} redirected more than {MAX_REDIRECTS} times")

    def _get_pinned(self, url: str, address: str) -> requests.Response:
        """GET ``url`` from the checked ``address``: no second DNS lookup can redirect it.

        The URL names the address; the Host header, TLS SNI and certificate check keep the
        camera's own name.
        """
        parts = urlsplit(url)
        host = f"[{address}]" if ":" in address else address
        pinned = parts._replace(netloc=f"{host}:{parts.port}" if parts.port else host).geturl()
        session = self._session()
        pool_kw = session.get_adapter(pinned).poolmanager.connection_pool_kw  # type: ignore[attr-defined]
        if parts.scheme == "https":
            pool_kw["server_hostname"] = pool_kw["assert_hostname"] = parts.hostname
        else:
            pool_kw.pop("server_hostname", None)
            pool_kw.pop("assert_hostname", None)
        return session.get(
            pinned,
            headers={"Host": parts.netloc},
            timeout=self._timeouts,
            stream=True,
            allow_redirects=False,
        )

    def _read(self, response: requests.Response, netloc: str, deadline: float) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_bytes:
            raise FrameTooLargeError(
                f"camera {netloc} announced {declared} bytes, the limit is {self._max_bytes}"
            )
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_content(chunk_size=64 * 1024):
                size += len(chunk)
                if size > self._max_bytes:
                    raise FrameTooLargeError(f"camera {netloc} sent over {self._max_bytes} bytes")
                if time.monotonic() > deadline:
                    raise FrameTimeoutError(f"camera {netloc} is sending too slowly")
                chunks.append(chunk)
        except requests.RequestException as exc:
            raise FrameTimeoutError(f"camera {netloc} stopped sending: {exc}") from exc
        return b"".join(chunks)
