"""Alert subscribers: who wants which alerts, and in what shape.

A subscriber is a webhook (a Standard Webhooks JSON body, or a Slack-compatible one for chat
channels) or a list of email recipients, with filters: a minimum severity, event types and
cameras. Each subscriber is delivered on its own (its own claim, retries and dead letter).

Filters (all must pass; empty means "all"):

* ``min_severity``: MEDIUM takes MEDIUM and HIGH; HIGH only HIGH.
* ``event_types``: a type matches itself and its ``.resolved`` event (``camera.offline``
  takes ``camera.offline.resolved`` too); ``*`` patterns match as in shell (``camera.*``).
* ``cameras``: camera ids or ``*`` patterns; an alert about no camera (a dependency, dead
  letters) passes this filter.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from fnmatch import fnmatchcase

from shared.domain.alerts import Alert, Severity

RESOLVED = ".resolved"


class PayloadFormat(StrEnum):
    """The body a webhook subscriber gets."""

    STANDARD = "standard"  # Standard Webhooks JSON: {"type", "timestamp", "data"}
    SLACK = "slack"  # a Slack-compatible incoming-webhook body: {"text", "blocks"}


@dataclass(frozen=True)
class Subscriber:
    """One subscriber: a webhook (``url``) or email recipients (``email``), and its filters."""

    name: str
    url: str | None = None
    email: tuple[str, ...] = ()
    # The environment variable that holds the signing secret(s) (Secret Manager on Cloud Run);
    # two secrets, space-separated, while rotating: both signatures are sent.
    secret_env: str | None = None
    format: PayloadFormat = PayloadFormat.STANDARD
    min_severity: Severity = Severity.MEDIUM
    event_types: tuple[str, ...] = ()
    cameras: tuple[str, ...] = ()

    @property
    def channel(self) -> str:
        """``webhook`` or ``email``."""
        return "email" if self.email else "webhook"

    def wants(self, alert: Alert) -> bool:
        """Whether every filter lets ``alert`` through."""
        return (
            alert.severity.rank >= self.min_severity.rank
            and _type_matches(alert.event_type, self.event_types)
            and _camera_matches(alert.camera_id, self.cameras)
        )


def _type_matches(event_type: str, wanted: tuple[str, ...]) -> bool:
    if not wanted:
        return True
    base = event_type.removesuffix(RESOLVED)
    return any(fnmatchcase(event_type, w) or fnmatchcase(base, w) for w in wanted)


def _camera_matches(camera_id: str | None, wanted: tuple[str, ...]) -> bool:
    return camera_id is None or not wanted or any(fnmatchcase(camera_id, w) for w in wanted)
