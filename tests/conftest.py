"""Shared fixtures: the real local stack (started once per session) and small factories.

Also the one door to the project's materials (``materials``): the models that ``../shared``
holds beside the repository and the repository does not vendor.
"""

from __future__ import annotations

import base64
import copy
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from shared.devstack.stack import LocalStack
from shared.devstack.start import start_all
from shared.settings import ASSETS, Settings

IMAGES = ASSETS / "images"
ROOT = Path(__file__).parents[1]
DATA = ROOT / "tests" / "data"
# The project's read-only materials (../shared beside the repository; CI has them). Read once,
# at import: the unit tier's autouse fixture clears every CAMWATCH_* variable for each test.
MATERIALS = Path(os.environ.get("CAMWATCH_MATERIALS") or ROOT.parent / "shared")

# The stack's functions: the demo's subscribers (enforcement, ops-chat in Slack's format,
# ops-email: shared.devstack.demo_alerts), camera.offline after 2 sweeps, no cooldown.
TEST_SETTINGS = {"CAMWATCH_MONITOR_OFFLINE_SWEEPS": "2", "CAMWATCH_ALERT_COOLDOWN_S": "0"}
# Benchmarks are modules run by `make bench` (python -m tests.bench.bench_x), not tests.
collect_ignore = ["bench"]


def clean_env() -> dict[str, str]:
    """This environment less what would steer the code (settings, emulators, routes, paths):
    for a subprocess that must see the defaults."""
    drop = ("CAMWATCH_", "PUBSUB_EMULATOR", "STORAGE_EMULATOR", "AIP_", "PYTHONPATH")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


def materials(name: str) -> Path:
    """The path of ``models/<name>`` in the project's materials, or skip the test saying why.

    Tests that call it carry ``@pytest.mark.materials``. ``CAMWATCH_MATERIALS`` points at
    another copy of the folder (or at none, to see what a newcomer without it sees).
    """
    path = MATERIALS / "models" / name
    if not path.is_file():
        pytest.skip(
            f"needs ../shared/models/{name} (the project's materials, not vendored: "
            f"{path} is absent; CAMWATCH_MATERIALS names the folder)"
        )
    return path


def canned(name: str) -> dict[str, Any]:
    """A canned payload of ``tests/data``: a CloudEvent or an HTTP request, as JSON."""
    loaded: dict[str, Any] = json.loads((DATA / name).read_text())
    return loaded


def with_payload(event: dict[str, Any], **change: Any) -> dict[str, Any]:
    """A copy of a Pub/Sub CloudEvent whose message payload has ``change`` merged in."""
    event = copy.deepcopy(event)
    message = event["data"]["message"]
    payload = {**json.loads(base64.b64decode(message["data"])), **change}
    message["data"] = base64.b64encode(json.dumps(payload).encode()).decode()
    return event


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """Redis, the BigQuery and Cloud Storage emulators and the camera server, on free ports.

    Their settings are exported to this process's environment for the session.
    """
    local = start_all(
        tmp_path_factory.mktemp("stack-logs"),
        function=False,
        settings=TEST_SETTINGS,
        demo_subscribers=True,
    )
    saved = {k: os.environ.get(k) for k in local.env}
    os.environ.update(local.env)
    try:
        yield local
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        local.stop()


@pytest.fixture(scope="session")
def event_stack(local_stack: LocalStack) -> LocalStack:
    """The local stack plus the CloudEvent functions behind Pub/Sub push subscriptions.

    They detect through the inference service (``CAMWATCH_DETECTOR_BACKEND=service``), while
    the process_camera tests detect in process: the end-to-end tests cover both backends.
    """
    local_stack.start_inference()
    local_stack.start_event_functions()
    return local_stack


@pytest.fixture
def stack_settings(local_stack: LocalStack) -> Settings:
    """Settings pointing at the running local stack."""
    return Settings()


def jpeg(name: str) -> bytes:
    """Bytes of a vendored street image."""
    return (IMAGES / name).read_bytes()


def image(name: str) -> np.ndarray:
    """A vendored street image, decoded (BGR)."""
    decoded = cv2.imread(str(IMAGES / name))
    assert decoded is not None
    return decoded
