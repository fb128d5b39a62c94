"""The faults ``make chaos`` injects into the local stack, each as a cloud deployment meets it.

Each fault runs in a thread of its own while a sweep is in flight: it waits for its moment
(``trigger``), breaks one part, holds, and repairs it. The lines it returns say what happened
and when, in seconds from the sweep's publish.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

from shared.devstack.stack import LocalStack

# A fault waits for this share of the sweep's rows (work in flight), at most TRIGGER_WAIT_S.
IN_FLIGHT_SHARE = 0.15
TRIGGER_WAIT_S = 30.0
TRANSIENT_S = 10.0  # "a transient fault of 10 s must dead-letter nothing"
WEBHOOK_HANG_S = 12.0  # longer than the sender's 10 s deadline: every try in it times out
WEBHOOK_FAIL_S = 15.0
SMTP_DOWN_S = 15.0

Progress = Callable[[], int]  # rows of the sweep so far
Note = Callable[[str], None]
# Starts a stopped process again from a thread that lives as long as the stack: a child
# started from a fault's own thread would be sent SIGTERM when that thread ends (the stack's
# processes ask for PR_SET_PDEATHSIG, which follows the thread that started them).
Restart = Callable[[str], None]


@dataclass(frozen=True)
class Fault:
    """One fault: its name (``--faults``), what it does, and whether it waits for rows."""

    name: str
    title: str
    in_flight: bool  # wait until workers are busy (else start at the publish)
    act: Callable[[LocalStack, Note, Restart], None]

    def run(
        self, local: LocalStack, rows: Progress, total: int, note: Note, restart: Restart
    ) -> None:
        """Wait for the moment, then break and repair (blocking)."""
        if self.in_flight:
            deadline = time.monotonic() + TRIGGER_WAIT_S
            while rows() < max(1, int(total * IN_FLIGHT_SHARE)) and time.monotonic() < deadline:
                time.sleep(0.2)
            note(f"{self.name}: begins with {rows()}/{total} rows in")
        self.act(local, note, restart)


def _redis(local: LocalStack, note: Note, restart: Restart) -> None:
    local.stack.halt("redis")  # SIGTERM: the append-only file keeps the keys, as a replica would
    note("redis: stopped (connections refused)")
    time.sleep(TRANSIENT_S)
    restart("redis")
    note(f"redis: restarted on its port after {TRANSIENT_S:.0f} s, keys kept")


def _inference(local: LocalStack, note: Note, restart: Restart) -> None:
    local.stack.halt("inference", signal.SIGKILL)
    note("inference: killed (SIGKILL)")
    restart("inference")  # ready once its model is warm
    note("inference: restarted, model warm")


def _bigquery(local: LocalStack, note: Note, restart: Restart) -> None:
    local.stack.send("bigquery", signal.SIGSTOP)
    note("bigquery: paused (SIGSTOP): calls hang")
    time.sleep(TRANSIENT_S)
    local.stack.send("bigquery", signal.SIGCONT)
    note(f"bigquery: resumed (SIGCONT) after {TRANSIENT_S:.0f} s")


def _webhook(local: LocalStack, note: Note, restart: Restart) -> None:
    assert local.webhooks is not None
    local.webhooks.trouble(WEBHOOK_HANG_S, WEBHOOK_FAIL_S)
    note(f"webhook: receiver hangs for {WEBHOOK_HANG_S:.0f} s, then answers 500")
    time.sleep(WEBHOOK_HANG_S)
    note(f"webhook: receiver answers 500 for {WEBHOOK_FAIL_S:.0f} s")
    time.sleep(WEBHOOK_FAIL_S)
    note("webhook: receiver answers 200 again")


def _smtp(local: LocalStack, note: Note, restart: Restart) -> None:
    local.stack.halt("smtp")
    note("smtp: sink down (connections refused)")
    time.sleep(SMTP_DOWN_S)
    restart("smtp")
    note(f"smtp: sink back after {SMTP_DOWN_S:.0f} s")


FAULTS = (
    Fault("redis", f"Redis stopped for {TRANSIENT_S:.0f} s", True, _redis),
    Fault("inference", "the inference service killed and restarted", True, _inference),
    Fault(
        "bigquery",
        f"the BigQuery emulator paused (SIGSTOP) for {TRANSIENT_S:.0f} s",
        True,
        _bigquery,
    ),
    Fault(
        "webhook",
        f"the webhook receiver hangs {WEBHOOK_HANG_S:.0f} s, then answers 500 for "
        f"{WEBHOOK_FAIL_S:.0f} s",
        False,
        _webhook,
    ),
    Fault("smtp", f"the SMTP sink down for {SMTP_DOWN_S:.0f} s", False, _smtp),
)
FAULT_BY_NAME = {f.name: f for f in FAULTS}
