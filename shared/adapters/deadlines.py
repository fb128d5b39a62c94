"""Every outside call's deadline, in one place: each below the ack deadline of the
subscriptions whose handlers make it (``schemas/pubsub/topology.json``).

A handler that outlives its message's ack deadline gets the message redelivered while it still
runs: the job runs twice at once. So every dependency's worst case (per-call timeout times
attempts plus pauses, or a retry deadline plus the last call's timeout) stays below the
smallest ack deadline of its callers; ``tests/unit/test_deadlines.py`` checks it from the
default settings. The Google clients' own retry deadlines (600 s for a Pub/Sub publish, 120 s
for Cloud Storage) are replaced by the :class:`~google.api_core.retry.Retry` objects built here.
Only google-api-core is used here: the adapters pass in their library's default retry.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from google.api_core.retry import Retry

    from shared.settings import Settings

# Calls without a setting of their own.
STORAGE_TIMEOUT_S = 10.0  # one Cloud Storage call; also its retry deadline
PUBLISH_TIMEOUT_S = 30.0  # waiting for every message id of one publish; the client's retry deadline
PUBLISH_RPC_TIMEOUT_S = 10.0  # one Publish RPC inside that
PEEK_TIMEOUT_S = 5.0  # one dead-letter pull or release (the monitor)
SIGN_BLOB_TIMEOUT_S = 10.0  # one IAM signBlob call
CERTS_TIMEOUT_S = 5.0  # fetching Google's ID token certificates
REDIS_ATTEMPTS = 2  # redis-py: one quick retry (cache.py)
RETRY_PAUSE_CAP_S = 5.0  # the inference client's longest pause between tries (remote.py)

ALL = ("camera-sweep", "camera-jobs", "violations", "anomalies", "alert-deliveries")
ALL_ROUTES = (*ALL, "monitor-ticks")


@dataclass(frozen=True)
class Deadline:
    """The worst case of one dependency: ``attempts`` calls of ``per_call_s`` and the pauses."""

    dependency: str
    setting: str
    per_call_s: float
    attempts: int = 1
    pauses_s: float = 0.0
    callers: tuple[str, ...] = ALL_ROUTES
    ride_out_s: float = 0.0  # a message handler tries again for this long (settings)

    @property
    def worst_s(self) -> float:
        """Longest time a handler can wait on this dependency in one delivery: the last try
        may start just before the ride-out ends."""
        return self.ride_out_s + self.per_call_s * self.attempts + self.pauses_s


def deadlines(s: Settings) -> dict[str, Deadline]:
    """Each outside call's worst case under settings ``s``, by dependency."""
    tries = s.inference_retries + 1
    found = [
        # connect and read may each take the socket timeout, on each of the attempts
        Deadline("redis", "redis_timeout_s", 2 * s.redis_timeout_s, REDIS_ATTEMPTS),
        # the retry deadline, plus the last call started just before it
        Deadline("bigquery", "bigquery_timeout_s", 2 * s.bigquery_timeout_s),
        # a query: its retried insert, then the wait for its rows (job_timeout_s)
        Deadline("bigquery query", "bigquery_timeout_s", 3 * s.bigquery_timeout_s),
        Deadline("cloud storage", "STORAGE_TIMEOUT_S", 2 * STORAGE_TIMEOUT_S),
        Deadline(
            "pubsub publish",
            "PUBLISH_TIMEOUT_S",
            PUBLISH_TIMEOUT_S + PUBLISH_RPC_TIMEOUT_S,
            callers=("camera-sweep", "camera-jobs", "violations", "anomalies"),
        ),
        # pull (waited for 5 s more), then the release
        Deadline(
            "dead-letter peek", "PEEK_TIMEOUT_S", 3 * PEEK_TIMEOUT_S, callers=("monitor-ticks",)
        ),
        Deadline(
            "inference",
            "inference_timeout_s",
            s.inference_timeout_s,
            tries,
            (tries - 1) * RETRY_PAUSE_CAP_S,
            callers=("camera-jobs",),
        ),
        Deadline(
            "webhook", "webhook_timeout_s", s.webhook_timeout_s, callers=("alert-deliveries",)
        ),
        # smtplib's timeout bounds each blocking operation, not the whole session
        Deadline("smtp", "smtp_timeout_s", s.smtp_timeout_s, callers=("alert-deliveries",)),
        Deadline("iam signBlob", "SIGN_BLOB_TIMEOUT_S", SIGN_BLOB_TIMEOUT_S),
        Deadline("id token certs", "CERTS_TIMEOUT_S", CERTS_TIMEOUT_S),
    ]
    receivers = ("webhook", "smtp")  # an alert's receiver failing: delivery_ride_out_s
    return {
        d.dependency: replace(
            d,
            ride_out_s=s.delivery_ride_out_s
            if d.dependency in receivers
            else s.dependency_ride_out_s,
        )
        for d in found
    }


def bounded(default: Retry, timeout_s: float) -> Retry:
    """A client library's default retry (``bigquery.DEFAULT_RETRY``, Cloud Storage's
    ``DEFAULT_RETRY``), giving up ``timeout_s`` after the first call instead of its own
    deadline (600 s, 120 s, 2400 s for BigQuery's job retry)."""
    return default.with_timeout(timeout_s)


def publish_retry(timeout_s: float = PUBLISH_TIMEOUT_S) -> Retry:
    """The Pub/Sub publisher's default publish retry (same errors, same backoff), giving up
    ``timeout_s`` after the first try instead of 600 s."""
    from google.api_core import exceptions as gexc
    from google.api_core.retry import Retry, if_exception_type

    return Retry(
        initial=0.1,
        maximum=60.0,
        multiplier=4,
        predicate=if_exception_type(
            gexc.Aborted,
            gexc.Cancelled,
            gexc.DeadlineExceeded,
            gexc.InternalServerError,
            gexc.ResourceExhausted,
            gexc.ServiceUnavailable,
            gexc.Unknown,
        ),
        timeout=timeout_s,
    )
