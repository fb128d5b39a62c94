"""The violation rules: small classes bound to one zone, with one pure method each.

A rule looks at a :class:`Scene` (a frame's detections, their tracks, the time) and returns a
:class:`Finding` for each road user (or zone) it concerns right now, whether or not its dwell
is reached yet: the lifecycle (:mod:`shared.domain.lifecycle`) opens a violation when a finding
is ``ready``, keeps it open while findings continue, and closes it when they stop. So a parked
car whose box jitters for one frame is still the same violation. See docs/design/rules.md.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np
import numpy.typing as npt

from shared.domain.detections import Detections
from shared.domain.records import Box, rounded_box
from shared.domain.registry import Camera, Zone, ZoneType
from shared.domain.rule_config import DEFAULT_BOX_S, DEFAULT_PARK_S, DEFAULT_STOP_S, Congestion
from shared.domain.schedules import is_active
from shared.domain.tracks import Track
from shared.domain.zones import PolygonZone, confidence

VEHICLES = ("car", "truck", "bus", "motorcycle")
LANE_RESTRICTED: dict[ZoneType, tuple[str, ...]] = {
    ZoneType.BUS_LANE: ("car", "truck", "motorcycle"),
    ZoneType.BIKE_LANE: ("car", "truck", "bus", "motorcycle"),
}
# Which rule a stationary vehicle breaks in which zone.
STATIONARY_RULES: dict[ZoneType, str] = {
    ZoneType.NO_STANDING: "no_standing",
    ZoneType.DOUBLE_PARKING: "double_parking",
    ZoneType.INTERSECTION: "block_the_box",
}


@dataclass(frozen=True)
class Scene:
    """One new frame as the rules see it. ``track_ids`` is parallel to ``detections``;
    ``tracks`` are the camera's open tracks after this frame, by id."""

    detections: Detections
    track_ids: tuple[str, ...]
    tracks: Mapping[str, Track]
    frame_size: tuple[int, int]
    now_ms: int


@dataclass(frozen=True)
class Finding:
    """A rule holding for a road user (``subject`` = its track id) or a zone (congestion).

    ``since_ms`` is when it began to hold (None: the lifecycle counts from the first of the
    consecutive observations); ``ready`` whether its dwell is reached; a violation opens once
    it is ready and has held ``observations`` observations in a row.
    """

    type: str
    zone: str
    subject: str
    track_id: str | None
    class_name: str
    box: Box
    score: float  # detection score x zone overlap, before the dwell factor
    since_ms: int | None
    needed_s: float  # the dwell the rule asks for (0: none)
    ready: bool
    observations: int = 1

    @property
    def key(self) -> str:
        """Which violation this finding belongs to: the zone and the subject."""
        return f"{self.zone}/{self.subject}"


class Rule(Protocol):
    """A rule bound to one zone of a camera."""

    @property
    def type(self) -> str:
        """The violation type it finds."""
        ...

    def find(self, scene: Scene) -> list[Finding]:
        """What holds in this frame."""
        ...


def _anchored(
    scene: Scene, polygon: PolygonZone, classes: tuple[str, ...]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]]:
    """Indices of detections of ``classes`` anchored (bottom-centre) in the zone, and every
    detection's confidence from score and overlap."""
    d = scene.detections
    hit = polygon.contains(d) & np.isin(d.class_name, classes)
    return np.flatnonzero(hit), confidence(d.confidence, polygon.overlap(d))


@dataclass(frozen=True)
class _TrackRule:
    """Road users of some classes anchored in a zone; ``since`` says from when each counts."""

    type: str
    zone: Zone
    classes: tuple[str, ...]
    needed_s: float

    def since(self, track: Track) -> int | None:
        """When the rule began to hold for this road user (None: not yet)."""
        return track.first_seen_ms

    def find(self, scene: Scene) -> list[Finding]:
        """A finding per road user of the classes anchored in the zone."""
        found: list[Finding] = []
        hits, scores = _anchored(scene, PolygonZone(self.zone, scene.frame_size), self.classes)
        for i in hits:
            track_id = scene.track_ids[i]
            track = scene.tracks.get(track_id)
            since = self.since(track) if track else None
            dwell_s = (scene.now_ms - since) / 1000 if since is not None else -1.0
            found.append(
                Finding(
                    self.type,
                    self.zone.name,
                    track_id,
                    track_id,
                    str(scene.detections.class_name[i]),
                    rounded_box(scene.detections.xyxy[i]),
                    round(float(scores[i]), 4),
                    since,
                    self.needed_s,
                    dwell_s >= self.needed_s,
                )
            )
        return found


class LaneRule(_TrackRule):
    """``bus_lane`` / ``bike_lane``: a restricted vehicle in the lane (after the zone's
    ``dwell_s``, default 0, counted from when its track began: crossing or turning vehicles
    stay under it)."""


class StationaryRule(_TrackRule):
    """``no_standing`` / ``double_parking`` / ``block_the_box``: a vehicle in the zone that has
    not moved (its track is stationary) for the threshold."""

    def since(self, track: Track) -> int | None:
        """When it stopped moving (None: it is moving)."""
        return track.stationary_since_ms


@dataclass(frozen=True)
class PedestrianRule(_TrackRule):
    """``pedestrian_in_roadway``: a person anchored in a roadway zone and in no crosswalk."""

    crosswalks: tuple[Zone, ...] = ()

    def find(self, scene: Scene) -> list[Finding]:
        """Persons in the roadway, less those in a crosswalk."""
        found = super().find(scene)
        if not found or not self.crosswalks:
            return found
        d = scene.detections
        crossing = np.zeros(len(d), bool)
        for zone in self.crosswalks:
            crossing |= PolygonZone(zone, scene.frame_size).contains(d)
        safe = {scene.track_ids[i] for i in np.flatnonzero(crossing)}
        return [f for f in found if f.subject not in safe]


@dataclass(frozen=True)
class CongestionRule:
    """``congestion``: vehicles anchored in the zone at or over a count, or covering at least a
    share of its area, for consecutive observations (one finding for the zone)."""

    zone: Zone
    watch: Congestion
    type: str = "congestion"

    def find(self, scene: Scene) -> list[Finding]:
        """One finding while the zone is over either threshold."""
        polygon = PolygonZone(self.zone, scene.frame_size)
        hits, scores = _anchored(scene, polygon, VEHICLES)
        if len(hits) == 0:
            return []
        boxes = scene.detections.xyxy[hits]
        covered = polygon.covered_share(boxes)
        over = (self.watch.vehicles is not None and len(hits) >= self.watch.vehicles) or (
            self.watch.share is not None and covered >= self.watch.share
        )
        if not over:
            return []
        names = Counter(str(n) for n in scene.detections.class_name[hits])
        union = np.concatenate([boxes[:, :2].min(axis=0), boxes[:, 2:].max(axis=0)])
        return [
            Finding(
                self.type,
                self.zone.name,
                "zone",
                None,
                names.most_common(1)[0][0],
                rounded_box(union),
                round(float(scores[hits].mean()), 4),
                None,
                0.0,
                True,
                self.watch.observations,
            )
        ]


def rules_for(camera: Camera, at: datetime | None = None) -> list[Rule]:
    """The camera's rules, one per zone and rule, for the zones active at ``at`` (schedules,
    in the camera's time zone; no ``at``: every zone)."""
    active = [z for z in camera.zones if at is None or is_active(z.schedule, at, camera.timezone)]
    crosswalks = tuple(z for z in active if z.type is ZoneType.CROSSWALK)
    limits = camera.rules
    defaults = {
        ZoneType.NO_STANDING: limits.stop_s if limits.stop_s is not None else DEFAULT_STOP_S,
        ZoneType.DOUBLE_PARKING: limits.park_s if limits.park_s is not None else DEFAULT_PARK_S,
        ZoneType.INTERSECTION: limits.box_s if limits.box_s is not None else DEFAULT_BOX_S,
    }
    rules: list[Rule] = []
    for zone in active:
        needed = zone.dwell_s
        if zone.type in LANE_RESTRICTED:
            rules.append(LaneRule(zone.type.value, zone, LANE_RESTRICTED[zone.type], needed or 0.0))
        elif zone.type in STATIONARY_RULES:
            wait = needed if needed is not None else defaults[zone.type]
            rules.append(StationaryRule(STATIONARY_RULES[zone.type], zone, VEHICLES, wait))
        elif zone.type is ZoneType.ROADWAY:
            rules.append(
                PedestrianRule(
                    "pedestrian_in_roadway", zone, ("person",), needed or 0.0, crosswalks
                )
            )
        if zone.congestion is not None:
            rules.append(CongestionRule(zone, zone.congestion))
    return rules


def rule_types(camera: Camera) -> list[str]:
    """Every rule type the camera has a zone for, whatever the time (their books are kept)."""
    return sorted({rule.type for rule in rules_for(camera)})


def evaluate(rules: list[Rule], scene: Scene) -> dict[str, list[Finding]]:
    """The findings of every rule on a scene, by rule type."""
    found: dict[str, list[Finding]] = {}
    if len(scene.detections) == 0:
        return found
    for rule in rules:
        found.setdefault(rule.type, []).extend(rule.find(scene))
    return found
