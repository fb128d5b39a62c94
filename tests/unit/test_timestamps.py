"""Message timestamps are RFC 3339 date-times, parsed one way (``shared/domain/timestamps.py``)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.domain.jobs import CameraJob
from shared.domain.timestamps import canonical_timestamp, parse_timestamp
from shared.errors import MessageRejectedError
from shared.messages.schemas import validate


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-29T16:21:14Z", "2026-11-29T16:21:14+00:00"),
        ("2026-11-29t16:21:14z", "2026-11-29T16:21:14+00:00"),  # issue 12: lowercase t and z
        ("2026-11-29T17:21:14+01:00", "2026-11-29T16:21:14+00:00"),  # kept in UTC
        ("2026-11-29T16:21:14-00:00", "2026-11-29T16:21:14+00:00"),
        ("2026-11-29T16:21:14.1234567Z", "2026-11-29T16:21:14.123456+00:00"),  # to microseconds
        ("2026-11-29T16:21:14.5Z", "2026-11-29T16:21:14.500000+00:00"),
    ],
)
def test_rfc_3339_date_times_parse(text: str, expected: str) -> None:
    assert canonical_timestamp(text) == expected
    validate("camera_job", {"sweep_id": "s", "camera_id": "cam-a", "scheduled_at": text})


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-29T16:21:14",  # no offset: a local time of nowhere
        "2026-11-29 16:21:14Z",  # RFC 3339 allows a space by agreement only; the schema does not
        "2026-12-31T23:59:60Z",  # a leap second: valid RFC 3339, but Python cannot hold it
        "2026-02-30T00:00:00Z",
        "0001-01-01T00:00:00+01:00",  # year 0 in UTC
        "9999-12-31T23:59:59-01:00",  # year 10000 in UTC
        "yesterday",
        "",
    ],
)
def test_anything_else_is_rejected(text: str) -> None:
    with pytest.raises(MessageRejectedError):
        parse_timestamp(text)


def test_a_job_with_lowercase_t_and_z_has_an_age() -> None:
    job = CameraJob("s", "cam-a", "2026-11-29t16:21:14z")
    assert job.age_s(datetime(2026, 11, 29, 16, 22, 14, tzinfo=UTC)) == 60.0
