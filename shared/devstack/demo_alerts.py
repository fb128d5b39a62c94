"""The alerts of the demo: three subscribers with different filters (one Slack-formatted, one
rotating its secret, one by email), the monitor's ticks after each sweep, and what each
subscriber got (``make run``)."""

from __future__ import annotations

import json
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis
from google.cloud import pubsub_v1  # type: ignore[attr-defined]

from shared.devstack.tools import read_maildir
from shared.devstack.webhook_receiver import new_secret
from shared.messages.schemas import validate

PROJECT = "camwatch-local"
Print = Callable[[str], None]
DEMO_SUBSCRIBERS = {
    "enforcement": "violations and anomalies, MEDIUM and up, as standard webhooks; its "
    "secret is rotating: both signatures are sent, its receiver still checks the old one",
    "ops-chat": "camera, inference, dependency and dead-letter alerts, Slack-formatted",
    "ops-email": "every HIGH alert, by email",
}

if TYPE_CHECKING:
    from shared.devstack.stack import LocalStack


def subscribe_demo(local: LocalStack) -> dict[str, str]:
    """The demo's subscribers (``CAMWATCH_ALERT_SUBSCRIBERS``) instead of the simple case;
    return them by name with what each asked for (docs/alerts.md)."""
    assert local.webhooks is not None, "start_alert_sinks first"
    old, new = new_secret(), new_secret()  # enforcement is rotating: old -> new
    chat = new_secret()
    subscribers = [
        {
            "name": "enforcement",
            "url": local.webhooks.subscribe("enforcement", [old]),  # not switched yet
            "secret_env": "CAMWATCH_DEMO_ENFORCEMENT_SECRET",
            "event_types": ["violation.detected", "traffic.anomaly"],
        },
        {
            "name": "ops-chat",
            "url": local.webhooks.subscribe("ops-chat", [chat], slack=True),
            "format": "slack",
            "secret_env": "CAMWATCH_DEMO_OPS_CHAT_SECRET",
            "event_types": ["camera.*", "inference.*", "dependency.*", "dead_letters.*"],
        },
        {
            "name": "ops-email",
            "email": [local.env["CAMWATCH_ALERT_EMAIL_TO"]],
            "min_severity": "HIGH",
        },
    ]
    local.env |= {
        "CAMWATCH_ALERT_SUBSCRIBERS": json.dumps({"subscribers": subscribers}),
        "CAMWATCH_DEMO_ENFORCEMENT_SECRET": f"{new} {old}",
        "CAMWATCH_DEMO_OPS_CHAT_SECRET": chat,
    }
    return DEMO_SUBSCRIBERS


@dataclass
class AlertLog:
    """The system alerts of the demo's monitor ticks, and what each subscriber received."""

    env: dict[str, str]
    transitions: list[dict[str, Any]] = field(default_factory=list)

    def tick(self, label: str, say: Print, timeout_s: float = 45) -> bool:
        """Publish a monitor-ticks message (as Cloud Scheduler does every minute), wait for the
        monitor's report and for each alert it routed to reach its subscriber; print a line."""
        publisher = pubsub_v1.PublisherClient()
        topic = publisher.topic_path(PROJECT, "monitor-ticks")
        data = json.dumps(validate("monitor_tick", {"reason": label})).encode()
        message_id = str(publisher.publish(topic, data).result(timeout=30))
        cache = redis.Redis(
            port=int(self.env["CAMWATCH_REDIS_PORT"]),
            password=self.env.get("CAMWATCH_REDIS_PASSWORD"),
            socket_timeout=2,
        )
        deadline = time.monotonic() + timeout_s
        while (raw := cache.get(report_key(message_id))) is None:
            if time.monotonic() > deadline:
                say(f"monitor:      no report from the monitor within {timeout_s:.0f} s")
                return False
            time.sleep(0.25)
        report = json.loads(raw)
        moved = report["transitions"]
        self.transitions += moved
        pending = {(t["alert_id"], s) for t in moved for s in t["subscribers"]}
        while pending - self._received() and time.monotonic() < deadline:
            time.sleep(0.25)
        missing = pending - self._received()
        told = "; ".join(
            f"{t['event_type']} {t['camera_id'] or t['key']} -> "
            + (", ".join(t["subscribers"]) or "nobody")
            for t in moved
        )
        say(
            f"monitor:      {label}: {len(moved)} system alerts ({told or 'no change'}); "
            f"{report['active']} conditions active, {report['held']} held by the cooldown"
            + (f"; NOT DELIVERED {sorted(missing)}" if missing else "")
        )
        return not missing

    def _received(self) -> set[tuple[str, str]]:
        """(alert id, subscriber) of every delivery taken: webhooks and emails."""
        got = {(d["webhook_id"], d["subscriber"]) for d in self._deliveries() if _took(d)}
        for mail in read_maildir(Path(self.env["CAMWATCH_DEMO_MAILDIR"])):
            got.add((str(mail["X-Camwatch-Alert-Id"]), "ops-email"))
        return got

    def _deliveries(self) -> list[dict[str, Any]]:
        url = self.env["CAMWATCH_WEBHOOK_URL"].rsplit("/", 1)[0] + "/deliveries"
        with urllib.request.urlopen(url, timeout=5) as response:
            items: list[dict[str, Any]] = json.loads(response.read())
        return items

    def summary(self, say: Print) -> None:
        """Alerts per subscriber (by event type), and the system alerts raised and resolved."""
        say("alerts per subscriber (what each asked for, what it got):")
        for name, wants in DEMO_SUBSCRIBERS.items():
            if name == "ops-email":
                kinds = Counter(
                    str(m["X-Camwatch-Event"])
                    for m in read_maildir(Path(self.env["CAMWATCH_DEMO_MAILDIR"]))
                )
            else:
                kinds = Counter(
                    d["event_type"]
                    for d in self._deliveries()
                    if d["subscriber"] == name and _took(d)
                )
            got = ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())) or "nothing"
            say(f"  {name:<12} {sum(kinds.values()):>3}: {got}")
            say(f"  {'':<12}      asked for {wants}")
        for kind in ("raised", "resolved"):
            moved = [
                t
                for t in self.transitions
                if t["event_type"].endswith(".resolved") == (kind == "resolved")
            ]
            what = ", ".join(
                f"{t['event_type'].removesuffix('.resolved')} {t['camera_id'] or t['key']}"
                for t in moved
            )
            say(f"system alerts {kind}: {len(moved)}{': ' + what if what else ''}")


def _took(delivery: dict[str, Any]) -> bool:
    return bool(delivery["verified"]) and 200 <= int(delivery["status"]) < 300


def report_key(message_id: str) -> str:
    """Where the monitor leaves its report of one tick (see shared/bootstrap/monitoring.py)."""
    return f"monitor:report:{message_id}"
