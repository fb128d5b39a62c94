"""Zone schedules: days and wall-clock windows in the camera's IANA time zone.

A window is wall-clock time where the camera stands: ``07:00`` is 07:00 local on both sides of
a daylight-saving change. ``start`` is included, ``end`` excluded; ``end`` may be ``24:00``.

* **Across midnight** (``start > end``, e.g. ``22:00``-``06:00``): the window belongs to the
  day it *starts* on. ``days: [fri]`` is active Friday 22:00 until Saturday 06:00, and not
  Thursday night into Friday.
* **Spring forward** (a skipped hour, e.g. 02:00-03:00 in New York): those local times never
  happen, so a window inside the gap is not active that day, and a window reaching into it
  ends at the jump (local 01:59:59 is in, 03:00 is the first time after).
* **Fall back** (a repeated hour, e.g. 01:00-02:00 in New York): local times in it happen
  twice, and the window is active both times (``01:00``-``02:00`` lasts two real hours).

A zone without a schedule is always active.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.errors import ConfigError

_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")
CLOCK = _CLOCK.pattern


class Day(StrEnum):
    """A day of the week, in the order of :meth:`datetime.weekday`."""

    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


_WEEK = list(Day)


def minutes(clock: str) -> int:
    """Minutes after midnight of ``HH:MM`` (``24:00`` is 1440)."""
    hours, mins = clock.split(":")
    return int(hours) * 60 + int(mins)


class Window(BaseModel):
    """Days and a wall-clock window ``[start, end)``; ``start > end`` runs past midnight."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: list[Day] = Field(..., min_length=1, description="Days the window starts on.")
    start: str = Field(..., pattern=CLOCK, description="Local start, HH:MM (included).")
    end: str = Field(..., pattern=CLOCK, description="Local end, HH:MM or 24:00 (excluded).")

    @field_validator("start")
    @classmethod
    def _start_in_day(cls, start: str) -> str:
        if start == "24:00":
            raise ValueError("start must be before 24:00")
        return start

    @model_validator(mode="after")
    def _not_empty(self) -> Window:
        if self.start == self.end:
            raise ValueError(f"window {self.start}-{self.end} is empty")
        return self

    def covers(self, weekday: int, minute: float) -> bool:
        """Whether local ``minute`` (after midnight) of ``weekday`` (0 = Monday) is in it."""
        start, end = minutes(self.start), minutes(self.end)
        if start < end:
            return _WEEK[weekday] in self.days and start <= minute < end
        return (_WEEK[weekday] in self.days and minute >= start) or (
            _WEEK[weekday - 1] in self.days and minute < end
        )


@lru_cache(maxsize=64)
def time_zone(name: str) -> ZoneInfo:
    """The IANA zone ``name`` (from the pinned ``tzdata``); ValueError if unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {name!r}") from exc


def is_active(schedule: Sequence[Window] | None, instant: datetime, tz: str | None) -> bool:
    """Whether a zone with ``schedule`` is active at ``instant`` (a naive one is UTC).

    No schedule (None or empty): always active. A schedule needs ``tz`` (the registry checks).
    """
    if not schedule:
        return True
    if tz is None:
        raise ConfigError("a zone schedule needs the camera's timezone")
    aware = instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)
    local = aware.astimezone(time_zone(tz))
    minute = local.hour * 60 + local.minute + local.second / 60
    return any(w.covers(local.weekday(), minute) for w in schedule)
