"""HTTP(S) JPEG snapshots (what public city cameras serve), MJPEG streams and HLS playlists:
one deadline for the whole fetch, byte limits, redirects followed by hand (each hop re-checked)
and address checks (SSRF guard, DNS pinned) for every URL, HLS segments included."""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urljoin

import requests
import urllib3
from urllib3.exceptions import LocationParseError, ReadTimeoutError
from urllib3.util import Url, parse_url

from shared.adapters.bursts import BurstFrame
from shared.adapters.hls import MAX_PLAYLIST_BYTES, is_playlist, parse_playlist
from shared.adapters.hls_fetch import Limits, live_frames
from shared.adapters.http_transport import PinnedAdapter, Watchdog
from shared.adapters.mjpeg import PartReader, boundary_of, is_multipart, read_parts
from shared.domain.frames import RawFrame
from shared.errors import (
    ForbiddenSourceError,
    FrameError,
    FrameTimeoutError,
    FrameTooLargeError,
    FrameUnreachableError,
)

MAX_REDIRECTS = 3
CHUNK_BYTES = 64 * 1024


def check_host(host: str, port: int, allow_private: bool, what: str = "camera") -> str:
    """Refuse addresses a camera URL must never reach (SSRF guard); return the one to use.

    Link-local (the metadata server 169.254.169.254), multicast, reserved and unspecified
    addresses are always refused; loopback and private ranges only when ``allow_private``.
    Every address the name resolves to must pass. The caller connects to the returned
    address itself, so a second lookup cannot swap it (DNS rebinding). ``what`` names the
    URL's owner in the errors (alert subscribers' webhooks pass the same check).
    """
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise FrameUnreachableError(f"cannot resolve {what} host {host!r}: {exc}") from exc
    for info in infos:
        addr = ipaddress.ip_address(info[4][0])
        if addr.is_link_local or addr.is_multicast or addr.is_reserved or addr.is_unspecified:
            raise ForbiddenSourceError(f"{what} host {host!r} resolves to forbidden address {addr}")
        if (addr.is_loopback or addr.is_private) and not allow_private:
            raise ForbiddenSourceError(
                f"{what} host {host!r} resolves to private address {addr} "
                "(set CAMWATCH_ALLOW_PRIVATE_SOURCES=true to allow)"
            )
    return str(infos[0][4][0])


def http_url(url: str, what: str) -> tuple[Url, str, int]:
    """The parts, host and port of an http(s) URL without credentials (a camera's, a
    webhook's).

    Raises:
        ValueError: anything else, saying what (``not an http(s) camera URL: ...``).
    """
    try:
        parts = parse_url(url)
    except LocationParseError as exc:
        raise ValueError(f"not an http(s) {what} URL: {url!r}") from exc
    if parts.scheme not in ("http", "https") or not parts.host:
        raise ValueError(f"not an http(s) {what} URL: {url!r}")
    if parts.auth:
        raise ValueError(f"credentials in {what} URLs are refused")
    return parts, parts.host.strip("[]"), parts.port or (443 if parts.scheme == "https" else 80)


def _root_cause(exc: BaseException) -> str:
    """The innermost reason of a requests/urllib3 error, e.g. ``Connection refused``."""
    if found := re.search(r"\[Errno -?\d+\] ([^'\")]+)", str(exc)):
        return found.group(1).strip()
    inner = exc
    for _ in range(8):  # requests wraps urllib3, which wraps http.client or the socket
        nested = getattr(inner, "reason", None)
        if not isinstance(nested, BaseException):
            nested = next((a for a in inner.args if isinstance(a, BaseException)), None)
        if nested is None:
            break
        inner = nested
    if isinstance(inner, OSError) and inner.strerror:
        return inner.strerror
    return str(exc) if inner is exc else repr(inner)


@dataclass(frozen=True)
class _Hop:
    """One URL of a fetch, normalised (IDNA host, percent-encoded path) and checked."""

    url: str
    host: str
    port: int
    netloc: str

    @classmethod
    def parse(cls, url: str) -> _Hop:
        try:
            parts, host, port = http_url(url, "camera")
        except ValueError as exc:
            hint = "; use a header" if "credentials" in str(exc) else ""
            raise ForbiddenSourceError(f"{exc}{hint}") from exc
        return cls(parts.url, host, port, str(parts.netloc))


class _Fetch:
    """One fetch's session, pinned adapter and watchdog: GETs that follow redirects by hand."""

    def __init__(
        self,
        source: HttpSnapshotSource,
        session: requests.Session,
        adapter: PinnedAdapter,
        watchdog: Watchdog,
    ) -> None:
        self._source, self._session, self._adapter = source, session, adapter
        self.watchdog = watchdog

    @contextlib.contextmanager
    def get(self, url: str) -> Iterator[tuple[requests.Response, _Hop]]:
        """The 200 answer for ``url``; every hop's scheme and address checked, then pinned."""
        start = url
        for _ in range(MAX_REDIRECTS + 1):
            hop = _Hop.parse(url)
            address = check_host(hop.host, hop.port, self._source.allow_private)
            self._adapter.pin(hop.host, hop.port, address)
            with self._source._get(self._session, hop, self.watchdog) as response:
                if location := self._session.get_redirect_target(response):
                    url = urljoin(hop.url, location)
                    continue
                if response.status_code != 200:
                    raise FrameUnreachableError(
                        f"camera {hop.netloc} answered HTTP {response.status_code}"
                    )
                yield response, hop
                return
        raise FrameUnreachableError(f"camera {start!r} redirected more than {MAX_REDIRECTS} times")

    def read(self, url: str, limit: int) -> tuple[bytes, str]:
        """The body of ``url`` (at most ``limit`` bytes) and the URL it came from."""
        with self.get(url) as (response, hop):
            return self._source._read(response, hop.netloc, self.watchdog, limit), hop.url


class HttpSnapshotSource:
    """One GET per frame against a JPEG snapshot URL, under one deadline.

    The deadline is ``connect_timeout_s + read_timeout_s`` from the start of :meth:`fetch`, for
    the connections, TLS handshakes, headers and bodies of every redirect hop together, and it
    is enforced while bytes are awaited (:class:`~shared.adapters.http_transport.Watchdog`).
    Within it, a connect may take at most ``connect_timeout_s`` and a silence at most
    ``read_timeout_s``. A fresh session per fetch: polls are minutes apart, so keep-alive
    would buy nothing, and nothing is shared between threads.
    """

    def __init__(
        self,
        connect_timeout_s: float,
        read_timeout_s: float,
        max_bytes: int,
        allow_private: bool,
        ca_bundle: str | None = None,
        max_segment_bytes: int | None = None,
        max_pixels: int = 4096 * 4096,
    ) -> None:
        self._connect_s = connect_timeout_s
        self._read_s = read_timeout_s
        self._ca_bundle = ca_bundle
        self._max_bytes = max_bytes
        self._max_segment_bytes = max_segment_bytes or 4 * max_bytes
        self._max_pixels = max_pixels
        self.allow_private = allow_private

    def fetch(self, source: str) -> RawFrame:
        """GET the frame, following at most three redirects, each re-checked.

        A ``multipart/x-mixed-replace`` answer (MJPEG) gives its first part; an HLS playlist
        (by content type or a ``.m3u8`` path) gives a frame of its newest segment, fetched
        under the same deadline and checks.
        """
        return self.fetch_parts(source, 1)[0].raw

    def fetch_parts(self, source: str, parts: int, spacing_s: float = 0.0) -> list[BurstFrame]:
        """As :meth:`fetch`; an MJPEG stream gives up to ``parts`` consecutive parts of its one
        connection (a burst) under the same deadline, keeping those read when one fails, and
        an HLS stream up to ``parts`` frames of its newest segments, about ``spacing_s`` apart
        in stream time (:mod:`shared.adapters.hls_fetch`), under the same deadline."""
        with Watchdog(self._connect_s + self._read_s) as watchdog, requests.Session() as session:
            session.trust_env = False  # no proxies or netrc from the environment
            session.verify = self._ca_bundle or True
            adapter = PinnedAdapter(watchdog)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            fetch = _Fetch(self, session, adapter, watchdog)
            with fetch.get(source) as (response, hop):
                content_type = response.headers.get("content-type")
                if is_multipart(content_type):
                    chunks = self._chunks(response, hop.netloc, watchdog, live=True)
                    reader = PartReader(chunks, boundary_of(str(content_type)), self._max_bytes)
                    return read_parts(reader, parts)  # the response closes: the stream ends
                if not is_playlist(content_type, hop.url):
                    data = self._read(response, hop.netloc, watchdog, self._max_bytes)
                    return [BurstFrame(RawFrame("http", data=data, content_type=content_type), 0)]
                playlist = parse_playlist(
                    self._read(response, hop.netloc, watchdog, MAX_PLAYLIST_BYTES), hop.url
                )
            limits = Limits(self._max_segment_bytes, self._max_pixels)
            return live_frames(fetch.read, playlist, parts, spacing_s, limits)

    def _get(self, session: requests.Session, hop: _Hop, watchdog: Watchdog) -> requests.Response:
        remaining = watchdog.remaining()
        if remaining <= 0:
            raise self._late(hop.netloc)
        timeout = (min(self._connect_s, remaining), self._read_s)
        try:
            return session.get(hop.url, timeout=timeout, stream=True, allow_redirects=False)
        except requests.RequestException as exc:
            raise self._failure(exc, hop.netloc, watchdog) from exc

    def _read(
        self, response: requests.Response, netloc: str, watchdog: Watchdog, limit: int
    ) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise FrameTooLargeError(
                f"camera {netloc} announced {declared} bytes, the limit is {limit}"
            )
        chunks: list[bytes] = []
        size = 0
        for chunk in self._chunks(response, netloc, watchdog, live=False):
            size += len(chunk)
            if size > limit:
                raise FrameTooLargeError(f"camera {netloc} sent over {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def _chunks(
        self, response: requests.Response, netloc: str, watchdog: Watchdog, live: bool
    ) -> Iterator[bytes]:
        """The body's chunks; ``live``: as soon as bytes arrive (a stream never fills a chunk)."""
        try:
            if live:
                while chunk := response.raw.read1(CHUNK_BYTES):
                    yield chunk
            else:
                yield from response.iter_content(chunk_size=CHUNK_BYTES)
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            raise self._failure(exc, netloc, watchdog) from exc
        if watchdog.fired:  # the shutdown can end a body without a length like a close would
            raise self._late(netloc)

    def _late(self, netloc: str) -> FrameTimeoutError:
        deadline = self._connect_s + self._read_s
        return FrameTimeoutError(
            f"camera {netloc} took longer than the {deadline:g} s deadline "
            f"(connect {self._connect_s:g} s + read {self._read_s:g} s)"
        )

    def _failure(self, exc: Exception, netloc: str, watchdog: Watchdog) -> FrameError:
        """The error for a failed connect or read: the deadline's, a timeout's, or unreachable."""
        if watchdog.fired or watchdog.remaining() < 0.01:
            return self._late(netloc)
        if isinstance(exc, requests.ConnectTimeout):
            return FrameTimeoutError(
                f"camera {netloc} did not accept a connection within {self._connect_s:g} s"
            )
        if isinstance(exc, requests.Timeout | ReadTimeoutError) or any(
            isinstance(arg, ReadTimeoutError) for arg in exc.args
        ):
            waited = re.search(r"timeout=([\d.]+)", str(exc))  # urllib3 names the one in force
            seconds = float(waited.group(1)) if waited else self._read_s
            return FrameTimeoutError(f"camera {netloc} did not answer within {seconds:g} s")
        return FrameUnreachableError(f"camera {netloc} unreachable: {_root_cause(exc)}")
