"""The circuit breaker the remote detectors share: closed, open (fail fast), half-open."""

from __future__ import annotations

import pytest

from shared.detection.breaker import CircuitBreaker
from shared.errors import DependencyUnavailableError


def test_circuit_breaker_opens_fails_fast_and_half_opens() -> None:
    now = [0.0]
    breaker = CircuitBreaker(failures=2, open_s=30, clock=lambda: now[0])
    breaker.record(False)
    breaker.check()  # one failure: still closed
    breaker.record(False)
    with pytest.raises(DependencyUnavailableError, match="circuit open after 2 failures"):
        breaker.check()
    now[0] = 31
    breaker.check()  # half-open: one call may try
    breaker.record(True)
    breaker.check()
