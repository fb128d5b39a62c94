"""Exactly once in effect: deterministic row ids, every Redis key, one claim for side effects.

Pub/Sub delivers at least once and two instances may take the same work, so every side effect
that must happen once (a row, a camera job, an alert, a delivery) runs inside :func:`claim`:
take a Redis key (``SET NX`` with a hold time), act, then mark it done, or release it when the
act fails so a retry does it. The BigQuery emulator ignores insertIds, and BigQuery's own dedup
is best effort, so rows are guarded the same way.

Every Redis key camwatch uses is built here:

================================================  =====================================  ====
key                                               what                                   TTL
================================================  =====================================  ====
``vision:camera:{camera_id}:frame:{hash}``        cached result of a frame               cache_ttl_s
``vision:camera:{camera_id}:bytes:{digest}``      frame hash of these encoded bytes      cache_ttl_s
``vision:camera:{camera_id}:last_frame``          last frame's hash and since when (ms)  2 x stale
``vision:camera:{camera_id}:tracks``              the camera's open tracks (JSON)        track_ttl_s
``vision:write:{table}:{row_id}``                 a row written (claim: 300 s)           24 h
``vision:job:{sweep_id}:{camera_id}``             a camera job done (claim: 300 s)       24 h
``violation:camera:{camera_id}:type:{type}``      open violations of a type (a book)     24 h
``alert:{alert_id}:{subscriber}``                 a subscriber took an alert (120 s)     7 d
``attempts:{topic}:{message_id}``                 a message's failed deliveries          1 d
``prediction:camera:{camera_id}:horizon:{min}``   a camera's forecasts (every metric)    30 min
``health:camera:{camera_id}``                     a camera's sweeps (the monitor)        1 d
``health:inference:{minute}``                     detector calls, errors, latencies      2 win
``system:{condition key}``                        a system alert's state (the monitor)   7 d
``monitor:report:{message_id}``                   one monitor tick's alerts (make run)   1 h
``ratelimit:{caller}``                            a caller's token bucket                refill
================================================  =====================================  ====
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from shared.adapters.cache import Cache
from shared.adapters.warehouse import Warehouse
from shared.domain.records import Row
from shared.errors import DependencyUnavailableError

WRITE_CLAIM_S = 300  # a writer that died mid-insert frees its claim after this (as a job's)
WRITTEN_S = 24 * 3600  # how long a written row id is remembered
JOB_CLAIM_S = 300  # longer than the camera-jobs ack deadline: a live claim means "in progress"
JOB_DONE_S = 24 * 3600
SENDING_S = 120  # a delivery in flight (longer than one webhook or SMTP try)
ATTEMPTS_S = 24 * 3600  # a message's failures are counted this long
SENT_S = 7 * 24 * 3600  # a sent alert is remembered longer than Pub/Sub keeps the message


def row_id(*parts: str) -> str:
    """Deterministic 32-hex id from its parts (used as the BigQuery insertId too)."""
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def frame_key(camera_id: str, digest: str) -> str:
    """A frame's cached result."""
    return f"vision:camera:{camera_id}:frame:{digest}"


def bytes_key(camera_id: str, bytes_digest: str) -> str:
    """The alias from a frame's encoded bytes to its frame hash."""
    return f"vision:camera:{camera_id}:bytes:{bytes_digest}"


def last_frame_key(camera_id: str) -> str:
    """The camera's last frame hash and since when it has been served."""
    return f"vision:camera:{camera_id}:last_frame"


def tracks_key(camera_id: str) -> str:
    """The camera's open tracks and the frame they were last updated with."""
    return f"vision:camera:{camera_id}:tracks"


def write_key(table: str, rid: str) -> str:
    """A row of ``table`` claimed or written."""
    return f"vision:write:{table}:{rid}"


def job_key(sweep_id: str, camera_id: str) -> str:
    """A sweep's job for one camera claimed or done."""
    return f"vision:job:{sweep_id}:{camera_id}"


def violation_key(camera_id: str, violation_type: str) -> str:
    """A camera's book of open violations of a type (the seed's name; it held a claim)."""
    return f"violation:camera:{camera_id}:type:{violation_type}"


def alert_key(alert_id: str, subscriber: str) -> str:
    """An alert (a violation's, an anomaly's or a system alert's id) claimed or taken by one
    subscriber (the simple case's ``webhook`` and ``email`` kept the keys of the channels)."""
    return f"alert:{alert_id}:{subscriber}"


def attempts_key(topic: str, message_id: str) -> str:
    """How many deliveries of a message failed (camwatch dead-letters it at the route's
    ``max_delivery_attempts``, with the last failure as its reason)."""
    return f"attempts:{topic}:{message_id}"


def prediction_key(camera_id: str, horizon_minutes: int) -> str:
    """A camera's forecasts for a horizon, every metric (the seed's format;
    ``prediction_cache_ttl_s``)."""
    return f"prediction:camera:{camera_id}:horizon:{horizon_minutes}"


def camera_health_key(camera_id: str) -> str:
    """A camera's recent sweeps: failures in a row, last error, last frame, staleness."""
    return f"health:camera:{camera_id}"


def inference_health_key(minute: int) -> str:
    """The detector's calls in one minute (``minute``: epoch seconds // 60)."""
    return f"health:inference:{minute}"


def system_alert_key(condition_key: str) -> str:
    """A system alert condition's state (``condition_key``: ``camera.offline:cam-1``)."""
    return f"system:{condition_key}"


def monitor_report_key(message_id: str) -> str:
    """What the monitor raised and resolved on one ``monitor-ticks`` message."""
    return f"monitor:report:{message_id}"


def ratelimit_key(caller: str) -> str:
    """A caller's token bucket (its tokens and last refill; lives until the bucket is full)."""
    return f"ratelimit:{caller}"


@dataclass
class Claim:
    """A key taken (or not) by :func:`claim`; ``taken`` says whether this caller holds it."""

    cache: Cache
    key: str
    done_s: int
    taken: bool
    retaken: bool = False  # taken back from an earlier attempt of the same owner
    settled: bool = False

    def confirm(self) -> None:
        """Mark done now: a failure later in the block no longer releases it."""
        if self.taken and not self.settled:
            self.cache.confirm(self.key, self.done_s)
            self.settled = True

    def release(self) -> None:
        """Give the key back now (the act did not happen)."""
        if self.taken and not self.settled:
            self.cache.release(self.key)
            self.settled = True


@contextmanager
def claim(cache: Cache, key: str, *, hold_s: int, done_s: int, owner: str = "") -> Iterator[Claim]:
    """Claim → act → confirm, or release on failure.

    Yields a :class:`Claim`; act only when ``claim.taken``. Leaving the block normally marks a
    taken key done for ``done_s``; an exception releases it, so a retry acts again.

    ``owner`` (a Pub/Sub message id) may take its own pending claim back: when Redis went away
    mid-attempt, the release failed and the claim outlived the attempt. Pub/Sub delivers a
    message again only after its attempt failed or outran the ack deadline, which every
    dependency's deadline keeps it under (``shared.adapters.deadlines``), so that attempt is
    over; without an owner the redelivery would be skipped as a duplicate and the work lost.
    """
    got = cache.claim(key, hold_s, owner)
    held = Claim(cache, key, done_s, bool(got), retaken=got == "retaken")
    try:
        yield held
    except BaseException:
        held.release()
        raise
    held.confirm()


def write_once(cache: Cache, warehouse: Warehouse, row: Row, owner: str = "") -> bool:
    """Insert ``row`` unless its id was already written; True if this call wrote it.

    A claim taken back from an earlier attempt of ``owner`` may hide a write that landed after
    that attempt gave up (BigQuery paused past the call's deadline): the table is asked first.
    So an owner's failed insert keeps its claim for the owner's next try.
    """
    key = write_key(row.table, row.row_id)
    with claim(cache, key, hold_s=WRITE_CLAIM_S, done_s=WRITTEN_S, owner=owner) as held:
        if held.retaken and warehouse.contains(row):
            return False
        if held.taken:
            try:
                warehouse.insert([row])
            except DependencyUnavailableError:
                # The insert may still land (a timed-out call): the owner's next try takes the
                # claim back and asks the table, rather than finding it free and writing again.
                held.settled = bool(owner)
                raise
        return held.taken
