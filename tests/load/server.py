"""The stack under load: ``process_camera`` served as deployed, and the event functions the
redelivery storms push to.

As deployed: functions-framework's gunicorn with one worker and as many threads as Cloud Run
sends one instance requests at once (``var.functions.concurrency`` in terraform/variables.tf;
terraform/main.tf gives each service ``THREADS`` from it). The cameras are a registry of their
own (no zones: detection and the row, no violation stage), so nothing here touches the demo's.
"""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from shared.devstack.credentials import KEY_VARIABLE
from shared.devstack.procs import free_port
from shared.devstack.stack import PROJECT, ROOT, LocalStack
from shared.devstack.start import start_all
from shared.devstack.tools import http_ok
from shared.devstack.topology import create_topology
from shared.domain.callers import key_entry, new_key
from shared.messages.topology import ROUTES
from shared.settings import ASSETS, Settings

TERRAFORM_VARIABLES = ROOT / "terraform" / "variables.tf"
EVENT_FUNCTIONS = ("camera_worker", "alert_dispatcher", "alert_delivery")
CLOSED = "http://127.0.0.1:9"  # the push endpoint of routes no storm uses: nothing listens
LIMITED_CALLER, LIMITED_PER_MINUTE = "load-limited", 60  # a bucket of 10, then 1 a second
STORM_CAMERA = "load-storm-0"
# Every alert fires (TEST_SETTINGS do the same): only the alert's own id may stop a duplicate.
SETTINGS = {"CAMWATCH_ALERT_COOLDOWN_S": "0"}


def cloud_run_concurrency(path: Path = TERRAFORM_VARIABLES) -> int:
    """The default of ``var.functions.concurrency``: requests one instance takes at once."""
    block = re.search(r'variable\s+"functions"\s*\{(.*?)\n\}', path.read_text(), re.S)
    found = block and re.search(r"concurrency\s*=\s*optional\(number,\s*(\d+)\)", block[1])
    if not found:
        raise RuntimeError(f"no default for functions.concurrency in {path}")
    return int(found[1])


@dataclass(frozen=True)
class Cameras:
    """The load's registry: warmed snapshot cameras (hits), one clip camera per miss (the
    first frame of a clip path a camera has never seen: a miss), and the storms' camera."""

    hits: list[str]
    misses: list[str]
    storm: str = STORM_CAMERA


def write_registry(path: Path, misses: int) -> Cameras:
    """Write the registry YAML; return the cameras by role."""
    demo = yaml.safe_load((ASSETS / "cameras.yaml").read_text())["cameras"]
    snapshots = [c for c in demo if "/snapshot/" in c["source"]]

    def camera(cid: str, source: str, like: dict[str, object]) -> dict[str, object]:
        return {"id": cid, "name": f"load camera {cid}", "source": source, **_place(like)}

    hits = {f"load-hit-{i:02d}": c for i, c in enumerate(snapshots)}
    miss_ids = [f"load-miss-{i:04d}" for i in range(misses)]
    clip = "${CAMWATCH_DEMO_CAMERA_URL}/clip/"
    cameras = [camera(cid, str(c["source"]), c) for cid, c in hits.items()]
    cameras += [camera(cid, f"{clip}{cid}.jpg", snapshots[0]) for cid in miss_ids]
    cameras.append(camera(STORM_CAMERA, str(snapshots[0]["source"]), snapshots[0]))
    path.write_text(yaml.safe_dump({"cameras": cameras}))
    return Cameras(list(hits), miss_ids)


def _place(camera: dict[str, object]) -> dict[str, object]:
    return {k: camera[k] for k in ("location", "timezone") if k in camera}


@dataclass
class LoadStack:
    """The running stack, the two API keys and the process_camera server's process."""

    local: LocalStack
    url: str
    key: str  # the stack's own: 100,000 a minute
    limited_key: str  # LIMITED_PER_MINUTE
    threads: int
    server_pid: int

    @property
    def log_dir(self) -> Path:
        return self.local.stack.log_dir

    def stop(self) -> None:
        self.local.stop()


def start(log_dir: Path, registry: Path, threads: int) -> LoadStack:
    """Start the stack (stopping what started if anything fails)."""
    local = start_all(
        log_dir,
        function=False,
        settings={**SETTINGS, "CAMWATCH_REGISTRY_PATH": str(registry)},
        demo_subscribers=True,
    )
    try:
        served = {"WORKERS": "1", "THREADS": str(threads)}
        urls = {f: local.start_function(f, "cloudevent", served) for f in EVENT_FUNCTIONS}
        every = {r.function: urls.get(r.function, CLOSED) for r in ROUTES}
        create_topology(PROJECT, local.env["PUBSUB_EMULATOR_HOST"], every)
        local.event_urls = urls
        limited = new_key()
        keys = json.loads(local.env["CAMWATCH_API_KEYS"])
        keys["keys"].append(key_entry(LIMITED_CALLER, limited, ["process"], LIMITED_PER_MINUTE))
        env = {**served, "CAMWATCH_API_KEYS": json.dumps(keys)}
        port = free_port()
        health = f"http://127.0.0.1:{port}/health"
        url = local.start_function("process_camera", "http", env, port, lambda: http_ok(health))
        name, proc = local.stack.procs[-1]
        assert name == "process_camera", name
        return LoadStack(local, url, local.env[KEY_VARIABLE], limited, threads, proc.pid)
    except BaseException:
        local.stop()
        raise


def group_pids(pgid: int) -> list[int]:
    """The processes of a process group (gunicorn's master and its worker), from /proc."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # after the name: state, ppid, pgrp
            pids.append(int(stat.parent.name))
    return pids


def _status_kib(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass
class RssWatch:
    """The server's resident memory: the group's summed VmRSS sampled every 100 ms (its peak),
    and each process's own high-water mark (VmHWM) at the end."""

    pgid: int
    peak_kib: int = 0
    start_kib: int = 0  # before the load
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> RssWatch:
        self.start_kib = self.peak_kib = self.rss_kib()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            self.peak_kib = max(self.peak_kib, self.rss_kib())

    def rss_kib(self) -> int:
        """The group's VmRSS now, summed."""
        return sum(_status_kib(p, "VmRSS") for p in group_pids(self.pgid))

    def high_water_kib(self) -> dict[int, int]:
        """VmHWM of each process of the group, by pid."""
        return {p: _status_kib(p, "VmHWM") for p in group_pids(self.pgid)}


def raise_fd_limit() -> tuple[int, int]:
    """The soft RLIMIT_NOFILE raised to the hard one (children inherit it); both returned."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def bigquery_dataset() -> str:
    """The dataset the functions write to (the settings' default unless overridden)."""
    default = str(Settings.model_fields["bigquery_dataset"].default)
    return os.environ.get("CAMWATCH_BIGQUERY_DATASET", default)
