"""What became of a sweep's camera jobs and alerts, read back from where a user would look:
the BigQuery rows, the dead-letter subscriptions, the webhook receiver and the SMTP sink.

"Lost" means neither done nor dead-lettered; "duplicated" means done more than once.
"""

from __future__ import annotations

import contextlib
import json
import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import pubsub_v1  # type: ignore[attr-defined]

from shared.adapters.warehouse import BigQueryWarehouse
from shared.devstack.stack import PROJECT, LocalStack
from shared.devstack.tools import read_maildir
from shared.messages.topology import ROUTES

CHANNELS = {"webhook": ("MEDIUM", "HIGH"), "email": ("HIGH",)}  # the simple case's subscribers


@dataclass(frozen=True)
class Letter:
    """A dead letter: the topic it came from, its JSON payload and the reason given."""

    topic: str
    data: dict[str, Any]
    reason: str


@dataclass
class DeadLetters:
    """Every dead letter of the stack so far (pulled from the stack's own pull subscriptions)."""

    letters: list[Letter] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._subscriber = pubsub_v1.SubscriberClient()

    def pull(self) -> None:
        """Take what waits on each dead-letter subscription (acked: it is recorded here)."""
        for route in ROUTES:
            path = self._subscriber.subscription_path(PROJECT, route.dead_letter_subscription)
            with contextlib.suppress(gexc.DeadlineExceeded, gexc.ServiceUnavailable):
                answer = self._pull_now(path)
                acks = []
                for received in answer.received_messages:
                    message = received.message
                    try:
                        data = json.loads(message.data)
                    except ValueError:
                        data = {}
                    reason = message.attributes.get("reason") or (
                        "delivery attempts exhausted ("
                        + message.attributes.get("CloudPubSubDeadLetterSourceDeliveryCount", "?")
                        + ")"
                    )
                    self.letters.append(
                        Letter(route.topic, data if isinstance(data, dict) else {}, reason)
                    )
                    acks.append(received.ack_id)
                if acks:
                    self._subscriber.acknowledge(subscription=path, ack_ids=acks, timeout=5)

    def _pull_now(self, path: str) -> Any:
        """One pull that answers at once when nothing waits (deprecated for the service, which
        may then answer empty while messages wait; the emulator answers what it holds)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return self._subscriber.pull(
                subscription=path, max_messages=500, timeout=5, return_immediately=True
            )

    def of(self, topic: str) -> list[Letter]:
        """The dead letters from ``topic``."""
        return [letter for letter in self.letters if letter.topic == topic]


@dataclass(frozen=True)
class Channel:
    """One channel's alerts of a sweep."""

    expected: int
    delivered: int
    dead: int
    lost: int
    duplicated: int
    attempts: Counter[str]  # what the receiver answered to each try ("200", "500", "hung")


@dataclass(frozen=True)
class Outcome:
    """A sweep's camera jobs and alerts, counted."""

    cameras: int
    processed: int
    dead: Counter[str]  # reason -> jobs
    lost: list[str]
    duplicate_rows: int  # observation rows beyond one per camera
    duplicate_violations: int
    alerted: int  # new violations published for alerting
    dispatched: int  # alerts rows
    dispatch_dead: int
    dispatch_lost: int
    duplicate_alert_rows: int
    channels: dict[str, Channel]

    @property
    def complete(self) -> bool:
        """Every job and alert has an outcome."""
        return (
            not self.lost
            and not self.dispatch_lost
            and all(not c.lost for c in self.channels.values())
        )

    @property
    def clean(self) -> bool:
        """Nothing lost, nothing duplicated."""
        duplicated = self.duplicate_rows + self.duplicate_violations + self.duplicate_alert_rows
        return (
            self.complete
            and not duplicated
            and all(not c.duplicated for c in self.channels.values())
        )

    @property
    def dead_letters(self) -> int:
        """Jobs and alerts dead-lettered."""
        return (
            sum(self.dead.values())
            + self.dispatch_dead
            + sum(c.dead for c in self.channels.values())
        )


def count(
    local: LocalStack,
    warehouse: BigQueryWarehouse,
    letters: DeadLetters,
    sweep_id: str,
    cameras: list[str],
) -> Outcome:
    """Count what became of ``sweep_id``'s jobs and alerts so far."""
    table = warehouse.table_id
    rows = warehouse.query(
        f"SELECT camera_id FROM `{table('observations')}` WHERE sweep_id = @s", {"s": sweep_id}
    )
    seen = Counter(str(r["camera_id"]) for r in rows)
    dead_jobs = {
        str(letter.data.get("camera_id")): letter.reason
        for letter in letters.of("camera-jobs")
        if letter.data.get("sweep_id") == sweep_id
    }
    violations = warehouse.query(
        f"SELECT v.violation_id, v.alerted FROM `{table('violations')}` v WHERE v.observation_id "
        f"IN (SELECT observation_id FROM `{table('observations')}` WHERE sweep_id = @s)",
        {"s": sweep_id},
    )
    per_violation = Counter(str(v["violation_id"]) for v in violations)
    alerted = {str(v["violation_id"]) for v in violations if v["alerted"]}
    alerts = warehouse.query(
        f"SELECT violation_id, severity FROM `{table('alerts')}` WHERE sweep_id = @s",
        {"s": sweep_id},
    )
    per_alert = Counter(str(a["violation_id"]) for a in alerts)
    severity = {str(a["violation_id"]): a["severity"] for a in alerts}
    dead_dispatch = {str(letter.data.get("violation_id")) for letter in letters.of("violations")}
    channels = {
        name: _channel(local, letters, name, {a for a, s in severity.items() if s in wanted})
        for name, wanted in CHANNELS.items()
    }
    return Outcome(
        cameras=len(cameras),
        processed=sum(1 for c in cameras if c in seen),
        dead=Counter(reason for c, reason in dead_jobs.items() if c not in seen),
        lost=[c for c in cameras if c not in seen and c not in dead_jobs],
        duplicate_rows=sum(n - 1 for n in seen.values()),
        duplicate_violations=sum(n - 1 for n in per_violation.values()),
        alerted=len(alerted),
        dispatched=len(alerted & set(per_alert)),
        dispatch_dead=len(alerted & dead_dispatch - set(per_alert)),
        dispatch_lost=len(alerted - set(per_alert) - dead_dispatch),
        duplicate_alert_rows=sum(n - 1 for n in per_alert.values()),
        channels=channels,
    )


def _channel(local: LocalStack, letters: DeadLetters, name: str, expected: set[str]) -> Channel:
    if name == "webhook":
        assert local.webhooks is not None
        tries = [d for d in local.webhooks.deliveries if d.subscriber == "webhook"]
        mine = [d for d in tries if d.webhook_id in expected]
        attempts = Counter("hung" if d.status == 0 else str(d.status) for d in mine)
        got = Counter(d.webhook_id for d in local.webhooks.accepted("webhook"))
    else:
        mails = read_maildir(local.maildir) if local.maildir else []
        got = Counter(str(m["X-Camwatch-Alert-Id"]) for m in mails)
        attempts = Counter({"received": sum(got[a] for a in expected)})
    dead = {
        str((letter.data.get("alert") or {}).get("id"))
        for letter in letters.of("alert-deliveries")
        if letter.data.get("subscriber") == name
    }
    delivered = expected & set(got)
    return Channel(
        expected=len(expected),
        delivered=len(delivered),
        dead=len(expected & dead - delivered),
        lost=len(expected - delivered - dead),
        duplicated=sum(got[a] - 1 for a in delivered),
        attempts=attempts,
    )
