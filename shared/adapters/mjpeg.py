"""MJPEG over HTTP (``multipart/x-mixed-replace``, what many IP cameras stream): the parts of
an endless multipart body, read one at a time under byte bounds.

Hand-written because no well-kept parser fits an endless stream: requests_toolbelt's
``MultipartDecoder`` needs the whole body, and werkzeug's streaming ``MultipartDecoder`` parses
``multipart/form-data`` only (it refuses a part without ``Content-Disposition``, which MJPEG
parts never have, and ignores a part's ``Content-Length``). This one reads a part's headers,
then its ``Content-Length`` bytes, or up to the next boundary when the part has no length.
:meth:`PartReader.next_part` reads the next part each time it is called, so consecutive frames
are one more call.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message

from shared.adapters.bursts import BurstFrame
from shared.domain.frames import RawFrame
from shared.errors import (
    FrameDecodeError,
    FrameError,
    FrameTooLargeError,
    FrameUnreachableError,
    NotAnImageError,
)

MULTIPART_TYPE = "multipart/x-mixed-replace"
MAX_HEADER_BYTES = 16 * 1024


@dataclass(frozen=True)
class Part:
    """One part of the stream: its bytes and its ``Content-Type`` (``None`` if it had none)."""

    data: bytes
    content_type: str | None


def is_multipart(content_type: str | None) -> bool:
    """Whether a response of ``content_type`` is an MJPEG-style multipart stream."""
    return (content_type or "").split(";")[0].strip().lower() == MULTIPART_TYPE


def boundary_of(content_type: str) -> bytes:
    """The ``boundary`` parameter of a multipart content type (a leading ``--`` dropped).

    Raises:
        NotAnImageError: the parameter is missing or empty.
    """
    message = Message()
    message["content-type"] = content_type
    boundary = message.get_param("boundary")
    if not isinstance(boundary, str) or not boundary.strip().removeprefix("--"):
        raise NotAnImageError(f"camera answered {MULTIPART_TYPE} without a boundary")
    return boundary.strip().removeprefix("--").encode("latin-1", "replace")


class PartReader:
    """Reads the parts of a multipart stream from ``chunks`` of its body, one per call.

    ``max_part_bytes`` bounds each part's body, and the bytes skipped before a part (a
    preamble, the rest of a part not read, headers) together.
    """

    def __init__(self, chunks: Iterator[bytes], boundary: bytes, max_part_bytes: int) -> None:
        self._chunks = chunks
        self._delimiter = b"--" + boundary
        self._max = max_part_bytes
        self._buffer = bytearray()

    def next_part(self) -> Part:
        """The next complete part.

        Raises:
            FrameTooLargeError: a part over the limit, or too much skipped before one.
            FrameUnreachableError: the stream ended (or closed) before a part began.
            FrameDecodeError: the stream ended within a part, or its headers are malformed.
        """
        self._skip_to_delimiter()
        headers = self._headers()
        content_type = headers.get("content-type")
        declared = headers.get("content-length", "").strip()
        if declared.isdigit():
            size = int(declared)
            if size > self._max:
                raise FrameTooLargeError(f"MJPEG part of {size} bytes, the limit is {self._max}")
            while len(self._buffer) < size:
                self._more("within a part")
            data = bytes(self._buffer[:size])
            del self._buffer[:size]
        else:
            data = self._until_delimiter()
        return Part(data, content_type)

    def _more(self, where: str) -> None:
        for chunk in self._chunks:
            if chunk:
                self._buffer += chunk
                return
        if where == "before a part":
            raise FrameUnreachableError("MJPEG stream ended before a part")
        raise FrameDecodeError(f"MJPEG stream ended {where}")

    def _skip_to_delimiter(self) -> None:
        skipped = 0
        while (found := self._buffer.find(self._delimiter)) < 0:
            keep = len(self._delimiter) - 1  # a delimiter split across chunks
            drop = max(0, len(self._buffer) - keep)
            skipped += drop
            del self._buffer[:drop]
            if skipped > self._max:
                raise FrameTooLargeError(f"over {self._max} bytes of MJPEG stream without a part")
            self._more("before a part")
        if skipped + found > self._max:
            raise FrameTooLargeError(f"over {self._max} bytes of MJPEG stream without a part")
        del self._buffer[: found + len(self._delimiter)]
        while len(self._buffer) < 2:
            self._more("before a part")
        if self._buffer[:2] == b"--":
            raise FrameUnreachableError("MJPEG stream closed (final boundary) before a part")

    def _headers(self) -> dict[str, str]:
        """The part's header fields (lower-case names), after the rest of the delimiter line."""
        while (end := _blank_line(self._buffer)) is None:
            if len(self._buffer) > MAX_HEADER_BYTES:
                raise FrameDecodeError(f"MJPEG part headers over {MAX_HEADER_BYTES} bytes")
            self._more("within a part's headers")
        head_end, body_start = end
        lines = bytes(self._buffer[:head_end]).decode("latin-1").splitlines()
        del self._buffer[:body_start]
        fields: dict[str, str] = {}
        for line in lines[1:]:  # the first is the rest of the delimiter line (padding)
            name, colon, value = line.partition(":")
            if colon:
                fields[name.strip().lower()] = value.strip()
        return fields

    def _until_delimiter(self) -> bytes:
        start = 0
        while (found := self._buffer.find(self._delimiter, start)) < 0:
            if len(self._buffer) > self._max + len(self._delimiter) + 2:
                raise FrameTooLargeError(f"MJPEG part over {self._max} bytes")
            start = max(0, len(self._buffer) - len(self._delimiter) + 1)
            self._more("within a part")
        data = bytes(self._buffer[:found])
        del self._buffer[:found]  # the delimiter stays for the next part
        data = data.removesuffix(b"\n").removesuffix(b"\r")  # the CRLF before the delimiter
        if len(data) > self._max:
            raise FrameTooLargeError(f"MJPEG part over {self._max} bytes")
        return data


def _blank_line(buffer: bytearray) -> tuple[int, int] | None:
    """Where the header block ends and the body starts (CRLF CRLF, or bare LF LF), if seen."""
    # the delimiter line's own line end comes first: a part without headers is "\r\n\r\n"
    crlf, lf = buffer.find(b"\r\n\r\n"), buffer.find(b"\n\n")
    if crlf >= 0 and (lf < 0 or crlf <= lf):
        return crlf, crlf + 4
    if lf >= 0:
        return lf, lf + 2
    return None


def read_parts(reader: PartReader, parts: int) -> list[BurstFrame]:
    """Up to ``parts`` consecutive parts as frames, timed from the first; a part that fails
    after the first ends the burst with those read (the first failing is the error)."""
    taken: list[BurstFrame] = []
    start = time.monotonic()
    for _ in range(parts):
        try:
            part = reader.next_part()
        except FrameError:
            if not taken:
                raise
            break
        raw = RawFrame("mjpeg", data=part.data, content_type=part.content_type)
        taken.append(BurstFrame(raw, round(time.monotonic() - start, 3)))
    return taken
