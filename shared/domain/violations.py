"""Violations: what a rule finds in a frame, and the record kept of it.

A :class:`ViolationRecord` is one event of a violation's lifecycle (``open``, ``update``,
``close``): one ``violations`` row, an item of the HTTP answer and, for ``open``, the
``violations`` Pub/Sub message that asks for an alert (``schemas/pubsub/violation.schema.json``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from shared.domain.records import Box, box_dict, box_of
from shared.domain.timestamps import canonical_timestamp

Event = Literal["open", "update", "close"]


@dataclass(frozen=True)
class ViolationRecord:
    """A violation as recorded: which frame, which evidence, whether it was alerted."""

    table: ClassVar[str] = "violations"
    schema: ClassVar[str] = "violation"

    violation_id: str
    camera_id: str
    event_time: str  # ISO 8601, UTC: the frame's time
    type: str
    zone: str
    class_name: str
    confidence: float
    box: Box
    observation_id: str
    evidence_uri: str
    alerted: bool = False
    sweep_id: str | None = None
    event: Event = "open"
    event_seq: int = 0  # 0 for open, then one more per update and for the close
    track_id: str | None = None  # None: a zone's violation (congestion)
    started_at: str | None = None  # ISO 8601, UTC: when the rule began to hold
    last_seen_at: str | None = None  # ISO 8601, UTC: the last frame that showed it
    dwell_s: float | None = None  # started_at to last_seen_at
    evidence_url: str | None = None  # a signed URL of the evidence: messages only, never rows

    @property
    def row_id(self) -> str:
        """The row's id (and insertId): the violation id for the open event (as before
        lifecycles), ``{violation_id}.{event_seq}`` for the later ones."""
        return self.violation_id if self.event_seq == 0 else f"{self.violation_id}.{self.event_seq}"

    def _common(self) -> dict[str, Any]:
        return {
            "violation_id": self.violation_id,
            "camera_id": self.camera_id,
            "event_time": self.event_time,
            "type": self.type,
            "zone": self.zone,
            "class_name": self.class_name,
            "confidence": self.confidence,
            "box": box_dict(self.box),
            "observation_id": self.observation_id,
            "evidence_uri": self.evidence_uri,
            "event": self.event,
            "event_seq": self.event_seq,
            "track_id": self.track_id,
            "started_at": self.started_at,
            "last_seen_at": self.last_seen_at,
            "dwell_s": self.dwell_s,
        }

    def as_row(self) -> dict[str, Any]:
        """The ``violations`` row (also the item of the HTTP answer)."""
        return {**self._common(), "alerted": self.alerted}

    def as_message(self) -> dict[str, Any]:
        """The ``violations`` message that asks the alert dispatcher for an alert (with the
        signed evidence URL, when the recorder signed one)."""
        url = {"evidence_url": self.evidence_url} if self.evidence_url else {}
        return {**self._common(), "sweep_id": self.sweep_id, **url}

    @classmethod
    def from_message(cls, data: dict[str, Any]) -> ViolationRecord:
        """A record from a message already checked against its schema; ``event_time`` is
        rewritten in UTC (``2026-11-29t16:21:14z`` is valid RFC 3339, but not for BigQuery).

        Raises:
            MessageRejectedError: ``event_time`` is not an RFC 3339 date-time.
        """
        return cls(
            violation_id=data["violation_id"],
            camera_id=data["camera_id"],
            event_time=canonical_timestamp(data["event_time"]),
            type=data["type"],
            zone=data["zone"],
            class_name=data["class_name"],
            confidence=float(data["confidence"]),
            box=box_of(data["box"]),
            observation_id=data["observation_id"],
            evidence_uri=data["evidence_uri"],
            alerted=True,
            sweep_id=data.get("sweep_id"),
            event=data.get("event", "open"),
            event_seq=int(data.get("event_seq", 0)),
            track_id=data.get("track_id"),
            started_at=_utc(data.get("started_at")),
            last_seen_at=_utc(data.get("last_seen_at")),
            dwell_s=None if data.get("dwell_s") is None else float(data["dwell_s"]),
            evidence_url=data.get("evidence_url"),
        )


def _utc(value: str | None) -> str | None:
    return None if value is None else canonical_timestamp(value)
