"""Publish one sweep into a running local stack, show each camera as it finishes, summarise.

Everything shown is read back from where a user would look: the BigQuery rows, the dead-letter
topics, the webhook receiver (``GET /deliveries``) and the SMTP sink's Maildir.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from google.cloud import pubsub_v1  # type: ignore[attr-defined]

from shared.adapters.warehouse import BigQueryWarehouse, bigquery_client
from shared.domain.registry import ROAD_USERS
from shared.messages.schemas import validate
from shared.messages.topology import dead_letter_pull

Print = Callable[[str], None]


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))]


@dataclass
class SweepWatch:
    """One sweep's progress, read from the stack described by ``env``."""

    env: dict[str, str]
    project: str
    cameras: list[str]
    sweep_id: str = ""
    message_id: str = ""
    published_at: float = 0.0
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    seen_at: dict[str, float] = field(default_factory=dict)
    dead: dict[str, str] = field(default_factory=dict)  # camera (or "sweep") -> reason

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._streams: list[Any] = []
        self._shown: set[str] = set()
        client = bigquery_client(self.project, self.env["CAMWATCH_BIGQUERY_ENDPOINT"])
        self.warehouse = BigQueryWarehouse(client, "camwatch", "US", 10)
        self.subscriber = pubsub_v1.SubscriberClient()
        self.publisher = pubsub_v1.PublisherClient()

    def publish(self, payload: dict[str, Any]) -> str:
        """Publish the camera-sweep message (Cloud Scheduler's body); return the sweep id."""
        self.warehouse.ensure_tables()  # the progress queries may run before any worker
        topic = self.publisher.topic_path(self.project, "camera-sweep")
        self.published_at = time.perf_counter()
        data = json.dumps(validate("camera_sweep", payload)).encode()
        self.message_id = str(self.publisher.publish(topic, data).result(timeout=30))
        self.sweep_id = payload.get("sweep_id") or f"sweep-{self.message_id}"
        return self.sweep_id

    def wait(self, say: Print, timeout_s: float = 300) -> bool:
        """Print a line per finished camera until all are processed or dead-lettered."""
        deadline = time.monotonic() + timeout_s
        self._listen_dead_letters()
        while time.monotonic() < deadline:
            if "sweep" in self.dead:
                say(f"  the sweep message was dead-lettered: {self.dead['sweep']}")
                return False
            for row in self._query_rows():
                camera = row["camera_id"]
                if camera not in self.rows:
                    self.rows[camera] = row
                    self.seen_at[camera] = time.perf_counter() - self.published_at
                    say(self._line(row))
            with self._lock:
                dead = set(self.dead)
            for camera in sorted(dead - set(self.rows) - self._shown):
                self._shown.add(camera)
                say(
                    f"  [{len(self.rows) + len(self._shown):>3}/{len(self.cameras)}] {camera:<34} "
                    f"dead-lettered: {self.dead[camera][:70]}"
                )
            if len(self.rows) + len(dead - set(self.rows)) >= len(self.cameras):
                return True
            time.sleep(0.25)
        missing = sorted(set(self.cameras) - set(self.rows) - set(self.dead))
        say(f"  timed out after {timeout_s:.0f} s; no outcome yet for {missing}")
        return False

    def _line(self, row: dict[str, Any]) -> str:
        n = len(self.rows) + len(self._shown)
        counts = row.get("counts") or {}
        found = ", ".join(f"{c} {counts[c]}" for c in ROAD_USERS if counts.get(c))
        took = row.get("total_ms")
        took_s = f"{took:7.1f} ms" if took is not None else " " * 10
        status = row["frame_status"]
        detail = found if status in ("ok", "stale") else (row.get("error") or "")[:60]
        return (
            f"  [{n:>3}/{len(self.cameras)}] {row['camera_id']:<34} {status:<11} "
            f"{row.get('cache_status') or '':<5}{took_s}  {detail}"
        )

    def _query_rows(self) -> list[dict[str, Any]]:
        return self.warehouse.query(
            "SELECT camera_id, frame_status, cache_status, counts, error, "
            f"latency_ms.total_ms AS total_ms FROM `{self.warehouse.table_id('observations')}` "
            "WHERE sweep_id = @sweep",
            {"sweep": self.sweep_id},
        )

    def _listen_dead_letters(self) -> None:
        """Stream the dead-letter subscriptions; this sweep's messages land in ``dead``."""
        for topic in ("camera-jobs", "camera-sweep"):
            path = self.subscriber.subscription_path(
                self.project, dead_letter_pull(f"{topic}-dead-letter")
            )
            self._streams.append(
                self.subscriber.subscribe(path, lambda m, t=topic: self._dead_letter(t, m))
            )

    def _dead_letter(self, topic: str, message: Any) -> None:
        reason = message.attributes.get("reason") or (
            "delivery attempts exhausted ("
            + message.attributes.get("CloudPubSubDeadLetterSourceDeliveryCount", "?")
            + ")"
        )
        if topic == "camera-sweep":
            key = "sweep" if message.attributes.get("source_message_id") == self.message_id else ""
        else:
            try:
                job = json.loads(message.data)
            except ValueError:
                job = {}
            mine = isinstance(job, dict) and job.get("sweep_id") == self.sweep_id
            key = str(job.get("camera_id")) if mine else ""
        if key:
            with self._lock:
                self.dead[key] = reason
            message.ack()
        else:
            message.nack()  # another sweep's: left for whoever looks

    def close(self) -> None:
        """Stop the dead-letter streams."""
        for stream in self._streams:
            stream.cancel()
            with contextlib.suppress(Exception):
                stream.result(timeout=5)
        self._streams.clear()

    def violations(self) -> list[dict[str, Any]]:
        """The sweep's violations (joined through its observations)."""
        return self.warehouse.query(
            "SELECT v.violation_id, v.camera_id, v.type, v.class_name, v.confidence, v.alerted, "
            "v.event "
            f"FROM `{self.warehouse.table_id('violations')}` v JOIN "
            f"`{self.warehouse.table_id('observations')}` o "
            "ON v.observation_id = o.observation_id WHERE o.sweep_id = @sweep",
            {"sweep": self.sweep_id},
        )

    def alerts(self, wanted: int, timeout_s: float = 60) -> list[dict[str, Any]]:
        """The sweep's dispatched alerts, once ``wanted`` are in (or time runs out)."""
        deadline = time.monotonic() + timeout_s
        while True:
            rows = self.warehouse.query(
                "SELECT violation_id, camera_id, severity, channels "
                f"FROM `{self.warehouse.table_id('alerts')}` WHERE sweep_id = @sweep",
                {"sweep": self.sweep_id},
            )
            if len(rows) >= wanted or time.monotonic() > deadline:
                return rows
            time.sleep(0.25)

    def deliveries(self) -> list[dict[str, Any]]:
        """The webhook receiver's deliveries about this sweep."""
        url = self.env["CAMWATCH_WEBHOOK_URL"].rsplit("/", 1)[0] + "/deliveries"
        with urllib.request.urlopen(url, timeout=5) as response:
            items: list[dict[str, Any]] = json.loads(response.read())
        return [
            d
            for d in items
            if (d.get("body") or {}).get("data", {}).get("sweep_id") == self.sweep_id
        ]

    def summary(self, emails: Callable[[], list[str]], say: Print) -> bool:
        """Print the sweep's summary; True when every camera had an outcome and alerts match."""
        rows = self.rows.values()
        processed = [r for r in rows if r["frame_status"] in ("ok", "stale")]
        failed = {r["camera_id"]: r["frame_status"] for r in rows if r not in processed}
        wall = max(self.seen_at.values(), default=0.0)
        say("")
        say(
            f"sweep {self.sweep_id}: {len(self.cameras)} cameras, {len(processed)} processed, "
            f"{len(failed)} failed, {len(self.dead)} dead-lettered; "
            f"last row {wall:.1f} s after publishing"
        )
        for camera, kind in sorted(failed.items()):
            error = self.rows[camera].get("error") or ""
            say(f"  failed       {camera:<34} {kind}: {error[:70]}")
        for camera, reason in sorted(self.dead.items()):
            say(f"  dead-letter  {camera:<34} {reason[:80]}")
        totals = Counter(
            {c: sum((r.get("counts") or {}).get(c, 0) for r in processed) for c in ROAD_USERS}
        )
        say("detections:   " + ", ".join(f"{c} {n}" for c, n in totals.items()))
        violations = self.violations()
        by_type = Counter(v["type"] for v in violations)
        events = Counter(v["event"] or "open" for v in violations)  # no event: before lifecycles
        alerted = [v for v in violations if v["alerted"]]
        say(
            f"violations:   {len(violations)} rows ({dict(sorted(by_type.items()))}; "
            + ", ".join(f"{events[e]} {e}" for e in ("open", "update", "close"))
            + f"); {len(alerted)} new, published for alerting"
        )
        alerts = self.alerts(len(alerted))
        severity = Counter(a["severity"] or "below 0.6" for a in alerts)
        hooks = self.deliveries()
        good = [d for d in hooks if d["verified"] and 200 <= d["status"] < 300]
        mine = {a["violation_id"] for a in alerts}
        mailed = [e for e in emails() if e in mine]  # read once every alert is dispatched
        say(
            f"alerts:       {len(alerts)}/{len(alerted)} dispatched {dict(severity)}; webhooks "
            f"delivered {len(good)} (signature verified {sum(d['verified'] for d in hooks)}/"
            f"{len(hooks)} attempts), emails received {len(mailed)}"
        )
        hits = sum(r.get("cache_status") == "hit" for r in processed)
        hint = " (a fresh cache: `make up` then `make sweep` twice shows hits)" if not hits else ""
        say(f"cache:        {hits} hits, {len(processed) - hits} misses{hint}")
        took = [float(r["total_ms"]) for r in processed if r.get("total_ms") is not None]
        arrived = [self.seen_at[r["camera_id"]] * 1000 for r in processed]
        if took:
            say(
                f"latency:      per camera (in the worker) p50 {statistics.median(took):.1f} ms, "
                f"p95 {percentile(took, 95):.1f} ms; publish to row p50 "
                f"{statistics.median(arrived):.0f} ms, "
                f"p95 {percentile(arrived, 95):.0f} ms"
            )
        say("query the rows (BigQuery):")
        say(
            f"  SELECT camera_id, frame_status, counts.car, counts.person, cache_status, "
            f"latency_ms.total_ms FROM `{self.warehouse.table_id('observations')}` "
            f"WHERE sweep_id = '{self.sweep_id}' ORDER BY camera_id"
        )
        expected_hooks = sum(1 for a in alerts if a["severity"])
        expected_mail = sum(1 for a in alerts if a["severity"] == "HIGH")
        return (
            len(self.rows) + len(self.dead) >= len(self.cameras)
            and len(alerts) == len(alerted)
            and len(good) == expected_hooks
            and len(mailed) == expected_mail
        )
