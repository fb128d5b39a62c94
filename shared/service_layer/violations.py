"""Recording the violations of a new frame: the rules, each violation's lifecycle, its alert.

The camera's rules (:mod:`shared.domain.rules`) find what holds in the frame; for each rule
type the camera has, its book of open violations (``violation:camera:{id}:type:{type}``,
24 h, refreshed on each update) is advanced in one optimistic Redis transaction
(:mod:`shared.domain.lifecycle`), giving the frame's open, update and close events. Each event
is a ``violations`` row (idempotent by its id); a frame that opens a violation stores its
evidence (annotated, bystanders blurred: :mod:`shared.service_layer.evidence`) once per
new violation, beside the rows; then each open event not yet published goes to the
``violations`` topic for alerting, with a signed URL of its evidence, and is marked published
in the book. A failure before that leaves it unpublished, so the retry (the same frame again,
which gives the same events) publishes it: one alert per violation, however long it lasts.
Every new frame also becomes the camera's latest frame (``latest/{camera}.jpg``).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial

import numpy as np
import numpy.typing as npt

from shared.adapters.bus import EventBus
from shared.adapters.cache import Cache
from shared.adapters.warehouse import Warehouse
from shared.domain.frames import RawFrame
from shared.domain.lifecycle import BOOK_TTL_S, Book, EventFrame, advance, published, unpublished
from shared.domain.observations import Observation
from shared.domain.registry import Camera
from shared.domain.rules import Finding, Scene, evaluate, rule_types, rules_for
from shared.domain.tracks import TrackUpdate
from shared.domain.violations import ViolationRecord
from shared.service_layer.evidence import EvidenceStore, Shot
from shared.service_layer.idempotency import row_id, violation_key, write_once


@dataclass
class ViolationRecorder:
    """Applies the rules to new frames and records, stores evidence for and alerts on what
    they find."""

    cache: Cache
    warehouse: Warehouse
    evidence: EvidenceStore
    bus: EventBus
    _pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(8, thread_name_prefix="record"), repr=False
    )

    def record(
        self,
        camera: Camera,
        observation: Observation,
        raw: RawFrame,
        image: npt.NDArray[np.uint8],
        tracked: TrackUpdate,
        now_ms: int,
        owner: str = "",
    ) -> tuple[ViolationRecord, ...]:
        """The events of a new frame seen at ``now_ms``, recorded; new violations alerted.
        ``owner``: the sweep job's message id, owning the rows' claims.

        Raises:
            DependencyUnavailableError: Redis, BigQuery, storage or Pub/Sub is down; the retry
                of the same frame records and alerts what this call did not.
        """
        shot = Shot(image, observation.detections, tracked.track_ids, observation.event_time, raw)
        latest = self._pool.submit(self.evidence.write_latest, camera, shot)
        try:
            return self._record(camera, observation, shot, tracked, now_ms, owner)
        finally:
            latest.result()  # best effort: it logs its own failure

    def _record(
        self,
        camera: Camera,
        observation: Observation,
        shot: Shot,
        tracked: TrackUpdate,
        now_ms: int,
        owner: str,
    ) -> tuple[ViolationRecord, ...]:
        types = rule_types(camera)
        if not types:
            return ()
        info = observation.frame
        scene = Scene(
            observation.detections,
            tracked.track_ids,
            {t.track_id: t for t in tracked.state.tracks},
            (info.width, info.height),
            now_ms,
        )
        found = evaluate(rules_for(camera, datetime.fromisoformat(observation.event_time)), scene)
        frame = EventFrame(
            camera.id,
            info.hash,
            now_ms,
            observation.event_time,
            observation.observation_id,
            self.evidence.evidence_dir(camera.id, observation.event_time),
            observation.sweep_id,
        )
        alive = {t.track_id for t in tracked.state.tracks}
        seen = set(tracked.track_ids)
        books: dict[str, tuple[Book, list[ViolationRecord]]] = {}
        for type_ in types:
            change = partial(self._advance, type_, found.get(type_, []), frame, alive, seen)
            books[type_] = self.cache.update(violation_key(camera.id, type_), change, BOOK_TTL_S)
        events = [e for _, evs in books.values() for e in evs]
        if not events:
            return ()
        jobs: list[Future[object]] = [
            self._pool.submit(self.evidence.write_violation, camera, e, shot, owner)
            for e in events
            if e.event == "open" and e.evidence_uri == frame.evidence_of(e.violation_id)
        ]
        jobs += [
            self._pool.submit(write_once, self.cache, self.warehouse, e, owner) for e in events
        ]
        errors = [e for e in (job.exception() for job in jobs) if e is not None]
        if errors:
            raise errors[0]
        for type_, (book, evs) in books.items():
            self._publish(camera.id, type_, unpublished(book, evs))
        return tuple(events)

    @staticmethod
    def _advance(
        type_: str,
        findings: list[Finding],
        frame: EventFrame,
        alive: set[str],
        seen: set[str],
        current: str | None,
    ) -> tuple[str, tuple[Book, list[ViolationRecord]]]:
        """One book's change (pure: it may run again when another writer got in first)."""

        def new_id(key: str) -> str:
            return row_id(frame.camera_id, type_, key, frame.hash)

        book, events = advance(Book.from_json(current), type_, findings, frame, alive, seen, new_id)
        return book.to_json(), (book, events)

    def _publish(self, camera_id: str, type_: str, opened: list[ViolationRecord]) -> None:
        """Publish open events for alerting, then mark them published in the book."""
        if not opened:
            return
        for record in opened:
            signed = replace(record, evidence_url=self.evidence.url(record.evidence_uri))
            self.bus.publish("violations", [signed], camera_id=camera_id, type=type_)
        ids = {r.violation_id for r in opened}

        def mark(current: str | None) -> tuple[str, None]:
            return published(Book.from_json(current), ids).to_json(), None

        self.cache.update(violation_key(camera_id, type_), mark, BOOK_TTL_S)
