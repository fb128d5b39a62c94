"""The scheduler's work: a sweep over cameras, and one job per camera of a sweep."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from shared.domain.timestamps import parse_timestamp


@dataclass(frozen=True)
class SweepRequest:
    """A ``camera-sweep`` message: every camera, or the ones named."""

    sweep_id: str | None
    cameras: tuple[str, ...]  # empty: every registered camera

    @classmethod
    def from_message(cls, data: dict[str, Any]) -> SweepRequest:
        """A request from a message already checked against its schema."""
        return cls(data.get("sweep_id"), tuple(data.get("cameras") or ()))


@dataclass(frozen=True)
class CameraJob:
    """A ``camera-jobs`` message: process one camera for one sweep."""

    schema: ClassVar[str] = "camera_job"

    sweep_id: str
    camera_id: str
    scheduled_at: str  # RFC 3339 (parse_timestamp), written in UTC

    def as_message(self) -> dict[str, Any]:
        """The JSON payload."""
        return {
            "sweep_id": self.sweep_id,
            "camera_id": self.camera_id,
            "scheduled_at": self.scheduled_at,
        }

    @classmethod
    def from_message(cls, data: dict[str, Any]) -> CameraJob:
        """A job from a message already checked against its schema."""
        return cls(data["sweep_id"], data["camera_id"], data["scheduled_at"])

    def age_s(self, now: datetime) -> float:
        """Seconds since the sweep scheduled this job.

        Raises:
            MessageRejectedError: ``scheduled_at`` is not an RFC 3339 date-time.
        """
        return (now - parse_timestamp(self.scheduled_at)).total_seconds()
