"""The GPU image stays lean: the inference function, served with the vendored SSD, never loads
Redis, BigQuery or Pub/Sub clients nor the composition root (model tier: it runs the model)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT, clean_env

pytestmark = pytest.mark.model


# Runs in a fresh interpreter (cwd: the repository root): serve the inference function, then
# say which watched modules were loaded, and by which chain of imports (first ask only).
PROBE = r"""
import base64, json, sys, time, traceback
from pathlib import Path

WATCH = json.loads(sys.argv[1])
chains = {}


class Spy:
    def find_spec(self, name, path=None, target=None):
        if name in WATCH and name not in chains:
            frames = [f for f in traceback.extract_stack()[:-1]
                      if not f.filename.startswith("<frozen")]
            chains[name] = [f"{f.filename}:{f.lineno}" for f in frames][-12:]
        return None


sys.meta_path.insert(0, Spy())

import functions_framework
import functions.inference.main  # noqa: F401

client = functions_framework.create_app("inference", "functions/inference/main.py").test_client()
deadline = time.monotonic() + 60
while (health := client.get("/health")).status_code != 200 and time.monotonic() < deadline:
    time.sleep(0.05)
image = sorted(Path("shared/assets/images").glob("*.jpg"))[0]
predict = client.post("/predict", json={"instances": [{"b64": base64.b64encode(
    image.read_bytes()).decode()}]})
served = [name for name in WATCH if name in sys.modules]
served_chains = dict(chains)

import shared.bootstrap  # noqa: F401  (the control: the other functions' composition root)

print("PROBE " + json.dumps({
    "health": [health.status_code, health.get_json()],
    "predict": [predict.status_code, predict.get_json()],
    "served": served,
    "chains": served_chains,
    "after_bootstrap": [name for name in WATCH if name in sys.modules],
}))
"""

HEAVY = [
    "redis",
    "google.cloud.bigquery",
    "google.cloud.pubsub_v1",
    "google.cloud.pubsub",
    "shared.bootstrap",
    "shared.devstack",
]
DETECTOR = "shared.detection.inprocess"


def test_the_inference_service_loads_no_store_client_nor_the_composition_root() -> None:
    run = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps([*HEAVY, DETECTOR])],
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    line = next((x for x in run.stdout.splitlines() if x.startswith("PROBE ")), None)
    assert line is not None, (run.stdout[-2000:], run.stderr[-4000:])
    probe = json.loads(line.removeprefix("PROBE "))

    assert probe["health"][0] == 200, probe["health"]
    status, body = probe["predict"]
    assert status == 200, body
    (prediction,) = body["predictions"]
    assert prediction["detections"]
    assert prediction["model"]["name"].startswith("ssd")
    # Not vacuous: the detector itself was loaded and seen, and so is the heavy stack once the
    # composition root is imported (the names watched are the ones that load).
    assert DETECTOR in probe["served"]
    assert {"redis", "google.cloud.bigquery", "google.cloud.pubsub_v1", "shared.bootstrap"} <= set(
        probe["after_bootstrap"]
    ), probe["after_bootstrap"]
    leaked = {name: probe["chains"].get(name) for name in HEAVY if name in probe["served"]}
    assert not leaked, json.dumps(leaked, indent=1)
