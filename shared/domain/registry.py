"""The camera registry: pydantic models that forbid typos, loaded from YAML.

The models are kept in step with ``schemas/camera_registry.schema.json`` by a unit test.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from shared.domain.rule_config import (
    DEFAULT_BOX_S,
    DEFAULT_SWEEP_INTERVAL_S,
    Congestion,
    burst_span_s,
    can_measure,
    dwell_field,
)
from shared.domain.schedules import Window, time_zone
from shared.errors import CameraNotFoundError, ConfigError

ROAD_USERS = ("person", "bicycle", "car", "motorcycle", "bus", "truck")
CAMERA_ID = r"^[a-z0-9][a-z0-9_-]{1,62}$"
_VAR = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")


class ZoneType(StrEnum):
    """What a zone on the road is for."""

    BUS_LANE = "bus_lane"
    BIKE_LANE = "bike_lane"
    CROSSWALK = "crosswalk"
    DOUBLE_PARKING = "double_parking"
    INTERSECTION = "intersection"
    NO_STANDING = "no_standing"
    ROADWAY = "roadway"


RoadUser = Annotated[str, Field(pattern=f"^({'|'.join(ROAD_USERS)})$")]
Point = Annotated[list[Annotated[float, Field(ge=0.0, le=1.0)]], Field(min_length=2, max_length=2)]
Polygon = Annotated[list[Point], Field(min_length=3)]
Score = Annotated[float, Field(ge=0, le=1)]


def _area(polygon: list[list[float]]) -> float:
    """The shoelace area of a polygon."""
    return (
        abs(
            sum(
                x1 * y2 - x2 * y1
                for (x1, y1), (x2, y2) in zip(polygon, polygon[1:] + polygon[:1], strict=True)
            )
        )
        / 2
    )


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Location(_Strict):
    """Where the camera stands (WGS84)."""

    lat: float = Field(..., ge=-90, le=90, description="Latitude in degrees.")
    lon: float = Field(..., ge=-180, le=180, description="Longitude in degrees.")


class Zone(_Strict):
    """A named polygon in normalised image coordinates (0..1, x right, y down)."""

    name: str = Field(..., min_length=1, max_length=64, description="Unique within the camera.")
    type: ZoneType = Field(..., description="What the zone is for.")
    polygon: list[Point] = Field(..., min_length=3, description="Vertices [x, y] in 0..1.")
    schedule: list[Window] | None = Field(
        None, min_length=1, description="When the zone is active (local); none: always."
    )
    dwell_s: float | None = dwell_field("Seconds the zone's rule must hold before it opens.")
    congestion: Congestion | None = Field(
        None, description="Congestion watch (roadway and intersection zones)."
    )

    @model_validator(mode="after")
    def _congestion_on_roads(self) -> Zone:
        if self.congestion and self.type not in (ZoneType.ROADWAY, ZoneType.INTERSECTION):
            raise ValueError(
                f"congestion is watched on roadway or intersection zones, not {self.type}"
            )
        return self

    @field_validator("polygon")
    @classmethod
    def _has_area(cls, polygon: list[list[float]]) -> list[list[float]]:
        if _area(polygon) < 1e-6:
            raise ValueError("polygon has no area (collinear or repeated vertices)")
        return polygon


class CameraRules(_Strict):
    """Per-camera overrides of the detection settings."""

    min_score: float | None = Field(None, ge=0, le=1, description="Minimum detection score.")
    classes: list[RoadUser] | None = Field(None, min_length=1, description="Road users to keep.")
    stale_after_s: int | None = Field(None, gt=0, description="Same frame this long: stale.")
    min_scores: dict[RoadUser, Score] | None = Field(
        None, description="Minimum score per class (beside min_score)."
    )
    min_area: float | None = Field(None, ge=0, le=1, description="Smallest box, share of frame.")
    max_area: float | None = Field(None, gt=0, le=1, description="Largest box, share of frame.")
    masks: list[Polygon] | None = Field(
        None, min_length=1, description="Ignore masks: detections anchored inside are dropped."
    )
    stop_s: float | None = dwell_field("no_standing: seconds stationary (default 60).")
    park_s: float | None = dwell_field("double_parking: seconds stationary (default 300).")
    box_s: float | None = dwell_field("block_the_box: seconds stationary (default 20).")

    @field_validator("masks")
    @classmethod
    def _masks_have_area(
        cls, masks: list[list[list[float]]] | None
    ) -> list[list[list[float]]] | None:
        if masks and any(_area(m) < 1e-6 for m in masks):
            raise ValueError("a mask has no area (collinear or repeated vertices)")
        return masks

    @model_validator(mode="after")
    def _area_bounds(self) -> CameraRules:
        low, high = self.min_area, self.max_area
        if low is not None and high is not None and low >= high:
            raise ValueError(f"min_area {low} must be below max_area {high}")
        return self


class Burst(_Strict):
    """A burst of consecutive frames per camera job (the default is one frame)."""

    frames: int = Field(..., ge=1, le=10, description="Frames per burst.")
    spacing_s: float = Field(
        ..., ge=0, le=30, description="Seconds between a snapshot camera's frames (polled)."
    )


class Camera(_Strict):
    """One camera: where its frames come from and what to watch for."""

    id: str = Field(..., pattern=CAMERA_ID, description="Stable id used in keys and URLs.")
    name: str = Field(..., min_length=1, max_length=200, description="Human-readable name.")
    source: str = Field(
        ...,
        min_length=1,
        description="http(s):// JPEG snapshot URL, gs://bucket/object, rtsp:// stream, or path.",
    )
    location: Location
    zones: list[Zone] = Field(default_factory=list, description="Named restricted areas.")
    rules: CameraRules = Field(
        default_factory=lambda: CameraRules(), description="Per-camera settings."
    )
    burst: Burst | None = Field(None, description="Consecutive frames per job; none: one.")
    timezone: str | None = Field(
        None, description="IANA time zone (e.g. America/Los_Angeles); needed by schedules."
    )
    sweep_interval_s: int | None = Field(
        None, gt=0, le=86400, description="Seconds between sweeps of it (default 300)."
    )

    @model_validator(mode="after")
    def _can_measure_the_box(self) -> Camera:
        """block_the_box needs a burst or sweeps that can see a vehicle stay its dwell."""
        interval = self.sweep_interval_s or DEFAULT_SWEEP_INTERVAL_S
        span = (
            burst_span_s(self.source, self.burst.frames, self.burst.spacing_s) if self.burst else 0
        )
        for zone in self.zones:
            if zone.type is not ZoneType.INTERSECTION:
                continue
            dwell = next(
                d for d in (zone.dwell_s, self.rules.box_s, DEFAULT_BOX_S) if d is not None
            )
            if not can_measure(dwell, span, interval):
                raise ValueError(
                    f"zone {zone.name!r}: block_the_box needs {dwell:g} s measured, but the "
                    f"camera's burst spans {span:g} s and it is swept every {interval} s: add a "
                    "burst that spans it or set sweep_interval_s to it or less"
                )
        return self

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str | None) -> str | None:
        if name is not None:
            time_zone(name)
        return name

    @model_validator(mode="after")
    def _schedules_have_a_zone(self) -> Camera:
        scheduled = [z.name for z in self.zones if z.schedule]
        if scheduled and self.timezone is None:
            raise ValueError(f"zones {scheduled} have a schedule: the camera needs a timezone")
        return self

    @field_validator("zones")
    @classmethod
    def _unique_zone_names(cls, zones: list[Zone]) -> list[Zone]:
        names = [z.name for z in zones]
        if len(names) != len(set(names)):
            raise ValueError(f"zone names must be unique, got {names}")
        return zones


class Registry(_Strict):
    """All cameras, with unique ids."""

    cameras: list[Camera] = Field(..., min_length=1)

    @field_validator("cameras")
    @classmethod
    def _unique_ids(cls, cameras: list[Camera]) -> list[Camera]:
        dupes = [cid for cid, n in Counter(c.id for c in cameras).items() if n > 1]
        if dupes:
            raise ValueError(f"duplicate camera ids: {sorted(dupes)}")
        return cameras

    def get(self, camera_id: str) -> Camera:
        """The camera with this id, or :class:`CameraNotFoundError`."""
        for camera in self.cameras:
            if camera.id == camera_id:
                return camera
        raise CameraNotFoundError(camera_id)


def expand_vars(text: str, env: dict[str, str] | None = None) -> str:
    """Replace ``${NAME}`` with environment values; an unset variable is a clear error."""
    env = dict(os.environ) if env is None else env
    missing = sorted({m for m in _VAR.findall(text) if m not in env})
    if missing:
        raise ConfigError(f"camera registry uses unset environment variables: {missing}")
    return _VAR.sub(lambda m: env[m.group(1)], text)


def parse_registry(
    text: str, origin: str = "<string>", env: dict[str, str] | None = None
) -> Registry:
    """Parse and validate registry YAML; relative file sources are kept as written.

    Raises:
        ConfigError: not YAML (or nested deeper than the YAML parser recurses), or not a
            registry; the message names each problem.
    """
    try:
        data = yaml.safe_load(expand_vars(text, env))
    except (yaml.YAMLError, RecursionError) as exc:
        raise ConfigError(f"{origin}: not valid YAML: {str(exc)[:500]}") from exc
    try:
        return Registry.model_validate(data)
    except RecursionError as exc:
        raise ConfigError(f"{origin}: invalid camera registry: nested too deeply") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"{origin}: invalid camera registry: {problems}") from exc


def load_registry(path: Path, env: dict[str, str] | None = None) -> Registry:
    """Load the registry file; relative local sources resolve against its folder."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read camera registry {path}: {exc}") from exc
    registry = parse_registry(text, str(path), env)
    cameras = [
        c.model_copy(update={"source": str((path.parent / c.source).resolve())})
        if "://" not in c.source and not Path(c.source).is_absolute()
        else c
        for c in registry.cameras
    ]
    return Registry(cameras=cameras)
