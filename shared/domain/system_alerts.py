"""System alerts: camwatch alerting on itself, once per change, at most once per cooldown.

Each minute the monitor evaluates conditions (:class:`Condition`: a camera offline, a stale
camera, a degraded inference service, a dependency down, dead letters pending). Per condition
key a :class:`ConditionState` remembers what is true now (``active``) and what subscribers were
last told (``notified``). :func:`step` decides, purely:

* ``active == notified``: nothing to tell;
* otherwise, if nothing was ever told or the last notice is at least ``cooldown_s`` old: tell
  (a raise, ``<type>``, or a resolve, ``<type>.resolved``) and remember it;
* otherwise hold: the change is told after the cooldown, if it still holds then.

So a flapping camera gets at most one notice per cooldown, its final state is always told, and
a condition never raised never sends ``.resolved``. An alert's id is a hash of the condition
key, the transition and since when the condition has held: a retried tick sends the same id.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from shared.domain.alerts import Severity
from shared.domain.timestamps import iso_utc

RESOLVED = ".resolved"

# Each system alert's type, severity and JSON Schema (schemas/webhooks/<schema>.schema.json).
SEVERITY: dict[str, Severity] = {
    "camera.offline": Severity.MEDIUM,
    "camera.stale": Severity.MEDIUM,
    "inference.degraded": Severity.HIGH,
    "dependency.unavailable": Severity.HIGH,
    "dead_letters.pending": Severity.MEDIUM,
}


def schema_of(event_type: str) -> str:
    """The webhook schema's name of a type and of its ``.resolved`` event."""
    return "webhooks/" + event_type.removesuffix(RESOLVED).replace(".", "_")


@dataclass(frozen=True)
class Condition:
    """One condition as evaluated now.

    ``since``: when it started to hold as it does now, if the evidence says (a camera's first
    failed sweep); otherwise the state's memory decides.
    """

    event_type: str  # camera.offline, ...
    subject: str  # what it is about: a camera id, a dependency, a subscription, or ""
    active: bool
    details: dict[str, Any] = field(default_factory=dict)
    camera_id: str | None = None
    since: float | None = None

    def __post_init__(self) -> None:
        if self.event_type not in SEVERITY:
            raise ValueError(f"unknown system alert type {self.event_type!r}")

    @property
    def key(self) -> str:
        """``camera.offline:cam-1``, ``inference.degraded``."""
        return f"{self.event_type}:{self.subject}" if self.subject else self.event_type


@dataclass(frozen=True)
class ConditionState:
    """What is known of one condition: now, and as last told (epoch seconds)."""

    active: bool = False
    since: float | None = None  # when ``active`` last changed
    notified: bool = False  # the last state subscribers were told
    notified_at: float | None = None
    raised_at: float | None = None  # since when the told raise held
    alert_id: str | None = None  # the last alert sent

    def to_json(self) -> str:
        """As stored in Redis (``system:{key}``)."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ConditionState:
        """Inverse of :meth:`to_json`."""
        return cls(**json.loads(text))


@dataclass(frozen=True)
class SystemAlert:
    """A system alert (an :class:`~shared.domain.alerts.Alert`): a raise or a resolve."""

    event_type: str  # camera.offline or camera.offline.resolved
    key: str
    since: float
    details: dict[str, Any]
    camera_id: str | None = None
    raised_at: float | None = None  # resolves: since when the condition held

    @property
    def id(self) -> str:
        """A hash of the key, the transition and its start: a retried tick repeats it."""
        text = f"{self.key}|{self.event_type}|{self.since:.3f}"
        return "sys_" + hashlib.sha256(text.encode()).hexdigest()[:32]

    @property
    def severity(self) -> Severity:
        """That of the condition (a resolve has the severity of what it resolves)."""
        return SEVERITY[self.event_type.removesuffix(RESOLVED)]

    @property
    def resolved(self) -> bool:
        """Whether this tells that the condition ended."""
        return self.event_type.endswith(RESOLVED)

    def body(self) -> dict[str, Any]:
        """The webhook body (``schemas/webhooks/<type>.schema.json``)."""
        data: dict[str, Any] = {
            "condition": self.key,
            "since": iso_utc(self.since),
            "details": dict(self.details),
        }
        if self.camera_id is not None:
            data["camera_id"] = self.camera_id
        if self.resolved:
            raised_at = self.since if self.raised_at is None else self.raised_at
            data["raised_at"] = iso_utc(raised_at)
            data["duration_s"] = round(max(0.0, self.since - raised_at), 3)
        return {"type": self.event_type, "timestamp": iso_utc(self.since), "data": data}

    def email_subject(self) -> str:
        """``[camwatch MEDIUM] camera.offline: camera.offline:cam-1``."""
        return f"[camwatch {self.severity}] {self.event_type}: {self.key}"

    def email_text(self) -> str:
        """What, since when, and the details."""
        what = "resolved" if self.resolved else "raised"
        lines = [
            f"{self.severity} system alert {what}: {self.event_type}\n",
            f"condition:   {self.key}",
            f"since (UTC): {iso_utc(self.since)}",
        ]
        if self.resolved and self.raised_at is not None:
            lines.append(f"raised at:   {iso_utc(self.raised_at)}")
        lines += [f"{k + ':':<12} {v}" for k, v in sorted(self.details.items())]
        lines.append(f"alert:       {self.id}")
        return "\n".join(lines) + "\n"


def step(
    state: ConditionState | None, condition: Condition, now: float, cooldown_s: float
) -> tuple[ConditionState, SystemAlert | None]:
    """The condition's next state, and the alert to send now (None: nothing, or held)."""
    prev = state or ConditionState()
    if condition.active == prev.active and prev.since is not None:
        since = prev.since
    else:
        since = condition.since if condition.since is not None else now
    new = replace(prev, active=condition.active, since=since)
    if new.active == new.notified:
        return new, None
    if prev.notified_at is not None and now - prev.notified_at < cooldown_s:
        return new, None  # held: told after the cooldown if it still holds
    if new.active:
        alert = SystemAlert(
            condition.event_type, condition.key, since, condition.details, condition.camera_id
        )
        told = replace(new, notified=True, notified_at=now, raised_at=since, alert_id=alert.id)
        return told, alert
    alert = SystemAlert(
        condition.event_type + RESOLVED,
        condition.key,
        since,
        condition.details,
        condition.camera_id,
        prev.raised_at,
    )
    return replace(new, notified=False, notified_at=now, alert_id=alert.id), alert


def held(state: ConditionState) -> bool:
    """Whether a change waits for the cooldown to end."""
    return state.active != state.notified
