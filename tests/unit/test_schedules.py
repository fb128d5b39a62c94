"""Zone schedules: wall-clock windows in the camera's time zone, across midnight and DST."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from shared.domain.schedules import Window, is_active
from shared.errors import ConfigError

NY, LONDON = "America/New_York", "Europe/London"
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def window(days: list[str], start: str, end: str) -> list[Window]:
    return [Window.model_validate({"days": days, "start": start, "end": end})]


PEAK = window(WEEKDAYS, "07:00", "10:00")
NIGHT = window(["fri"], "22:00", "06:00")  # Friday night into Saturday


@pytest.mark.parametrize(
    ("schedule", "tz", "instant", "active"),
    [
        # Peak hours in New York, Monday 9 March 2026 (EDT, UTC-4).
        (PEAK, NY, "2026-03-09T11:00", True),  # 07:00 local: start included
        (PEAK, NY, "2026-03-09T10:59", False),  # 06:59 local
        (PEAK, NY, "2026-03-09T13:59", True),  # 09:59 local
        (PEAK, NY, "2026-03-09T14:00", False),  # 10:00 local: end excluded
        # Friday 6 March 2026 (EST, UTC-5): 07:00 local is 12:00 UTC, not 11:00.
        (PEAK, NY, "2026-03-06T12:00", True),
        (PEAK, NY, "2026-03-06T11:00", False),  # 06:00 EST
        (PEAK, NY, "2026-03-07T12:00", False),  # Saturday: weekend
        (PEAK, NY, "2026-03-08T12:00", False),  # Sunday: weekend
        # Across midnight: the window belongs to the day it starts on (Friday).
        (NIGHT, LONDON, "2026-01-16T21:59", False),  # Friday 21:59
        (NIGHT, LONDON, "2026-01-16T22:00", True),  # Friday 22:00
        (NIGHT, LONDON, "2026-01-17T00:00", True),  # Saturday midnight
        (NIGHT, LONDON, "2026-01-17T05:59", True),  # Saturday 05:59
        (NIGHT, LONDON, "2026-01-17T06:00", False),  # Saturday 06:00: ended
        (NIGHT, LONDON, "2026-01-16T03:00", False),  # Friday 03:00: Thursday's night
        (NIGHT, LONDON, "2026-01-17T22:30", False),  # Saturday 22:30: not a Saturday window
        # Spring forward in New York (Sunday 8 March 2026, 02:00 EST -> 03:00 EDT).
        (window(["sun"], "01:30", "02:30"), NY, "2026-03-08T06:45", True),  # 01:45 EST
        (window(["sun"], "01:30", "02:30"), NY, "2026-03-08T07:00", False),  # 03:00 EDT
        (window(["sun"], "02:00", "02:30"), NY, "2026-03-08T06:59", False),  # 01:59 EST
        (window(["sun"], "02:00", "02:30"), NY, "2026-03-08T07:15", False),  # 03:15: skipped
        # Fall back in New York (Sunday 1 November 2026, 02:00 EDT -> 01:00 EST).
        (window(["sun"], "01:00", "02:00"), NY, "2026-11-01T04:59", False),  # 00:59 EDT
        (window(["sun"], "01:00", "02:00"), NY, "2026-11-01T05:30", True),  # 01:30 EDT
        (window(["sun"], "01:00", "02:00"), NY, "2026-11-01T06:30", True),  # 01:30 EST again
        (window(["sun"], "01:00", "02:00"), NY, "2026-11-01T07:00", False),  # 02:00 EST
        # Europe/London: the skipped hour (29 March) is never active; the repeated one twice.
        (window(["sun"], "01:00", "02:00"), LONDON, "2026-03-29T00:59", False),  # 00:59 GMT
        (window(["sun"], "01:00", "02:00"), LONDON, "2026-03-29T01:00", False),  # 02:00 BST
        (window(["sun"], "01:00", "02:00"), LONDON, "2026-10-25T00:30", True),  # 01:30 BST
        (window(["sun"], "01:00", "02:00"), LONDON, "2026-10-25T01:30", True),  # 01:30 GMT
        (window(["sun"], "01:00", "02:00"), LONDON, "2026-10-25T02:00", False),  # 02:00 GMT
        # A peak window in London's summer (BST, UTC+1): 07:00 local is 06:00 UTC.
        (PEAK, LONDON, "2026-06-15T06:00", True),
        (PEAK, LONDON, "2026-06-15T09:30", False),  # 10:30 BST
        # Far from UTC: Kiritimati (UTC+14) is already Monday while UTC is Sunday.
        (window(["mon"], "07:00", "10:00"), "Pacific/Kiritimati", "2026-03-08T17:00", True),
        (window(["sun"], "07:00", "10:00"), "Pacific/Kiritimati", "2026-03-08T17:00", False),
        # Pago Pago (UTC-11) is still Sunday while UTC is Monday.
        (window(["sun"], "20:00", "24:00"), "Pacific/Pago_Pago", "2026-03-09T07:30", True),
        (window(["sun"], "20:00", "24:00"), "Pacific/Pago_Pago", "2026-03-09T11:00", False),
        # Several windows: active in any of them.
        (PEAK + window(WEEKDAYS, "16:00", "19:00"), NY, "2026-03-09T21:00", True),  # 17:00
        # No schedule: always active.
        (None, None, "2026-03-09T03:00", True),
        ([], NY, "2026-03-09T03:00", True),
    ],
)
def test_is_active(
    schedule: list[Window] | None, tz: str | None, instant: str, active: bool
) -> None:
    assert is_active(schedule, utc(instant), tz) is active


def test_a_naive_instant_is_utc() -> None:
    naive = datetime.fromisoformat("2026-03-09T11:00")
    assert is_active(PEAK, naive, NY) is True
    assert is_active(PEAK, naive.replace(hour=10), NY) is False


def test_a_schedule_without_a_time_zone_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="timezone"):
        is_active(PEAK, utc("2026-03-09T11:00"), None)


@pytest.mark.parametrize(
    "doc",
    [
        {"days": ["mon"], "start": "7:00", "end": "10:00"},  # one-digit hour
        {"days": ["mon"], "start": "07:60", "end": "10:00"},  # minute 60
        {"days": ["mon"], "start": "24:00", "end": "10:00"},  # starts at the end of the day
        {"days": ["mon"], "start": "07:00", "end": "25:00"},  # hour 25
        {"days": ["mon"], "start": "07:00", "end": "07:00"},  # empty
        {"days": ["monday"], "start": "07:00", "end": "10:00"},  # unknown day
        {"days": [], "start": "07:00", "end": "10:00"},  # no days
        {"days": ["mon"], "start": "07:00"},  # no end
        {"days": ["mon"], "start": "07:00", "end": "10:00", "tz": "UTC"},  # unknown key
    ],
)
def test_bad_windows_are_rejected(doc: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Window.model_validate(doc)
