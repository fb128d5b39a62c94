"""A circuit breaker for the remote detectors: after ``failures`` calls in a row fail, calls
fail fast for ``open_s``, then one call tries again (half-open)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from shared.errors import DependencyUnavailableError


class CircuitBreaker:
    """Opens after ``failures`` failures in a row; half-opens (one try) after ``open_s``."""

    def __init__(self, failures: int, open_s: float, clock: Callable[[], float] = time.monotonic):
        self._limit, self._open_s, self._clock = failures, open_s, clock
        self._failures = 0
        self._opened_at: float | None = None
        self._lock = threading.Lock()

    def check(self) -> None:
        """Raise :class:`DependencyUnavailableError` while open."""
        with self._lock:
            if self._opened_at is None:
                return
            left = self._open_s - (self._clock() - self._opened_at)
            if left > 0:
                raise DependencyUnavailableError(
                    "inference",
                    f"circuit open after {self._failures} failures; retry in {left:.0f} s",
                )
            self._opened_at = None  # half-open: let this call try

    def record(self, ok: bool) -> None:
        """Count a call's outcome."""
        with self._lock:
            if ok:
                self._failures, self._opened_at = 0, None
                return
            self._failures += 1
            if self._failures >= self._limit:
                self._opened_at = self._clock()
