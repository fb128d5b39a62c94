"""The main job (`make run`) and `make up` as a person runs them: a process that stops cleanly."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shared.devstack.procs import port_open

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).parents[2]


def _ports(output: str) -> list[int]:
    ready = json.loads(output.split("stack ready in", 1)[1].split(": ", 1)[1].splitlines()[0])
    ports = [int(ready["CAMWATCH_REDIS_PORT"])]
    ports += [int(ready[k].rsplit(":", 1)[1]) for k in ("CAMWATCH_BIGQUERY_ENDPOINT",
              "STORAGE_EMULATOR_HOST", "CAMWATCH_DEMO_CAMERA_URL")]  # fmt: skip
    ports += [int(p) for p in re.findall(r"http://127\.0\.0\.1:(\d+)/process/", output)[:1]]
    return ports


def test_run_processes_every_demo_camera_and_exits_cleanly() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "shared.devstack", "run"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "cameras: 22, processed: 20, failed: 2" in out
    assert "'cam-021-offline': 'unreachable'" in out and "'cam-022-maintenance': 'not_image'" in out
    assert re.search(r"second pass cache hits: 1[0-9]", out)
    assert re.search(r"violations: [1-9]\d* recorded, [1-9]\d* published", out)
    assert "rows in BigQuery camwatch-local.camwatch.observations: {" in out
    assert "local stack stopped" in out
    for port in _ports(out)[:4]:
        assert not port_open(port), f"port {port} still open after make run"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_up_stops_everything_on_a_signal(sig: signal.Signals) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "shared.devstack", "up"], start_new_session=True,
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        _signal_and_check(proc, sig)
    finally:
        if proc.poll() is None:  # the test failed before the stack stopped: stop it all
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _signal_and_check(proc: subprocess.Popen[str], sig: signal.Signals) -> None:
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if "source " in line or not line:
            break
    output = "".join(lines)
    ports = _ports(output)
    assert len(ports) == 5 and all(port_open(p) for p in ports), output
    proc.send_signal(sig)
    rest, _ = proc.communicate(timeout=30)
    assert proc.returncode == 128 + sig
    assert "local stack stopped" in rest
    for port in ports:
        assert not port_open(port), f"port {port} still open after {sig.name}"
