"""The main job (`make run`) and `make up` as a person runs them: a process that stops cleanly."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import pytest
import requests

from shared.devstack.credentials import auth_headers
from shared.devstack.procs import port_open
from shared.devstack.tools import read_env
from shared.devstack.violations_report import RULES

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).parents[2]


def _ports(output: str) -> list[int]:
    ready = json.loads(output.split("stack ready in", 1)[1].split(": ", 1)[1].splitlines()[0])
    ports = [int(ready["CAMWATCH_REDIS_PORT"]), int(ready["CAMWATCH_SMTP_PORT"])]
    ports += [
        int(ready[k].rsplit(":", 1)[1].split("/")[0])
        for k in (
            "CAMWATCH_BIGQUERY_ENDPOINT",
            "STORAGE_EMULATOR_HOST",
            "CAMWATCH_DEMO_CAMERA_URL",
            "CAMWATCH_WEBHOOK_URL",
            "PUBSUB_EMULATOR_HOST",
        )
    ]
    for route in ("process", "predictions"):
        ports += [int(p) for p in re.findall(rf"http://127\.0\.0\.1:(\d+)/{route}/", output)[:1]]
    return ports


def test_run_sweeps_every_demo_camera_and_exits_cleanly() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "shared.devstack", "run"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=420,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    # 4 sweeps seconds apart, each saying why it waits; the last after the demo's track gap.
    for n in range(1, 5):
        assert f"sweep {n} of 4: published camera-sweep message " in out
    assert "sweep 2 of 4 in 3 s: dwell rules need time" in out
    assert re.search(r"sweep 4 of 4 in \d+ s: tracks unseen for 20 s end", out)
    assert len(re.findall(r"^  \[ *\d+/24\] cam-", out, re.M)) == 4 * 24  # a line per camera
    # cam-022-maintenance serves frames again from sweep 3 on.
    assert out.count(": 24 cameras, 22 processed, 2 failed, 0 dead-lettered") == 2
    assert out.count(": 24 cameras, 23 processed, 1 failed, 0 dead-lettered") == 2
    assert re.search(r"failed +cam-021-offline +unreachable: ", out)
    assert re.search(r"failed +cam-022-maintenance +not_image: ", out)
    # The monitor after each sweep: both broken cameras go offline after 2 sweeps, one returns.
    assert len(re.findall(r"^monitor: +after sweep \d: ", out, re.M)) == 4
    assert "NOT DELIVERED" not in out
    raised = re.search(r"^system alerts raised: (\d+): (.*)$", out, re.M)
    resolved = re.search(r"^system alerts resolved: (\d+): (.*)$", out, re.M)
    assert raised, out
    assert resolved, out
    assert "camera.offline cam-021-offline" in raised[2]
    assert "camera.offline cam-022-maintenance" in raised[2]
    assert "camera.offline cam-022-maintenance" in resolved[2]
    assert "cam-021-offline" not in resolved[2]
    # Each subscriber's line: what it got, by event type (only what it asked for).
    got = dict(re.findall(r"^  (enforcement|ops-chat|ops-email) +\d+: (.*)$", out, re.M))
    assert set(got) == {"enforcement", "ops-chat", "ops-email"}, out
    assert "violation.detected" in got["enforcement"]
    assert "camera." not in got["enforcement"]
    assert "camera.offline 2" in got["ops-chat"]
    assert "camera.offline.resolved 1" in got["ops-chat"]
    assert "violation" not in got["ops-chat"]
    assert "camera." not in got["ops-email"]  # camera.offline is MEDIUM; ops-email takes HIGH
    for sent, wanted in re.findall(r"^alerts: +(\d+)/(\d+) dispatched", out, re.M):
        assert sent == wanted
    assert re.search(r"latency: +per camera \(in the worker\) p50 [\d.]+ ms, p95 [\d.]+ ms", out)
    assert "WHERE sweep_id = 'sweep-" in out
    # The violations of the run, by rule: every demo rule has a zone that fires.
    report = out.split("violations of the 4 sweeps, by rule: ", 1)[1]
    opened = {r: int(n) for r, n in re.findall(r"^  ([a-z_]+) +(\d+) opened", report, re.M)}
    assert all(opened.get(rule, 0) >= 1 for rule in RULES), opened
    # People walk out of the roadway, or are lost and their tracks end (the demo's 20 s gap).
    closed = re.search(r"^  pedestrian_in_roadway +\d+ opened, +(\d+) closed", report, re.M)
    assert closed, report
    assert int(closed[1]) >= 1, report
    total = re.match(r"(\d+) opened", report)
    alerts = re.search(
        r"^alerts sent: +(\d+) for (\d+) violations alerted on opening", report, re.M
    )
    assert total, report
    assert alerts, report
    assert alerts[1] == alerts[2] == total[1]  # one alert per opened violation
    assert "local stack stopped" in out
    for port in _ports(out)[:4]:
        assert not port_open(port), f"port {port} still open after make run"


class _Output:
    """What a process prints, read by a thread so that a deadline holds even while it prints
    nothing; a miss fails with what it did print and the tails of the stack's logs."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        self.proc, self.lines = proc, queue.Queue[str]()
        out = proc.stdout
        threading.Thread(target=self._read, args=(out,), daemon=True).start()
        self.seen: list[str] = []

    def _read(self, out: IO[str]) -> None:
        with out:  # closed at its end: the process exited, or was killed
            for line in out:
                self.lines.put(line)

    def until(self, marker: str, within_s: float) -> str:
        """Lines up to the one holding ``marker`` (from where the last call stopped)."""
        first, deadline = len(self.seen), time.monotonic() + within_s
        while time.monotonic() < deadline:
            try:
                self.seen.append(self.lines.get(timeout=0.5))
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            if marker in self.seen[-1]:
                return "".join(self.seen[first:])
        logs = "".join(
            f"\n--- {log.name} (tail) ---\n"
            + "\n".join(log.read_text(errors="replace").splitlines()[-15:])
            for log in sorted((ROOT / ".stack" / "logs").glob("*.log"))
        )
        pytest.fail(f"no {marker!r} within {within_s:.0f} s; printed:\n{''.join(self.seen)}{logs}")


@pytest.mark.timeout(600)  # start-up (bounded below), a sweep, and the stop
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_up_stops_everything_on_a_signal(sig: signal.Signals) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "shared.devstack", "up"],
        start_new_session=True,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _signal_and_check(proc, sig)
    finally:
        if proc.poll() is None:  # the test failed before the stack stopped: stop it all
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _signal_and_check(proc: subprocess.Popen[str], sig: signal.Signals) -> None:
    printed = _Output(proc)
    output = printed.until("environment of the stack", within_s=300)
    ports = _ports(output)
    assert len(ports) == 9, output
    assert all(port_open(p) for p in ports), output
    if sig == signal.SIGTERM:  # `make sweep` into the running stack, as a person would
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "shared.devstack",
                "sweep",
                "cam-005-howard-2nd",
                "cam-021-offline",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert ": 2 cameras, 1 processed, 1 failed, 0 dead-lettered" in done.stdout
        assert "emails received 1" in done.stdout  # cam-005: a car in a bus lane, HIGH
        # The predictions function answers what it printed (forecasts or why there are none).
        bulk = json.loads(re.findall(r"-d '(\{.*\})'", output)[0])
        env = read_env(ROOT / ".stack" / "env")
        url = f"http://127.0.0.1:{ports[-1]}/predictions/bulk"
        assert requests.post(url, json=bulk, timeout=30).status_code == 401  # no key
        answer = requests.post(url, json=bulk, headers=auth_headers(env), timeout=30)
        assert answer.status_code == 200, answer.text
        got = answer.json()["predictions"]
        assert [p["camera_id"] for p in got] == bulk["cameras"]
        assert all(p["status"] in ("ok", "no_forecast", "out_of_range") for p in got), got
    proc.send_signal(sig)
    rest = printed.until("local stack stopped", within_s=60)
    assert proc.wait(timeout=30) == 128 + sig, rest
    for port in ports:
        assert not port_open(port), f"port {port} still open after {sig.name}"
