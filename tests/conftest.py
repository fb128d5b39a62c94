"""Shared fixtures: the real local stack (started once per session) and small factories."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from shared.devstack.stack import LocalStack, start_all
from shared.settings import ASSETS, Settings

IMAGES = ASSETS / "images"
DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """Redis, the BigQuery and Cloud Storage emulators and the camera server, on free ports.

    Their settings are exported to this process's environment for the session.
    """
    local = start_all(tmp_path_factory.mktemp("stack-logs"), function=False)
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
