"""How long each rule waits, and what congestion means: the rule parts of the registry.

The thresholds a city sets per camera (``rules.stop_s``, ``park_s``, ``box_s``) or per zone
(``dwell_s``), with the defaults below, and the check that a camera can measure them at all.
See docs/design/rules.md.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Seconds a rule must hold before a violation opens, when neither the zone nor the camera says.
DEFAULT_STOP_S = 60.0  # no_standing: a vehicle stopped this long is standing
DEFAULT_PARK_S = 300.0  # double_parking: stopped this long in a travel lane is parked
DEFAULT_BOX_S = 20.0  # block_the_box: stationary this long inside the intersection
DEFAULT_SWEEP_INTERVAL_S = 300  # how often the scheduler sweeps every camera (Terraform)
MAX_DWELL_S = 24 * 3600.0


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Congestion(_Strict):
    """When a roadway or intersection zone is congested: vehicles over a threshold, by count
    or by the share of the zone's area their boxes cover, for consecutive observations."""

    vehicles: int | None = Field(
        None, ge=1, le=1000, description="Vehicles anchored in the zone at or above this."
    )
    share: float | None = Field(
        None, gt=0, le=1, description="Share of the zone's area covered by vehicle boxes."
    )
    observations: int = Field(
        3, ge=1, le=100, description="Consecutive observations over the threshold to open."
    )

    @model_validator(mode="after")
    def _has_a_threshold(self) -> Congestion:
        if self.vehicles is None and self.share is None:
            raise ValueError("congestion needs vehicles or share (or both)")
        return self


def dwell_field(what: str) -> float | None:
    """A dwell threshold field (seconds, 0 to 24 h), None meaning the default."""
    found: float | None = Field(None, ge=0, le=MAX_DWELL_S, description=what)
    return found


def burst_span_s(source: str, frames: int, spacing_s: float) -> float:
    """Seconds a burst spans for sure. Polled sources (snapshots, ``gs://``, images) take one
    frame every ``spacing_s``. ``rtsp://`` streams, video files and HLS playlists read frames
    of the stream as it is (an HLS burst spreads them over the newest segment, a few seconds at
    most), so they count as 0; so does an MJPEG stream, which reads consecutive parts but
    cannot be told from a snapshot URL here (declare ``sweep_interval_s`` for it)."""
    consecutive = source.startswith("rtsp://") or urlsplit(source).path.lower().endswith(
        (".avi", ".mp4", ".mkv", ".mov", ".ts", ".webm", ".m3u8")
    )
    return 0.0 if consecutive else max(0, frames - 1) * spacing_s


def can_measure(dwell_s: float, span_s: float, sweep_interval_s: float) -> bool:
    """Whether a camera can see a vehicle stay ``dwell_s``: a burst spanning that long, or
    sweeps at most that far apart (two observations bracket the dwell)."""
    return span_s >= dwell_s or sweep_interval_s <= dwell_s
