"""Redelivery storms: one message pushed many times at once, as duplicate publishes and
redeliveries arrive, must still give one row and one alert per channel.

Each push is the body a Pub/Sub push subscription POSTs (``tests/pushes.py``), with its own
message id; a push answered other than 2xx is pushed again a second later, as Pub/Sub would.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from shared.adapters.warehouse import BigQueryWarehouse, bigquery_client
from shared.devstack.stack import DEMO_BUCKET, PROJECT
from tests.load.server import LoadStack, bigquery_dataset
from tests.pushes import ALERTS, JOBS, message, push, violation

ATTEMPTS = 5  # pushes of one message before the storm calls it lost
# Who takes a HIGH violation among the demo's subscribers (shared.devstack.demo_alerts), and how.
CHANNELS = {"enforcement": "webhook", "ops-email": "email", "ops-chat": "webhook"}
EXPECTED = {"enforcement": 1, "ops-email": 1, "ops-chat": 0}
JSON = {"Content-Type": "application/json"}


@dataclass
class Storm:
    """What a storm's pushes were answered, and what came of them."""

    name: str
    pushes: int
    answers: Counter[str] = field(default_factory=Counter)  # every attempt's status
    lost: int = 0  # never answered 2xx within ATTEMPTS
    counts: dict[str, int] = field(default_factory=dict)  # what must be exactly ...
    expected: dict[str, int] = field(default_factory=dict)  # ... this
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def problems(self) -> list[str]:
        found = [
            f"{self.name}: {what} {self.counts.get(what)}, want {want}"
            for what, want in self.expected.items()
            if self.counts.get(what) != want
        ]
        if self.lost:
            found.append(f"{self.name}: {self.lost} pushes never acknowledged")
        return found

    def lines(self) -> list[str]:
        answers = ", ".join(f"{s}: {n}" for s, n in sorted(self.answers.items()))
        out = [
            f"  {self.pushes} pushes at once ({answers}; never acknowledged: {self.lost}), "
            f"settled in {self.seconds:.1f} s"
        ]
        out += [
            f"  {what}: {self.counts.get(what)} (want {want})"
            for what, want in self.expected.items()
        ]
        return out + [f"  {note}" for note in self.notes]


async def _push_all(url: str, topic: str, data: bytes, n: int, storm: Storm) -> None:
    path = f"{url}/projects/{PROJECT}/topics/{topic}"
    limits = httpx.Limits(max_connections=n)
    async with httpx.AsyncClient(limits=limits, timeout=120) as client:

        async def deliver() -> None:
            body = push(topic, message(uuid.uuid4().hex, data))  # its own message id
            for _ in range(ATTEMPTS):
                try:
                    response = await client.post(path, content=body, headers=JSON)
                    status = str(response.status_code)
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                storm.answers[status] += 1
                if status.startswith("2"):
                    return
                await asyncio.sleep(1)
            storm.lost += 1

        await asyncio.gather(*(deliver() for _ in range(n)))


def _warehouse(load: LoadStack) -> BigQueryWarehouse:
    client = bigquery_client(PROJECT, load.local.env["CAMWATCH_BIGQUERY_ENDPOINT"])
    return BigQueryWarehouse(client, bigquery_dataset(), "US", 10)


def _count(warehouse: BigQueryWarehouse, table: str, where: str, **params: str) -> int:
    [row] = warehouse.query(
        f"SELECT COUNT(*) AS n FROM `{warehouse.table_id(table)}` WHERE {where}", params
    )
    return int(row["n"])


def _settle(probe: Callable[[], bool], timeout_s: float, quiet_s: float) -> None:
    """Wait until ``probe()`` is true (or time runs out), then ``quiet_s`` more for late
    duplicates."""
    deadline = time.monotonic() + timeout_s
    while not probe() and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(quiet_s)


def job_storm(load: LoadStack, camera_id: str, n: int, timeout_s: float = 60) -> Storm:
    """The same camera job pushed ``n`` times at once to camera_worker: one observation row."""
    storm = Storm("camera job", n, expected={"observation rows": 1})
    sweep_id = f"load-storm-{uuid.uuid4().hex[:12]}"
    job = {"sweep_id": sweep_id, "camera_id": camera_id, "scheduled_at": _now()}
    start = time.monotonic()
    url = load.local.event_urls["camera_worker"]
    asyncio.run(_push_all(url, JOBS, json.dumps(job).encode(), n, storm))
    warehouse = _warehouse(load)

    def rows() -> int:
        where = "sweep_id = @s AND camera_id = @c"
        return _count(warehouse, "observations", where, s=sweep_id, c=camera_id)

    _settle(lambda: rows() >= 1, timeout_s, quiet_s=2)
    storm.counts["observation rows"] = rows()
    storm.seconds = time.monotonic() - start
    outcomes = _logged(load, "camera_worker", ("job done", "duplicate job skipped"), sweep_id)
    storm.notes.append(f"camera_worker log: {dict(outcomes)} (sweep {sweep_id})")
    return storm


def violation_storm(load: LoadStack, camera_id: str, n: int, timeout_s: float = 90) -> Storm:
    """The same HIGH violation pushed ``n`` times at once to alert_dispatcher: one alerts row,
    one webhook to enforcement, one email to ops-email, nothing to ops-chat."""
    expected = {"alerts rows": 1} | {f"{s} ({CHANNELS[s]})": k for s, k in EXPECTED.items()}
    storm = Storm("violation", n, expected=expected)
    vid = uuid.uuid4().hex
    evidence = f"gs://{DEMO_BUCKET}/evidence/{camera_id}/{vid}.jpg"
    data = violation(vid, camera_id=camera_id, evidence_uri=evidence)
    start = time.monotonic()
    asyncio.run(_push_all(load.local.event_urls["alert_dispatcher"], ALERTS, data, n, storm))
    taking = sum(1 for k in EXPECTED.values() if k)

    def delivered() -> int:  # alert-deliveries messages handled: sent or already_sent
        return sum(_delivered(load, vid).values())

    # Every dispatch queues one delivery per subscriber that wants it; wait for all of them.
    _settle(lambda: delivered() >= n * taking, timeout_s, quiet_s=3)
    storm.seconds = time.monotonic() - start
    storm.counts["alerts rows"] = _count(_warehouse(load), "alerts", "violation_id = @v", v=vid)
    receiver = load.local.webhooks
    assert receiver is not None
    for name, channel in CHANNELS.items():
        if channel == "webhook":
            got = sum(1 for d in receiver.accepted(name) if _about(d.body, vid))
        else:  # the one email subscriber's
            got = sum(1 for m in load.local.emails() if m["X-Camwatch-Alert-Id"] == vid)
        storm.counts[f"{name} ({channel})"] = got
    tries = [d for d in receiver.deliveries if _about(d.body, vid)]
    storm.notes.append(
        f"alert_delivery log: {dict(_delivered(load, vid))}; webhook attempts seen by the "
        f"receiver: {len(tries)} (violation {vid})"
    )
    return storm


def _about(body: dict[str, Any] | None, vid: str) -> bool:
    data = (body or {}).get("data")
    return isinstance(data, dict) and data.get("violation_id") == vid


def _delivered(load: LoadStack, vid: str) -> Counter[str]:
    """alert_delivery's "alert delivered" log lines for the alert, by outcome."""
    return Counter(
        str(e.get("outcome"))
        for e in _entries(load, "alert_delivery")
        if e.get("message") == "alert delivered" and e.get("alert_id") == vid
    )


def _logged(
    load: LoadStack, function: str, messages: tuple[str, ...], sweep_id: str
) -> Counter[str]:
    """A function's log lines of ``messages`` about one sweep, by message."""
    return Counter(
        str(e.get("message"))
        for e in _entries(load, function)
        if e.get("message") in messages and e.get("sweep_id") == sweep_id
    )


def _entries(load: LoadStack, function: str) -> list[dict[str, Any]]:
    """The JSON lines of a function's log (functions-framework's own lines are not JSON)."""
    found = []
    path = load.log_dir / f"{function}.log"
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict):
                found.append(entry)
    return found


def _now() -> str:
    return datetime.now(UTC).isoformat()
