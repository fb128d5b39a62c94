"""Prometheus metrics of one instance (served at ``GET /metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUESTS = Counter(
    "camwatch_requests", "HTTP requests by route and status code.", ["route", "code"]
)
CALLER_REQUESTS = Counter(
    "camwatch_caller_requests",
    "HTTP requests by caller (an API key's or service account's name; anonymous without a "
    "valid credential) and outcome (ok, unauthenticated, forbidden, rate_limited, unavailable, "
    "error).",
    ["caller", "outcome"],
)
STAGE_SECONDS = Histogram(
    "camwatch_stage_seconds",
    "Latency per processing stage (fetch, decode, cache, detect, tracks, violations, warehouse, "
    "cache_store, total).",
    ["stage"],
    buckets=_BUCKETS,
)
CACHE = Counter("camwatch_cache", "Frame cache lookups by result (hit or miss).", ["result"])
FRAME_ERRORS = Counter("camwatch_frame_errors", "Frames that could not be had, by kind.", ["kind"])
STALE_FRAMES = Counter("camwatch_stale_frames", "Frames seen while the camera was stale.")
PREDICTION_CACHE = Counter(
    "camwatch_prediction_cache",
    "Predictions: cached camera forecasts looked up, by result (hit or miss).",
    ["result"],
)
PREDICTION_QUERIES = Counter(
    "camwatch_prediction_queries",
    "Predictions: BigQuery queries made (one per request with cache misses).",
)
# The inference service
PREDICT_SECONDS = Histogram(
    "camwatch_predict_seconds",
    "Prediction requests, queue and run included.",
    ["code"],
    buckets=_BUCKETS,
)
BATCH_SIZE = Histogram(
    "camwatch_batch_size", "Images per model run.", buckets=(1, 2, 4, 8, 16, 32, 64)
)


def observe_stages(latency_ms: dict[str, float]) -> None:
    """Record one request's per-stage latencies."""
    for stage, ms in latency_ms.items():
        STAGE_SECONDS.labels(stage).observe(ms / 1000)
