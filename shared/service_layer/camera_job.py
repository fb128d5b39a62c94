"""The camera worker: one camera-jobs message processed exactly once in effect."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from shared.adapters.cache import Cache
from shared.domain.jobs import CameraJob
from shared.errors import CameraNotFoundError, FrameError, MessageRejectedError
from shared.messages.envelope import PubsubMessage
from shared.messages.schemas import validate
from shared.service_layer.health import record_sweep
from shared.service_layer.idempotency import JOB_CLAIM_S, JOB_DONE_S, claim, job_key
from shared.service_layer.processor import CameraProcessor

log = logging.getLogger(__name__)
FUTURE_SKEW_S = 300  # clock skew allowed between the scheduler and a worker


def handle_job(message: PubsubMessage, processor: CameraProcessor, cache: Cache) -> str:
    """Process the job's camera once; return the outcome.

    Outcomes: ``processed``; a frame error kind such as ``unreachable`` (a camera-health row is
    recorded, and the next sweep tries again). Either way the camera's health for the monitor
    is recorded in Redis (best effort: ``health:camera:{id}``); ``duplicate`` (a redelivered
    job, skipped);
    ``expired`` (older than ``max_job_age_s``: later sweeps cover the camera; logged).

    Raises:
        MessageRejectedError: bad payload, unknown camera, or scheduled more than
            :data:`FUTURE_SKEW_S` in the future (dead-lettered, never retried).
        DependencyUnavailableError: Redis, BigQuery or storage down (Pub/Sub redelivers).
    """
    job = CameraJob.from_message(validate(CameraJob.schema, message.data))
    about = job.as_message()
    try:  # before the claim: a job that can never succeed is rejected even with Redis down
        processor.registry.get(job.camera_id)
    except CameraNotFoundError as exc:
        raise MessageRejectedError(exc.message) from exc
    age_s = job.age_s(datetime.now(UTC))
    if age_s < -FUTURE_SKEW_S:
        raise MessageRejectedError(
            f"job scheduled_at {job.scheduled_at} is {-age_s:.0f} s in the future"
        )
    if age_s > processor.settings.max_job_age_s:
        log.warning("expired job dropped", extra={**about, "age_s": round(age_s, 1)})
        return "expired"
    key = job_key(job.sweep_id, job.camera_id)
    owner = message.message_id  # its redelivery may take back a claim its last try kept
    with claim(cache, key, hold_s=JOB_CLAIM_S, done_s=JOB_DONE_S, owner=owner) as held:
        if not held.taken:
            log.info("duplicate job skipped", extra=about)
            return "duplicate"
        try:
            seen = processor.process(
                job.camera_id, request_id=message.message_id, sweep_id=job.sweep_id
            )
            outcome = "processed"
        except FrameError as exc:
            outcome = exc.kind
            record_sweep(cache, job.camera_id, time.time(), error=(exc.kind, str(exc)))
        except CameraNotFoundError as exc:
            raise MessageRejectedError(exc.message) from exc
        else:
            record_sweep(cache, job.camera_id, time.time(), observation=seen)
    log.info("job done", extra={**about, "outcome": outcome})
    return outcome
