"""Timestamps in messages: RFC 3339 date-times, parsed the one way the schemas check them.

The message schemas say ``"format": "date-time"``, which jsonschema checks with
``rfc3339_validator`` after upper-casing the text: RFC 3339 (section 5.6) lets ``T`` and ``Z`` be
lowercase, and it requires an offset. ``datetime.fromisoformat`` accepts neither lowercase
letter, and it accepts a date-time without an offset, so it never parses a message timestamp
alone: :func:`parse_timestamp` checks with the same validator, then builds the value.

Timestamps of the warehouse's own rows (a query answers a ``datetime``, the emulator at times
text) are read by :func:`row_time`, and camwatch writes its ISO 8601 UTC text with
:func:`iso_utc`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from rfc3339_validator import validate_rfc3339  # type: ignore[import-untyped]

from shared.errors import MessageRejectedError


def parse_timestamp(text: str) -> datetime:
    """An RFC 3339 date-time (case-insensitive ``T`` and ``Z``, offset required) in UTC.

    Raises:
        MessageRejectedError: not an RFC 3339 date-time (no offset, a leap second, which
            Python cannot hold, or an impossible date), or outside the years 1 to 9999 in UTC.
    """
    canonical = text.upper() if isinstance(text, str) else ""
    if not validate_rfc3339(canonical):
        raise MessageRejectedError(f"{str(text)[:64]!r} is not an RFC 3339 date-time")
    try:
        return datetime.fromisoformat(canonical).astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise MessageRejectedError(f"{text[:64]!r} is out of range: {exc}") from exc


def canonical_timestamp(text: str) -> str:
    """The same instant as ``text``, written as camwatch writes its own: ISO 8601 in UTC."""
    return parse_timestamp(text).isoformat()


def row_time(value: datetime | str) -> datetime:
    """A TIMESTAMP of a query row (a datetime, or ISO 8601 text; naive means UTC), in UTC."""
    moment = (
        value
        if isinstance(value, datetime)
        else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    )
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def iso_utc(moment: datetime | float) -> str:
    """An instant (a datetime, or epoch seconds) as ISO 8601 UTC text ending in ``Z``."""
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(float(moment), UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
