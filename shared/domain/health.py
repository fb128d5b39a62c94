"""What the sweep workers record for the monitor: each camera's health and the inference
service's calls, errors and latencies (per-minute buckets). Pure records, stored as JSON."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace
from typing import Any

# Upper bounds (ms) of the latency histogram's buckets; the last one takes everything slower.
LATENCY_BOUNDS_MS: tuple[float, ...] = (
    50.0,
    100.0,
    250.0,
    500.0,
    1000.0,
    2000.0,
    5000.0,
    10000.0,
    60000.0,
)


@dataclass(frozen=True)
class CameraHealth:
    """A camera's sweeps as last seen (``health:camera:{id}``); times in epoch seconds."""

    failures: int = 0  # consecutive sweeps without a frame
    failing_since: float | None = None  # the first of them
    last_error_kind: str | None = None
    last_error: str | None = None
    last_frame_at: float | None = None
    stale: bool = False  # the last frame was the same as before for too long
    updated_at: float | None = None

    def after_frame(self, now: float, stale: bool) -> CameraHealth:
        """A sweep that gave a frame."""
        return replace(
            self, failures=0, failing_since=None, last_frame_at=now, stale=stale, updated_at=now
        )

    def after_error(self, now: float, kind: str, message: str) -> CameraHealth:
        """A sweep that gave no frame (``kind``: the frame error's)."""
        return replace(
            self,
            failures=self.failures + 1,
            failing_since=self.failing_since if self.failures else now,
            last_error_kind=kind,
            last_error=message[:500],
            stale=False,
            updated_at=now,
        )

    def to_json(self) -> str:
        """As stored."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> CameraHealth:
        """Inverse of :meth:`to_json`; nothing recorded yet is a healthy camera."""
        return cls(**json.loads(text)) if text else cls()


def _bucket(latency_ms: float) -> int:
    last = len(LATENCY_BOUNDS_MS) - 1
    return next((i for i, b in enumerate(LATENCY_BOUNDS_MS) if latency_ms <= b), last)


@dataclass(frozen=True)
class InferenceStats:
    """Calls of the detector in some minutes: count, errors and a latency histogram."""

    calls: int = 0
    errors: int = 0
    buckets: tuple[int, ...] = (0,) * len(LATENCY_BOUNDS_MS)

    def record(self, latency_ms: float, failed: bool) -> InferenceStats:
        """These stats plus one call."""
        counts = list(self.buckets)
        counts[_bucket(latency_ms)] += 1
        return InferenceStats(self.calls + 1, self.errors + int(failed), tuple(counts))

    def merge(self, other: InferenceStats) -> InferenceStats:
        """Both together (minutes of a window)."""
        counts = tuple(a + b for a, b in zip(self.buckets, other.buckets, strict=True))
        return InferenceStats(self.calls + other.calls, self.errors + other.errors, counts)

    @property
    def error_rate(self) -> float:
        """Share of failed calls (0 without calls)."""
        return self.errors / self.calls if self.calls else 0.0

    @property
    def p95_ms(self) -> float:
        """The 95th percentile's bucket upper bound (ms); 0 without calls."""
        if not self.calls:
            return 0.0
        need, seen = math.ceil(0.95 * self.calls), 0
        for bound, count in zip(LATENCY_BOUNDS_MS, self.buckets, strict=True):
            seen += count
            if seen >= need:
                return bound
        return LATENCY_BOUNDS_MS[-1]

    def to_json(self) -> str:
        """As stored (``health:inference:{minute}``)."""
        return json.dumps({"calls": self.calls, "errors": self.errors, "buckets": self.buckets})

    @classmethod
    def from_json(cls, text: str | None) -> InferenceStats:
        """Inverse of :meth:`to_json`; nothing recorded is no calls."""
        if not text:
            return cls()
        data: dict[str, Any] = json.loads(text)
        buckets = tuple(int(c) for c in data["buckets"])
        if len(buckets) != len(LATENCY_BOUNDS_MS):  # the bounds changed: keep the counts only
            buckets = (0,) * (len(LATENCY_BOUNDS_MS) - 1) + (int(data["calls"]),)
        return cls(int(data["calls"]), int(data["errors"]), buckets)
