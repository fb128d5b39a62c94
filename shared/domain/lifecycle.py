"""One violation per road user: open once, update while it lasts, close when it ends.

A camera's violations of one type are a :class:`Book` (kept in Redis at
``violation:camera:{id}:type:{type}``). :func:`advance` applies a new frame's findings to it
and returns the events to record, as :class:`ViolationRecord` rows:

- ``open`` when a finding is ready (its dwell reached) and has held its observations in a row,
  and no violation of that key (zone and subject) is open: the only event that alerts;
- ``update`` for an open violation whose finding continues (ready or not: a parked car whose
  box jitters for one frame stays one violation);
- ``close`` when it no longer does: its track ended, or its road user is seen out of the zone
  (or the zone's schedule ended). A road user hidden this frame (its track open, not seen)
  keeps the violation open without an event.

Applying the same frame twice (a retried job) changes nothing and gives the same events again,
so rows stay idempotent and an unpublished alert is published by the retry. A book of the old
kind (the seed's claim string, ``pending`` or ``done``) is one open violation already alerted:
the first ready finding takes it over without an alert. See docs/design/rules.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from shared.domain.records import Box
from shared.domain.rules import Finding
from shared.domain.violations import Event, ViolationRecord

BOOK_TTL_S = 24 * 3600  # refreshed on every update


def dwell_factor(dwell_s: float, needed_s: float) -> float:
    """The time part of a dwell rule's confidence: 0.9 when the dwell just reaches the
    threshold, rising to 1 at twice it; 1 for rules without a dwell."""
    if needed_s <= 0:
        return 1.0
    return min(1.0, 0.8 + 0.1 * max(dwell_s, 0.0) / needed_s)


@dataclass(frozen=True)
class OpenViolation:
    """A violation that is open: what its events repeat, and how far it has come."""

    violation_id: str
    key: str
    zone: str
    track_id: str | None
    class_name: str
    box: Box
    confidence: float
    started_ms: int
    last_seen_ms: int
    seq: int
    evidence_uri: str
    published: bool  # its open event reached the violations topic

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OpenViolation:
        """Inverse of ``dataclasses.asdict``."""
        x1, y1, x2, y2 = (float(v) for v in data["box"])
        return cls(**{**data, "box": (x1, y1, x2, y2)})


@dataclass(frozen=True)
class Book:
    """A camera's violations of one type: the open ones, the findings' consecutive
    observations (key: [count, since_ms]), and the last frame applied with its events."""

    frame: str = ""
    open: tuple[OpenViolation, ...] = ()
    held: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    events: tuple[dict[str, Any], ...] = ()  # the last frame's events, to give again
    legacy: bool = False  # an old claim: one open violation, already alerted

    def to_json(self) -> str:
        """The JSON document kept in Redis."""
        return json.dumps(
            {
                "frame": self.frame,
                "open": [asdict(o) for o in self.open],
                "held": {k: list(v) for k, v in self.held.items()},
                "events": list(self.events),
                "legacy": self.legacy,
            }
        )

    @classmethod
    def from_json(cls, text: str | None) -> Book:
        """Inverse of :meth:`to_json`; nothing is an empty book, a claim string a legacy one."""
        if not text:
            return cls()
        if not text.startswith("{"):  # the seed's claim: "pending" or "done"
            return cls(legacy=True)
        data = json.loads(text)
        return cls(
            str(data["frame"]),
            tuple(OpenViolation.from_dict(o) for o in data["open"]),
            {k: (int(n), int(since)) for k, (n, since) in data["held"].items()},
            tuple(data["events"]),
            bool(data.get("legacy", False)),
        )


@dataclass(frozen=True)
class EventFrame:
    """The frame the findings come from, as the rows name it."""

    camera_id: str
    hash: str
    now_ms: int
    event_time: str  # ISO 8601, UTC: the observation's time, on every row of the frame
    observation_id: str
    evidence_dir: str  # gs://bucket/evidence/{camera}/{yyyy}/{mm}/{dd}/: this frame's evidence
    sweep_id: str | None

    def evidence_of(self, violation_id: str) -> str:
        """Where the evidence of a violation that opens on this frame goes."""
        return f"{self.evidence_dir}{violation_id}.jpg"


def advance(
    book: Book,
    type_: str,
    findings: list[Finding],
    frame: EventFrame,
    alive: Collection[str],
    seen: Collection[str],
    new_id: Callable[[str], str],
) -> tuple[Book, list[ViolationRecord]]:
    """Apply a frame's findings of one type (``type_``); the new book and the events to record.

    ``alive`` are the camera's open track ids after the frame, ``seen`` those in the frame;
    ``new_id(key)`` gives a new violation its id.
    """
    if book.frame and book.frame == frame.hash:
        return book, [_record(e) for e in book.events]
    by_key = {f.key: f for f in findings}
    held = {
        key: (book.held[key][0] + 1, book.held[key][1]) if key in book.held else (1, frame.now_ms)
        for key in by_key
    }
    events: list[ViolationRecord] = []
    still: list[OpenViolation] = []
    for violation in book.open:
        found = by_key.get(violation.key)
        if found is not None:
            violation = _seen(violation, found, frame.now_ms)
            still.append(violation)
            events.append(_event(violation, "update", type_, frame))
        elif violation.track_id in alive and violation.track_id not in seen:
            still.append(violation)  # hidden for now: no news
        else:
            closed = replace(violation, seq=violation.seq + 1)
            events.append(_event(closed, "close", type_, frame))
    legacy = book.legacy
    taken = {v.key for v in book.open}
    for key, found in by_key.items():
        if key in taken or not found.ready or held[key][0] < found.observations:
            continue
        started = found.since_ms if found.since_ms is not None else held[key][1]
        violation_id = new_id(key)
        opened = OpenViolation(
            violation_id=violation_id,
            key=key,
            zone=found.zone,
            track_id=found.track_id,
            class_name=found.class_name,
            box=found.box,
            confidence=_confidence(found, started, frame.now_ms),
            started_ms=started,
            last_seen_ms=frame.now_ms,
            seq=0,
            evidence_uri=frame.evidence_of(violation_id),
            published=legacy,  # the old claim's alert went out already
        )
        legacy = False
        still.append(opened)
        events.append(_event(opened, "open", type_, frame))
    rows = tuple(_message(e) for e in events)
    return Book(frame.hash, tuple(still), held, rows, legacy), events


def published(book: Book, violation_ids: Collection[str]) -> Book:
    """The book with these violations' open events marked as published."""
    marked = tuple(
        replace(v, published=True) if v.violation_id in violation_ids else v for v in book.open
    )
    return replace(book, open=marked)


def unpublished(book: Book, events: list[ViolationRecord]) -> list[ViolationRecord]:
    """The open events whose alert has not been published yet."""
    done = {v.violation_id for v in book.open if v.published}
    return [e for e in events if e.event == "open" and e.violation_id not in done]


def _seen(violation: OpenViolation, found: Finding, now_ms: int) -> OpenViolation:
    return replace(
        violation,
        box=found.box,
        class_name=found.class_name,
        confidence=_confidence(found, violation.started_ms, now_ms),
        last_seen_ms=now_ms,
        seq=violation.seq + 1,
    )


def _confidence(found: Finding, started_ms: int, now_ms: int) -> float:
    dwell_s = (now_ms - started_ms) / 1000
    return round(found.score * dwell_factor(dwell_s, found.needed_s), 4)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def _event(v: OpenViolation, event: Event, type_: str, frame: EventFrame) -> ViolationRecord:
    return ViolationRecord(
        violation_id=v.violation_id,
        camera_id=frame.camera_id,
        event_time=frame.event_time,
        type=type_,
        zone=v.zone,
        class_name=v.class_name,
        confidence=v.confidence,
        box=v.box,
        observation_id=frame.observation_id,
        evidence_uri=v.evidence_uri,
        alerted=event == "open",
        sweep_id=frame.sweep_id,
        event=event,
        event_seq=v.seq,
        track_id=v.track_id,
        started_at=_iso(v.started_ms),
        last_seen_at=_iso(v.last_seen_ms),
        dwell_s=round(max(0, v.last_seen_ms - v.started_ms) / 1000, 3),
    )


def _message(record: ViolationRecord) -> dict[str, Any]:
    return {**record.as_message(), "alerted": record.alerted}


def _record(data: dict[str, Any]) -> ViolationRecord:
    return replace(ViolationRecord.from_message(data), alerted=bool(data["alerted"]))
