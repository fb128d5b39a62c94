"""Sweeps under faults: start the stack, run one sweep per fault (and one with every fault at
once), wait until every job and alert has an outcome, count, print.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from google.cloud import pubsub_v1  # type: ignore[attr-defined]

from shared.adapters.warehouse import BigQueryWarehouse, bigquery_client
from shared.devstack.stack import PROJECT, LocalStack
from shared.devstack.start import start_all
from shared.messages.schemas import validate
from tests.chaos.faults import Fault
from tests.chaos.felt import felt
from tests.chaos.ledger import DeadLetters, Outcome, count
from tests.snapshot_cameras import snapshot_registry

Say = Callable[[str], None]
SETTLE_S = 8.0  # after every outcome is in, how long to watch for late duplicates
# Below the demo's: a fault's retries are what is watched, not a cooldown.
SETTINGS = {"CAMWATCH_INTRA_OP_THREADS": "1"}


@dataclass(frozen=True)
class Phase:
    """One sweep and the faults injected while it runs."""

    label: str
    faults: tuple[Fault, ...]
    cameras: list[str]


@dataclass(frozen=True)
class Result:
    """A phase's outcome and how long recovery took."""

    phase: Phase
    outcome: Outcome
    seconds: float  # publish -> every outcome in
    notes: list[str]
    failures: list[str]  # faults that could not be injected or repaired
    felt: Counter[str]  # the functions' failed and repeated tries while it ran (tests.chaos.felt)


def registry(phases: Sequence[str], per_phase: int, path: Path) -> dict[str, list[str]]:
    """Snapshot cameras under ids of their own per phase (``chaos-redis-0000`` ...): caches
    and violation books start cold in each."""
    return snapshot_registry(dict.fromkeys(["warm", *phases], per_phase), path, "chaos")


def start(work: Path, cameras_file: Path) -> LocalStack:
    """The stack as the cloud has it: Pub/Sub push to every function, the inference service,
    Redis keeping its keys across a restart."""
    local = start_all(work / "logs", function=False, settings=SETTINGS, redis_dir=work / "redis")
    try:
        local.env["CAMWATCH_REGISTRY_PATH"] = str(cameras_file)
        local.start_inference()
        local.start_event_functions()
    except BaseException:
        local.stop()
        raise
    return local


class Runner:
    """Runs phases against one stack."""

    def __init__(self, local: LocalStack, say: Say, timeout_s: float = 300) -> None:
        self.local, self.say, self.timeout_s = local, say, timeout_s
        self.logs = local.stack.log_dir
        os.environ.update(local.env)  # the Google clients read the emulator hosts
        client = bigquery_client(PROJECT, local.env["CAMWATCH_BIGQUERY_ENDPOINT"])
        self.warehouse = BigQueryWarehouse(client, "camwatch", "US", 10)
        self.warehouse.ensure_tables()
        self.publisher = pubsub_v1.PublisherClient()
        self.letters = DeadLetters()
        self._spawner = ThreadPoolExecutor(1, thread_name_prefix="chaos-restart")

    def restart(self, name: str) -> None:
        """Start ``name`` again from the spawner thread (see tests.chaos.faults.Restart)."""
        self._spawner.submit(self.local.stack.restart, name).result()

    def rows(self, sweep_id: str) -> int:
        """The sweep's observation rows so far (0 while BigQuery does not answer)."""
        try:
            [row] = self.warehouse.query(
                f"SELECT COUNT(*) AS n FROM `{self.warehouse.table_id('observations')}` "
                "WHERE sweep_id = @s",
                {"s": sweep_id},
            )
        except Exception:  # paused by a fault: the fault thread keeps waiting
            return 0
        return int(row["n"])

    def publish(self, cameras: list[str], label: str) -> str:
        """The scheduler's camera-sweep message; return the sweep id."""
        sweep_id = f"chaos-{label}-{datetime.now(UTC):%Y%m%dT%H%M%S.%f}"
        payload = validate("camera_sweep", {"sweep_id": sweep_id, "cameras": cameras})
        topic = self.publisher.topic_path(PROJECT, "camera-sweep")
        self.publisher.publish(topic, json.dumps(payload).encode()).result(timeout=30)
        return sweep_id

    def run(self, phase: Phase) -> Result:
        """Publish the sweep, inject the faults, wait for every outcome, count."""
        started, began = time.monotonic(), datetime.now(UTC)
        notes: list[str] = []

        def note(line: str) -> None:
            notes.append(f"{time.monotonic() - started:6.1f} s  {line}")
            self.say(f"  {notes[-1]}")

        sweep_id = self.publish(phase.cameras, phase.label)
        note(f"published sweep {sweep_id}: {len(phase.cameras)} cameras")
        failures: list[str] = []

        def inject(fault: Fault) -> None:
            try:
                fault.run(
                    self.local, lambda: self.rows(sweep_id), len(phase.cameras), note, self.restart
                )
            except Exception as exc:  # the fault itself broke: the phase cannot count as clean
                failures.append(f"{fault.name}: {type(exc).__name__}: {exc}")
                note(f"{fault.name}: could not be injected or repaired: {exc}")

        threads = [threading.Thread(target=inject, args=(f,), daemon=True) for f in phase.faults]
        for thread in threads:
            thread.start()
        outcome = self.wait(sweep_id, phase.cameras, threads, note)
        tries = felt(self.logs, began, datetime.now(UTC))
        return Result(phase, outcome, time.monotonic() - started, notes, failures, tries)

    def wait(
        self,
        sweep_id: str,
        cameras: list[str],
        threads: list[threading.Thread],
        note: Say,
    ) -> Outcome:
        """Poll until every fault is repaired and every job and alert has an outcome, then
        watch a little longer for late duplicates; progress every 5 s."""
        deadline = time.monotonic() + self.timeout_s
        last = time.monotonic()
        outcome = None
        while time.monotonic() < deadline:
            time.sleep(1.0)
            if any(t.is_alive() for t in threads):
                continue
            self.letters.pull()
            try:
                outcome = count(self.local, self.warehouse, self.letters, sweep_id, cameras)
            except Exception as exc:  # a dependency still recovering
                note(f"counting failed ({type(exc).__name__}); trying again")
                continue
            if outcome.complete:
                note("every job and alert has an outcome; watching for late duplicates")
                time.sleep(SETTLE_S)
                self.letters.pull()
                return count(self.local, self.warehouse, self.letters, sweep_id, cameras)
            if time.monotonic() - last > 5:
                last = time.monotonic()
                waiting = sum(c.lost for c in outcome.channels.values())
                note(
                    f"waiting: {outcome.processed}/{outcome.cameras} jobs processed, "
                    f"{len(outcome.lost)} without outcome, {waiting} alert deliveries pending"
                )
        self.letters.pull()
        note(f"timed out after {self.timeout_s:.0f} s: what is missing now counts as lost")
        return count(self.local, self.warehouse, self.letters, sweep_id, cameras)
