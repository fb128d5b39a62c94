"""Fan-out: one camera-sweep message becomes one camera-jobs message per camera."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from shared.adapters.bus import EventBus
from shared.domain.jobs import CameraJob, SweepRequest
from shared.domain.registry import Registry
from shared.errors import MessageRejectedError
from shared.messages.envelope import PubsubMessage
from shared.messages.schemas import validate

log = logging.getLogger(__name__)


def fan_out(message: PubsubMessage, registry: Registry, bus: EventBus) -> int:
    """Publish a job for every camera (or the ones named); return how many.

    A redelivered sweep keeps its sweep id (the message id), so workers skip repeated jobs.
    """
    sweep = SweepRequest.from_message(validate("camera_sweep", message.data))
    sweep_id = sweep.sweep_id or f"sweep-{message.message_id}"
    known = {c.id for c in registry.cameras}
    wanted = sweep.cameras or tuple(c.id for c in registry.cameras)
    unknown = sorted(set(wanted) - known)
    if unknown:
        raise MessageRejectedError(f"sweep {sweep_id} names unknown cameras: {unknown}")
    now = datetime.now(UTC).isoformat()
    jobs = [CameraJob(sweep_id, camera_id, now) for camera_id in wanted]
    bus.publish("camera-jobs", jobs, sweep_id=sweep_id)
    log.info("sweep fanned out", extra={"sweep_id": sweep_id, "jobs": len(jobs)})
    return len(jobs)
