"""Fixtures shared by the integration tests."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator

import pytest

from tests.integration.scripted_camera import Script, ScriptedCamera


@pytest.fixture
def scripted_cameras() -> Iterator[Callable[..., ScriptedCamera]]:
    """Start scripted cameras (``ScriptedCamera``'s arguments); stop them all after the test."""
    started: list[ScriptedCamera] = []

    def start(
        script: Script, accepting: bool = True, tls: ssl.SSLContext | None = None
    ) -> ScriptedCamera:
        started.append(ScriptedCamera(script, accepting, tls))
        return started[-1]

    yield start
    for camera in started:
        camera.close()
