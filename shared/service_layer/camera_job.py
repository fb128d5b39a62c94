"""The camera worker: one camera-jobs message processed exactly once in effect."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from shared.adapters.cache import Cache
from shared.errors import CameraNotFound, FrameError, MessageRejected
from shared.messages.envelope import PubsubMessage
from shared.messages.schemas import validate
from shared.service_layer.processor import CameraProcessor

log = logging.getLogger(__name__)
JOB_CLAIM_S = 300  # longer than the camera-jobs ack deadline: a live claim means "in progress"
JOB_DONE_S = 24 * 3600


def handle_job(message: PubsubMessage, processor: CameraProcessor, cache: Cache) -> str:
    """Process the job's camera once; return the outcome.

    Outcomes: ``processed``; a frame error kind such as ``unreachable`` (a camera-health row is
    recorded, and the next sweep tries again); ``duplicate`` (a redelivered job, skipped);
    ``expired`` (older than ``max_job_age_s``: later sweeps cover the camera; logged).

    Raises:
        MessageRejected: bad payload or unknown camera (dead-lettered, never retried).
        DependencyUnavailable: Redis, BigQuery or storage down (Pub/Sub redelivers).
    """
    job = validate("camera_job", message.data)
    age_s = (datetime.now(UTC) - datetime.fromisoformat(job["scheduled_at"])).total_seconds()
    if age_s > processor.settings.max_job_age_s:
        log.warning("expired job dropped", extra={**job, "age_s": round(age_s, 1)})
        return "expired"
    key = f"vision:job:{job['sweep_id']}:{job['camera_id']}"
    if not cache.claim(key, JOB_CLAIM_S):
        log.info("duplicate job skipped", extra=job)
        return "duplicate"
    try:
        processor.process(job["camera_id"], request_id=message.message_id, sweep_id=job["sweep_id"])
        outcome = "processed"
    except FrameError as exc:
        outcome = exc.kind
    except CameraNotFound as exc:
        cache.release(key)
        raise MessageRejected(exc.message) from exc
    except BaseException:
        cache.release(key)
        raise
    cache.confirm(key, JOB_DONE_S)
    log.info("job done", extra={**job, "outcome": outcome})
    return outcome
