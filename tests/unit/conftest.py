"""Unit tests see the default settings, whatever the environment (or an earlier local stack
fixture of the same pytest session) exported."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from shared.settings import get_settings
from tests.unit.fakes import TEST_KEY, TEST_KEYS

EMULATORS = ("PUBSUB_EMULATOR_HOST", "STORAGE_EMULATOR_HOST")


@pytest.fixture(autouse=True)
def default_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("CAMWATCH_") or name in EMULATORS:
            monkeypatch.delenv(name)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """``CAMWATCH_API_KEYS`` holds :data:`TEST_KEY` (every scope); returns the key."""
    monkeypatch.setenv("CAMWATCH_API_KEYS", TEST_KEYS)
    get_settings.cache_clear()
    return TEST_KEY
