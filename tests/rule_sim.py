"""Rules, tracks and lifecycles over a sequence of frames, in memory: the pure pipeline the
violation recorder runs against Redis, for table-driven tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from shared.domain.detections import Detections
from shared.domain.lifecycle import Book, EventFrame, advance, published, unpublished
from shared.domain.registry import Camera, Zone
from shared.domain.rules import Finding, Scene, evaluate, rule_types, rules_for
from shared.domain.tracks import CameraTracks, TrackConfig, Tracker, counter_ids
from shared.domain.violations import ViolationRecord

BoxT = tuple[float, float, float, float]
Row = tuple[str, float, BoxT]  # class, score, box
SIZE = (200, 100)  # width, height
T0 = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)  # a Monday


def dets(*rows: Row) -> Detections:
    """Detections from (class, score, box) rows."""
    return Detections(
        np.array([r[2] for r in rows], np.float32).reshape(-1, 4),
        np.array([r[1] for r in rows], np.float32),
        np.zeros(len(rows), np.int64),
        np.array([r[0] for r in rows], dtype=object),
    )


def camera(*zones: Zone, **fields: Any) -> Camera:
    """A camera with these zones (and other fields, e.g. ``rules``, ``timezone``)."""
    return Camera.model_validate(
        {
            "id": "cam-sim",
            "name": "sim",
            "source": "http://127.0.0.1/x.jpg",
            "location": {"lat": 0, "lon": 0},
            "zones": [z.model_dump() for z in zones],
            **fields,
        }
    )


def one_frame(
    cam: Camera,
    found: Detections,
    at: datetime | None = None,
    size: tuple[int, int] = SIZE,
) -> list[Finding]:
    """Every finding of one frame seen by a fresh camera (each detection a new track)."""
    tracker = Tracker(TrackConfig(), counter_ids())
    update = tracker.update(CameraTracks(""), "f0", found, 0)
    scene = Scene(found, update.track_ids, {t.track_id: t for t in update.state.tracks}, size, 0)
    return [f for fs in evaluate(rules_for(cam, at), scene).values() for f in fs]


@dataclass
class Simulation:
    """A camera seen frame after frame: tracks, rules and one book per rule type."""

    cam: Camera
    config: TrackConfig = field(default_factory=lambda: TrackConfig(max_gap_s=900))
    start: datetime = T0
    tracks: CameraTracks = field(default_factory=lambda: CameraTracks(""))
    books: dict[str, Book] = field(default_factory=dict)
    frames: int = 0

    def __post_init__(self) -> None:
        self._tracker = Tracker(self.config, counter_ids())

    def see(self, at_s: float, *rows: Row, frame: str | None = None) -> list[ViolationRecord]:
        """A frame ``at_s`` seconds after the start; its events (open events published)."""
        self.frames += 1
        frame_hash = frame or f"f{self.frames}"
        now_ms = int(self.start.timestamp() * 1000 + at_s * 1000)
        found = dets(*rows)
        update = self._tracker.update(self.tracks, frame_hash, found, now_ms)
        self.tracks = update.state
        scene = Scene(
            found, update.track_ids, {t.track_id: t for t in update.state.tracks}, SIZE, now_ms
        )
        at = datetime.fromtimestamp(now_ms / 1000, UTC)
        findings = evaluate(rules_for(self.cam, at), scene)
        info = EventFrame(
            self.cam.id,
            frame_hash,
            now_ms,
            at.isoformat(),
            f"obs-{frame_hash}",
            f"gs://b/evidence/{self.cam.id}/",
            None,
        )
        alive = {t.track_id for t in update.state.tracks}
        events: list[ViolationRecord] = []
        for type_ in rule_types(self.cam):

            def new_id(key: str, t: str = type_) -> str:
                return f"{t}:{key}:{frame_hash}"

            book, evs = advance(
                self.books.get(type_, Book()),
                type_,
                findings.get(type_, []),
                info,
                alive,
                set(update.track_ids),
                new_id,
            )
            ids = {e.violation_id for e in unpublished(book, evs)}
            self.books[type_] = published(book, ids)
            events += evs
        return events


def summary(events: list[ViolationRecord]) -> list[tuple[str, str, str | None, int]]:
    """(event, type, track id, event_seq) of each event, in order."""
    return [(e.event, e.type, e.track_id, e.event_seq) for e in events]
